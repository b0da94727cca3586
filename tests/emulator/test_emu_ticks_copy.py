"""``copy_ticks_from`` / ``copy_ticks_range`` and ``symbol_info_tick`` in tick replay, on real
EURUSD/GBPUSD ticks: never a future tick, COPY_TICKS_* flags, the MT5 error model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trademaestro.brokers.emulator import MT5Emulator
from trademaestro.core.bars import TICKS_DTYPE

from .conftest import make_tick_emu

END = 2**31 - 1
ALL, INFO, TRADE = -1, 1, 2


def same_second_pair(ticks: np.ndarray, after: int) -> int:
    """The first k >= ``after`` whose next tick has the same ``time`` (second)."""
    return after + int(np.argmax(np.diff(ticks["time"][after:]) == 0))


def test_copy_ticks_never_returns_future_ticks(eurusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("EURUSD", eurusd_ticks)
    k = same_second_pair(eurusd_ticks, 5000)
    assert eurusd_ticks["time"][k + 1] == eurusd_ticks["time"][k]
    assert eurusd_ticks["time_msc"][k + 1] > eurusd_ticks["time_msc"][k]
    emu.replay.tick("EURUSD", k)
    got = emu.copy_ticks_range("EURUSD", 0, END, ALL)
    assert got.dtype == TICKS_DTYPE and np.array_equal(got, eurusd_ticks[:k + 1])
    now = int(eurusd_ticks["time"][k])
    # the same-second tick k + 1 is in the future: not served, even for date_to = now
    assert np.array_equal(emu.copy_ticks_range("EURUSD", now, now, ALL),
                          eurusd_ticks[:k + 1][eurusd_ticks["time"][:k + 1] == now])
    assert len(emu.copy_ticks_from("EURUSD", now, 100, ALL)) == int(
        (eurusd_ticks["time"][:k + 1] == now).sum())
    assert emu.copy_ticks_from("EURUSD", now + 1, 100, ALL).size == 0
    assert emu.copy_ticks_from("EURUSD", now + 1, 100, ALL).dtype == TICKS_DTYPE
    emu.replay.tick("EURUSD", k + 1)
    assert len(emu.copy_ticks_range("EURUSD", 0, END, ALL)) == k + 2


def test_copy_ticks_from_counts_forward_from_the_date(gbpusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("GBPUSD", gbpusd_ticks)
    k = 30_000
    emu.replay.tick("GBPUSD", k)
    start = int(gbpusd_ticks["time"][k]) - 60
    rows = [i for i in range(k + 1) if gbpusd_ticks["time"][i] >= start]
    aware = dt.datetime.fromtimestamp(start, tz=dt.UTC)
    got = emu.copy_ticks_from("GBPUSD", aware, 7, ALL)
    assert np.array_equal(got, gbpusd_ticks[rows[:7]])
    assert np.array_equal(emu.copy_ticks_from("GBPUSD", start + 0.9, 10**6, ALL),
                          gbpusd_ticks[rows])
    ranged = emu.copy_ticks_range("GBPUSD", start, start + 30, ALL)
    assert np.array_equal(ranged, gbpusd_ticks[[i for i in rows
                                                if gbpusd_ticks["time"][i] <= start + 30]])
    assert emu.copy_ticks_range("GBPUSD", start, start - 1, ALL).size == 0
    got["bid"][0] = 9.0  # a copy: the replay is unchanged
    assert emu.copy_ticks_from("GBPUSD", aware, 1, ALL)["bid"][0] == gbpusd_ticks["bid"][rows[0]]


def test_copy_ticks_flags(eurusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("EURUSD", eurusd_ticks)
    k = 20_000
    emu.replay.tick("EURUSD", k)
    seen = eurusd_ticks[:k + 1]
    changed = seen[(seen["flags"] & 6) != 0]  # bid and/or ask changed
    assert 0 < len(changed) < len(seen)  # the file has volume-only ticks (flags 0)
    assert np.array_equal(emu.copy_ticks_range("EURUSD", 0, END, INFO), changed)
    assert np.array_equal(emu.copy_ticks_from("EURUSD", 0, 10**6, INFO), changed)
    assert np.array_equal(emu.copy_ticks_from("EURUSD", 0, 5, INFO), changed[:5])
    assert np.array_equal(emu.copy_ticks_range("EURUSD", 0, END, INFO | TRADE), changed)
    trade = emu.copy_ticks_range("EURUSD", 0, END, TRADE)  # no last/volume changes on FX
    assert trade.size == 0 and trade.dtype == TICKS_DTYPE
    assert emu.copy_ticks_range("EURUSD", 0, END, 0) is None
    assert emu.last_error() == (-2, "Terminal: Invalid params")


def test_copy_ticks_error_model(eurusd_ticks: np.ndarray) -> None:
    emu = MT5Emulator()
    emu.replay.load_ticks("EURUSD", 1, eurusd_ticks)
    assert emu.copy_ticks_from("EURUSD", 0, 1, ALL) is None
    assert emu.last_error() == (-10004, "No IPC connection")
    assert emu.initialize() is True
    assert emu.copy_ticks_from("EURUSD", 0, 1, ALL) is None  # clock not started
    assert emu.last_error() == (-1, "Terminal: Call failed")
    emu.replay.tick("EURUSD", 10)
    assert len(emu.copy_ticks_from("EURUSD", 0, 100, ALL)) == 11
    assert emu.last_error() == (1, "Success")
    assert emu.copy_ticks_from("EURUSD", 0, 0, ALL) is None
    assert emu.last_error() == (-2, "Terminal: Invalid params")
    assert emu.copy_ticks_from("XAUUSD", 0, 1, ALL) is None  # no ticks loaded
    assert emu.last_error() == (-1, "Terminal: Call failed")
    assert emu.copy_ticks_range("NOPE", 0, 1, ALL) is None
    assert emu.last_error() == (-1, "Terminal: Call failed")
    assert emu.copy_ticks_range(5, 0, 1, ALL) is None
    assert emu.last_error() == (-2, "Invalid arguments")
    assert emu.copy_ticks_from("EURUSD", "2010-01-01", 1, ALL) is None
    assert emu.last_error() == (-2, "Invalid arguments")
    with pytest.raises(TypeError, match=r"copy_ticks_from\(\) takes no keyword arguments"):
        emu.copy_ticks_from("EURUSD", 0, 1, flags=ALL)
    with pytest.raises(TypeError, match="exactly 4 arguments"):
        emu.copy_ticks_range("EURUSD", 0, 1)
    with pytest.raises(TypeError):
        emu.copy_ticks_from("EURUSD", 0, 1.0, ALL)
    with pytest.raises(SystemError):
        emu.copy_ticks_range("EURUSD", 0, 2**31, ALL)


def test_symbol_info_tick_is_the_replayed_tick(eurusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("EURUSD", eurusd_ticks)
    quiet = int(np.flatnonzero(eurusd_ticks["flags"] == 0)[0])
    bid_only = int(np.flatnonzero(eurusd_ticks["flags"] == 2)[0])
    for k in (0, quiet, bid_only, len(eurusd_ticks) - 1):
        emu.replay.tick("EURUSD", k)
        row = eurusd_ticks[k]
        tick = emu.symbol_info_tick("EURUSD")
        assert tuple(tick) == (int(row["time"]), row["bid"], row["ask"], 0.0, 0,
                               int(row["time_msc"]), int(row["flags"]), 0.0)
        assert emu.replay.now == row["time"]
    assert tuple(emu.symbol_info_tick("EURUSD")) == (
        1262390396, 1.43352, 1.43364, 0.0, 0, 1262390396060, 2, 0.0)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(min_value=0, max_value=57_333), back=st.integers(0, 4000))
def test_copy_ticks_property_no_future(k: int, back: int, gbpusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("GBPUSD", gbpusd_ticks)
    emu.replay.tick("GBPUSD", k)
    now_msc = int(gbpusd_ticks["time_msc"][k])
    date = int(gbpusd_ticks["time"][k]) - back
    for got in (emu.copy_ticks_range("GBPUSD", date, END, ALL),
                emu.copy_ticks_from("GBPUSD", date, 10**6, ALL),
                emu.copy_ticks_from("GBPUSD", date, 10**6, INFO)):
        assert got.size == 0 or (int(got["time_msc"].max()) <= now_msc
                                 and int(got["time"].min()) >= date)
    everything = emu.copy_ticks_range("GBPUSD", date, END, ALL)
    assert everything[-1]["time_msc"] == now_msc
    assert len(everything) == k + 1 - int(np.searchsorted(gbpusd_ticks["time"], date))
