"""Fixtures of the adapter tests: real bars (``trademaestro.data.load_bars``) replayed by the
emulator, an :class:`MT5Adapter` over it, and a proxy recording every request the adapter sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import load_bars
from trademaestro.data.loaders import LoadedBars as Bars


@pytest.fixture(scope="session")
def xau_bars(shared_data: Path) -> Bars:
    """The real XAUUSD M15 bars (47,165 rows, spread column in points)."""
    return load_bars(shared_data / "XAUUSD_M15.csv")


@pytest.fixture(scope="session")
def usdjpy_bars(shared_data: Path) -> Bars:
    """The real USDJPY M15 bars (no spread column: the symbol's 10 points are used)."""
    return load_bars(shared_data / "USDJPY_M15.csv")


class RecordingMT5:
    """A MetaTrader5-like module: the emulator, with every ``order_send`` request recorded."""

    def __init__(self, emu: MT5Emulator) -> None:
        self.emu = emu
        self.requests: list[dict[str, Any]] = []

    def order_send(self, request: dict[str, Any]) -> Any:
        self.requests.append(dict(request))
        return self.emu.order_send(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.emu, name)


def make_adapter(bars: Bars, symbol: str = "XAUUSD", **config: Any) -> tuple[MT5Adapter,
                                                                              RecordingMT5]:
    """A connected adapter over a recording emulator replaying ``bars`` as ``symbol`` M15."""
    emu = MT5Emulator(EmulatorConfig(**config))
    emu.replay.load_rates(symbol, Timeframe.M15, bars.rates, has_spread=bars.has_spread)
    mt5 = RecordingMT5(emu)
    adapter = MT5Adapter(mt5)
    adapter.connect()
    return adapter, mt5
