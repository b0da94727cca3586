"""Fixtures of the strategy tests: real XAUUSD M15 bars read straight from the shared CSV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import talib
from numpy.typing import NDArray

from trademaestro.indicators.keys import SeriesKey

XAU_POINT = 0.01


@dataclass(frozen=True)
class Bars:
    """Columns of XAUUSD_M15.csv (bid prices, broker server time)."""

    time: NDArray[np.str_]
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.float64]
    spread: NDArray[np.float64]


def read_xau_m15(data: Path) -> Bars:
    """Read XAUUSD_M15.csv with numpy (the data loaders are tested elsewhere)."""
    raw = np.genfromtxt(data / "XAUUSD_M15.csv", delimiter=",", names=True, dtype=None,
                        encoding="utf-8")
    return Bars(
        time=raw["DateTime"].astype(str),
        open=raw["Open"].astype(np.float64),
        high=raw["High"].astype(np.float64),
        low=raw["Low"].astype(np.float64),
        close=raw["Close"].astype(np.float64),
        volume=raw["TickVolume"].astype(np.float64),
        spread=raw["Spread"].astype(np.float64),
    )


@pytest.fixture(scope="session")
def xau(shared_data: Path) -> Bars:
    """All 47,165 XAUUSD M15 bars."""
    return read_xau_m15(shared_data)


@pytest.fixture(scope="session")
def xau_series(xau: Bars) -> dict[SeriesKey, NDArray[np.float64]]:
    """Series of the real bars keyed like the engine keys them (indicators from TA-Lib)."""
    c = xau.close
    macd, signal, _hist = talib.MACD(c, 12, 26, 9)
    upper, _middle, lower = talib.BBANDS(c, 20, 2.0, 2.0)
    return {
        SeriesKey("close"): c,
        SeriesKey("open"): xau.open,
        SeriesKey("high"): xau.high,
        SeriesKey("low"): xau.low,
        SeriesKey("spread"): xau.spread,
        SeriesKey("ema", (9,)): talib.EMA(c, 9),
        SeriesKey("ema", (21,)): talib.EMA(c, 21),
        SeriesKey("ema", (200,)): talib.EMA(c, 200),
        SeriesKey("rsi", (14,)): talib.RSI(c, 14),
        SeriesKey("macd", (12, 26, 9), "line"): macd,
        SeriesKey("macd", (12, 26, 9), "signal"): signal,
        SeriesKey("bbands", (20, 2.0), "upper"): upper,
        SeriesKey("bbands", (20, 2.0), "lower"): lower,
    }
