"""The live feed on the real XAUUSD M15 bars: exactly the bars that closed, once each, in order;
a gap after missed polls caught up in one call; bars out of order refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.core.errors import DataError
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import load_bars
from trademaestro.runtime.livefeed import LiveBarFeed

M15 = Timeframe.M15


@pytest.fixture(scope="module")
def xau(shared_data: Path) -> np.ndarray:
    return load_bars(shared_data / "XAUUSD_M15.csv").rates[:600]


@pytest.fixture
def terminal(xau: np.ndarray) -> tuple[MT5Emulator, MT5Adapter]:
    emu = MT5Emulator(EmulatorConfig())
    emu.replay.load_rates("XAUUSD", M15, xau, has_spread=True)
    adapter = MT5Adapter(emu)
    adapter.connect()
    return emu, adapter


def _step(emu: MT5Emulator, j: int) -> None:
    """Bar j-1 plays out and bar j opens (what the market clock does)."""
    emu.replay.run_bar("XAUUSD", j - 1)
    emu.replay.open_bar("XAUUSD", j)


def test_each_closed_bar_once_in_order(terminal: tuple[MT5Emulator, MT5Adapter],
                                       xau: np.ndarray) -> None:
    emu, adapter = terminal
    emu.replay.open_bar("XAUUSD", 300)  # bars 0..299 closed, 300 forming
    feed = LiveBarFeed(adapter, {("XAUUSD", M15): int(xau["time"][299])})
    assert feed.poll() == []  # nothing closed since the warm-up
    for j in range(301, 320):
        _step(emu, j)
        found = feed.poll()
        assert len(found) == 1 and found[0].missed == 0
        bar = found[0].bars
        assert len(bar) == 1 and int(bar["time"][0]) == int(xau["time"][j - 1])
        for field in ("open", "high", "low", "close", "tick_volume", "spread"):
            assert bar[field][0] == pytest.approx(xau[field][j - 1], abs=1e-9)
        assert feed.poll() == []  # polled again before the next bar: nothing new
    assert feed.report() == {"polls": 1 + 19 * 2, "bars": 19, "caught_up": 0}


def test_missed_polls_are_caught_up_in_one_call(terminal: tuple[MT5Emulator, MT5Adapter],
                                                xau: np.ndarray) -> None:
    emu, adapter = terminal
    emu.replay.open_bar("XAUUSD", 300)
    feed = LiveBarFeed(adapter, {("XAUUSD", M15): int(xau["time"][299])})
    for j in range(301, 308):  # seven bars close while nobody polls
        _step(emu, j)
    (found,) = feed.poll()
    assert found.bars["time"].tolist() == xau["time"][300:307].tolist()
    assert found.missed == 6
    assert feed.last_times[("XAUUSD", M15)] == int(xau["time"][306])
    assert feed.report()["caught_up"] == 6


class _Shuffled:
    """A terminal answering bars out of order."""

    def __init__(self, rates: np.ndarray) -> None:
        self.rates = rates

    def closed_bars(self, symbol: str, timeframe: Timeframe, count: int) -> np.ndarray:
        return self.rates[[2, 1, 0]] if count > 2 else self.rates[[1, 2]]


def test_bars_out_of_order_are_refused(xau: np.ndarray) -> None:
    feed = LiveBarFeed(_Shuffled(xau[:3]), {("XAUUSD", M15): int(xau["time"][0]) - 10_000})  # type: ignore[arg-type]
    with pytest.raises(DataError, match="out of order"):
        feed.poll()


class _Moving:
    """The terminal moves on by ``jump`` bars just before the gap is fetched (a fast market and
    a slow poll: more bars close between the feed's two calls)."""

    def __init__(self, emu: MT5Emulator, adapter: MT5Adapter, at: int, jump: int) -> None:
        self.emu, self.adapter, self.at, self.jump = emu, adapter, at, jump
        self.calls = 0

    def closed_bars(self, symbol: str, timeframe: Timeframe, count: int) -> np.ndarray:
        self.calls += 1
        if self.calls == 2:
            for j in range(self.at + 1, self.at + 1 + self.jump):
                _step(self.emu, j)
        return self.adapter.closed_bars(symbol, timeframe, count)


def test_bars_closing_while_the_gap_is_fetched_are_not_lost(
    terminal: tuple[MT5Emulator, MT5Adapter], xau: np.ndarray
) -> None:
    emu, adapter = terminal
    emu.replay.open_bar("XAUUSD", 300)
    for j in range(301, 306):  # bars 300..304 closed, unseen
        _step(emu, j)
    moving = _Moving(emu, adapter, at=305, jump=4)  # 305..308 close before the second call
    feed = LiveBarFeed(moving, {("XAUUSD", M15): int(xau["time"][299])})  # type: ignore[arg-type]
    (found,) = feed.poll()
    assert found.bars["time"].tolist() == xau["time"][300:309].tolist()
    assert found.missed == 8
