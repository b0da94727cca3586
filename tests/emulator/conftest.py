"""Fixtures of the emulator tests: real XAUUSD M15 bars, real EURUSD/GBPUSD ticks, and connected
emulators."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator
from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import load_bars, load_ticks


def read_mt5_csv(path: Path) -> np.ndarray:
    """Read an MT5 export ``DateTime,Open,High,Low,Close,TickVolume,Spread`` (server time,
    ``YYYY.MM.DD HH:MM:SS``) into RATES_DTYPE; time = server wall clock as epoch seconds."""
    rows = []
    with path.open(newline="") as fh:
        for rec in csv.DictReader(fh):
            when = dt.datetime.strptime(rec["DateTime"], "%Y.%m.%d %H:%M:%S")
            rows.append((int(when.replace(tzinfo=dt.UTC).timestamp()), float(rec["Open"]),
                         float(rec["High"]), float(rec["Low"]), float(rec["Close"]),
                         int(rec["TickVolume"]), int(rec["Spread"]), 0))
    return np.array(rows, dtype=RATES_DTYPE)


def read_plain_csv(path: Path) -> np.ndarray:
    """Read ``time,open,high,low,close,volume`` (``YYYY-MM-DD HH:MM:SS``, no spread)."""
    rows = []
    with path.open(newline="") as fh:
        for rec in csv.DictReader(fh):
            when = dt.datetime.strptime(rec["time"], "%Y-%m-%d %H:%M:%S")
            rows.append((int(when.replace(tzinfo=dt.UTC).timestamp()), float(rec["open"]),
                         float(rec["high"]), float(rec["low"]), float(rec["close"]),
                         int(rec["volume"]), 0, 0))
    return np.array(rows, dtype=RATES_DTYPE)


@pytest.fixture(scope="session")
def xau_m15(shared_data: Path) -> np.ndarray:
    """The real XAUUSD M15 bars (47,165 rows; spread column in points)."""
    return read_mt5_csv(shared_data / "XAUUSD_M15.csv")


@pytest.fixture(scope="session")
def xau_bars(shared_data: Path) -> np.ndarray:
    """The real XAUUSD M15 bars read by the project's loader (``trademaestro.data.load_bars``)."""
    return load_bars(shared_data / "XAUUSD_M15.csv").rates


@pytest.fixture(scope="session")
def usdjpy_m15(shared_data: Path) -> np.ndarray:
    """The real USDJPY M15 bars (no spread column)."""
    return read_plain_csv(shared_data / "USDJPY_M15.csv")


def make_emu(rates: np.ndarray, **config: object) -> MT5Emulator:
    """A connected emulator replaying ``rates`` as XAUUSD M15."""
    emu = MT5Emulator(EmulatorConfig(**config))  # type: ignore[arg-type]
    emu.replay.load_rates("XAUUSD", Timeframe.M15, rates)
    assert emu.initialize() is True
    return emu


@pytest.fixture()
def emu(xau_m15: np.ndarray) -> MT5Emulator:
    """A connected emulator on real XAUUSD M15 bars, clock not started."""
    return make_emu(xau_m15)


@pytest.fixture(scope="session")
def eurusd_ticks(shared_data: Path) -> np.ndarray:
    """The real EURUSD Dukascopy ticks of 2010-01-01 (28,432 ticks, server time)."""
    return load_ticks(shared_data / "EURUSD_ticks_2010-01-01.csv").ticks


@pytest.fixture(scope="session")
def gbpusd_ticks(shared_data: Path) -> np.ndarray:
    """The real GBPUSD Dukascopy ticks of 2010-01-01 (57,334 ticks, server time)."""
    return load_ticks(shared_data / "GBPUSD_ticks_2010-01-01.csv").ticks


def make_tick_emu(symbol: str, ticks: np.ndarray, timeframe: int = Timeframe.M1,
                  **config: object) -> MT5Emulator:
    """A connected emulator replaying ``ticks`` of ``symbol`` (bars of ``timeframe``)."""
    emu = MT5Emulator(EmulatorConfig(**config))  # type: ignore[arg-type]
    emu.replay.load_ticks(symbol, timeframe, ticks)
    assert emu.initialize() is True
    return emu
