"""Tick replay: bars built from real EURUSD/GBPUSD ticks, the forming bar seen mid-bar, load
validation; and the ask-rounding regression of bar replay (real XAUUSD bars)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator
from trademaestro.core.bars import RATES_DTYPE, TICKS_DTYPE
from trademaestro.core.errors import ConfigError
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import load_bars

from .conftest import make_tick_emu

DAY = 1262304000  # 2010-01-01 00:00 server time
POINT = 1e-5


def python_bars(ticks: np.ndarray, seconds: int) -> list[tuple[object, ...]]:
    """Bars of ``seconds`` from the ticks' bid, computed tick by tick in plain Python."""
    out: dict[int, list[Any]] = {}
    for t, bid, ask in zip(ticks["time"].tolist(), ticks["bid"].tolist(),
                           ticks["ask"].tolist(), strict=True):
        key = t - t % seconds
        spread = round((ask - bid) / POINT)
        row = out.get(key)
        if row is None:
            out[key] = [key, bid, bid, bid, bid, 1, spread, 0]
        else:
            row[2] = max(row[2], bid)
            row[3] = min(row[3], bid)
            row[4] = bid
            row[5] += 1
            row[6] = min(row[6], spread)
    return [tuple(r) for r in out.values()]


# first and last bar of each file, read off the raw files (awk over the minute's lines)
EXPECTED = {
    ("EURUSD", 1): ((DAY, 1.43144, 1.43175, 1.43114, 1.43118, 27, 4, 0),
                    (DAY + 86340, 1.43336, 1.43352, 1.43336, 1.43352, 24, 4, 0)),
    ("EURUSD", 5): ((DAY, 1.43144, 1.43175, 1.43104, 1.43117, 98, 4, 0),
                    (DAY + 86100, 1.4333, 1.43352, 1.43327, 1.43352, 105, 4, 0)),
    ("GBPUSD", 1): ((DAY, 1.616, 1.61605, 1.616, 1.61605, 4, 25, 0),
                    (DAY + 86340, 1.61665, 1.6167, 1.61665, 1.61667, 8, 20, 0)),
    ("GBPUSD", 5): ((DAY, 1.616, 1.61605, 1.6146, 1.6148, 67, 15, 0),
                    (DAY + 86100, 1.61667, 1.6167, 1.61662, 1.61667, 34, 20, 0)),
}


@pytest.mark.parametrize(("symbol", "minutes"), list(EXPECTED))
def test_bars_built_from_real_ticks(symbol: str, minutes: int, eurusd_ticks: np.ndarray,
                                    gbpusd_ticks: np.ndarray) -> None:
    ticks = eurusd_ticks if symbol == "EURUSD" else gbpusd_ticks
    emu = make_tick_emu(symbol, ticks, minutes)
    bars = emu.replay.tick_bars(symbol)
    assert bars.dtype == RATES_DTYPE and not bars.flags.writeable
    first, last = EXPECTED[(symbol, minutes)]
    assert bars[0].tolist() == first
    assert bars[-1].tolist() == last
    assert [b.tolist() for b in bars] == python_bars(ticks, minutes * 60)
    assert int(bars["tick_volume"].sum()) == len(ticks)
    index = emu.replay.tick_bar_index(symbol)
    assert index.shape == (len(ticks),) and not index.flags.writeable
    opened = bars["time"][index]
    assert bool(((opened <= ticks["time"]) & (ticks["time"] < opened + minutes * 60)).all())
    assert index[0] == 0 and index[-1] == len(bars) - 1 and bool((np.diff(index) >= 0).all())


def test_forming_bar_at_mid_bar_tick(eurusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("EURUSD", eurusd_ticks, Timeframe.M5)
    bars = emu.replay.tick_bars("EURUSD")
    index = emu.replay.tick_bar_index("EURUSD")
    j = 108  # the 09:00 M5 bar
    assert bars["time"][j] == DAY + 9 * 3600
    start = int(np.searchsorted(index, j))
    count = int(bars["tick_volume"][j])
    k = start + count // 2
    emu.replay.tick("EURUSD", k)
    seen = eurusd_ticks[start:k + 1]
    spreads = np.rint((seen["ask"] - seen["bid"]) / POINT)
    forming = emu.copy_rates_from_pos("EURUSD", 5, 0, 1)[0]
    assert forming.tolist() == (DAY + 9 * 3600, seen["bid"][0], seen["bid"].max(),
                                seen["bid"].min(), seen["bid"][-1], k - start + 1,
                                int(spreads.min()), 0)
    assert forming["tick_volume"] < count  # not the finished bar
    closed = emu.copy_rates_from_pos("EURUSD", 5, 1, 3)
    assert np.array_equal(closed, bars[j - 3:j])
    assert len(emu.copy_rates_from_pos("EURUSD", 5, 0, 10_000)) == j + 1
    everything = emu.copy_rates_range("EURUSD", 5, 0, 2**31 - 1)
    assert len(everything) == j + 1 and everything[-1].tolist() == forming.tolist()
    assert emu.copy_rates_from("EURUSD", 5, 2**31 - 1, 2)[-1].tolist() == forming.tolist()
    info = emu.symbol_info("EURUSD")
    assert (info.bid, info.ask, info.bidhigh, info.bidlow, info.time) == (
        eurusd_ticks["bid"][k], eurusd_ticks["ask"][k], seen["bid"].max(), seen["bid"].min(),
        eurusd_ticks["time"][k])
    # the last tick of the bar: still the forming bar, now complete in content
    end = start + count - 1
    emu.replay.tick("EURUSD", end)
    assert emu.copy_rates_from_pos("EURUSD", 5, 0, 1)[0].tolist() == bars[j].tolist()
    emu.replay.tick("EURUSD", end + 1)  # first tick of the next bar closes bar j
    assert np.array_equal(emu.copy_rates_from_pos("EURUSD", 5, 1, 1), bars[j:j + 1])
    assert emu.copy_rates_from_pos("EURUSD", 5, 0, 1)["tick_volume"][0] == 1
    assert emu.copy_rates_from_pos("EURUSD", 1, 0, 1) is None  # M1 not loaded
    assert emu.last_error() == (-1, "Terminal: Call failed")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(min_value=0, max_value=57_333))
def test_forming_bar_equals_bar_of_ticks_so_far(k: int, gbpusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("GBPUSD", gbpusd_ticks, Timeframe.M15)
    emu.replay.tick("GBPUSD", k)
    upto = python_bars(gbpusd_ticks[:k + 1], 900)
    got = emu.copy_rates_from_pos("GBPUSD", 15, 0, 100)
    assert [b.tolist() for b in got] == upto[-100:]


def test_open_bar_on_tick_built_bars_quotes_first_and_last_tick(
        eurusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("EURUSD", eurusd_ticks, Timeframe.M1)
    index = emu.replay.tick_bar_index("EURUSD")
    j = 600
    first, last = int(np.searchsorted(index, j)), int(np.searchsorted(index, j + 1)) - 1
    emu.replay.open_bar("EURUSD", j)
    tick = emu.symbol_info_tick("EURUSD")
    assert (tick.bid, tick.ask) == (eurusd_ticks["bid"][first], eurusd_ticks["ask"][first])
    assert tick.time_msc == tick.time * 1000  # a bar-replay quote, not a replayed tick
    assert len(emu.copy_ticks_range("EURUSD", 0, 2**31 - 1, -1)) == first + 1
    emu.replay.run_bar("EURUSD", j)
    tick = emu.symbol_info_tick("EURUSD")
    assert (tick.bid, tick.ask) == (eurusd_ticks["bid"][last], eurusd_ticks["ask"][last])
    assert len(emu.copy_ticks_range("EURUSD", 0, 2**31 - 1, -1)) == last + 1


def test_load_ticks_rejects_bad_input(eurusd_ticks: np.ndarray) -> None:
    emu = MT5Emulator()
    replay = emu.replay
    with pytest.raises(ConfigError, match="TICKS_DTYPE"):
        replay.load_ticks("EURUSD", 1, np.zeros(3, dtype=RATES_DTYPE))
    with pytest.raises(ConfigError, match="no ticks"):
        replay.load_ticks("EURUSD", 1, np.zeros(0, dtype=TICKS_DTYPE))
    with pytest.raises(ConfigError, match="TIMEFRAME"):
        replay.load_ticks("EURUSD", 7, eurusd_ticks)
    swapped = eurusd_ticks[:10].copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    with pytest.raises(ConfigError, match="tick 4: time_msc decreases"):
        replay.load_ticks("EURUSD", 1, swapped)
    crossed = eurusd_ticks[:10].copy()
    crossed["bid"][6] = crossed["ask"][6] + 0.001
    with pytest.raises(ConfigError, match="tick 6: crossed quote"):
        replay.load_ticks("EURUSD", 1, crossed)
    nan = eurusd_ticks[:10].copy()
    nan["ask"][2] = np.nan
    with pytest.raises(ConfigError, match="tick 2: ask is not a positive finite price"):
        replay.load_ticks("EURUSD", 1, nan)
    stamp = eurusd_ticks[:10].copy()
    stamp["time"][5] += 1
    with pytest.raises(ConfigError, match=r"tick 5: time is not time_msc // 1000"):
        replay.load_ticks("EURUSD", 1, stamp)
    with pytest.raises(ConfigError, match="no ticks loaded"):
        replay.tick("EURUSD", 0)
    with pytest.raises(ConfigError, match="no ticks loaded"):
        replay.tick_bars("XAUUSD")
    replay.load_ticks("EURUSD", 1, eurusd_ticks)
    with pytest.raises(IndexError):
        replay.tick("EURUSD", -1)
    with pytest.raises(IndexError):
        replay.tick("EURUSD", len(eurusd_ticks))
    # the input is copied: changing it later does not change the replay
    mine = eurusd_ticks[:100].copy()
    replay.load_ticks("EURUSD", 1, mine)
    mine["bid"][0] = 9.0
    assert replay.tick_bars("EURUSD")["open"][0] == 1.43144
    # bars loaded afterwards replace the ticks
    replay.load_rates("EURUSD", 1, replay.tick_bars("EURUSD").copy())
    with pytest.raises(ConfigError, match="no ticks loaded"):
        replay.tick_bars("EURUSD")


def test_tick_prices_rounded_to_digits(eurusd_ticks: np.ndarray) -> None:
    noisy = eurusd_ticks[:50].copy()
    noisy["bid"] += 1e-12
    noisy["ask"] -= 1e-12
    emu = make_tick_emu("EURUSD", noisy)
    emu.replay.tick("EURUSD", 0)
    tick = emu.symbol_info_tick("EURUSD")
    assert (repr(tick.bid), repr(tick.ask)) == ("1.43144", "1.43156")


# ------------------------------------------------------------------ ask rounding (bar replay)
def test_ask_fill_is_rounded_regression(shared_data: Path) -> None:
    rates = load_bars(shared_data / "XAUUSD_M15_2024Q1.csv").rates
    emu = MT5Emulator(EmulatorConfig())
    emu.replay.load_rates("XAUUSD", Timeframe.M15, rates)
    assert emu.initialize() is True
    i = int(np.searchsorted(rates["time"], 1704881700))  # 2024-01-10 10:15 server time
    assert rates[i].tolist()[:7] == (1704881700, 2033.27, 2036.0, 2032.69, 2034.48, 7229, 16)
    emu.replay.open_bar("XAUUSD", i)
    res = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0,
                          "type_filling": 1, "deviation": 10})
    assert res.retcode == 10009
    expected = round(2033.27 + 16 * 0.01, 2)
    assert res.price == expected and repr(res.price) == "2033.43"
    deal = emu.history_deals_get(ticket=res.order)[0]
    assert repr(deal.price) == "2033.43" and repr(emu.symbol_info_tick("XAUUSD").ask) == "2033.43"
    # every derived ask of the file has a clean 2-decimal repr
    for j in range(0, len(rates), 7):
        emu.replay.open_bar("XAUUSD", j)
        ask = emu.symbol_info_tick("XAUUSD").ask
        assert ask == round(rates["open"][j] + rates["spread"][j] * 0.01, 2)
        assert len(repr(ask).split(".")[1]) <= 2
        emu.replay.run_bar("XAUUSD", j)
        ask = emu.symbol_info_tick("XAUUSD").ask
        assert len(repr(ask).split(".")[1]) <= 2


def test_set_quote_rounds_to_digits() -> None:
    emu = MT5Emulator()
    emu.replay.set_quote("XAUUSD", 2033.27, 2033.27 + 0.1 + 0.06, 1704881700)
    assert emu.initialize() is True
    tick = emu.symbol_info_tick("XAUUSD")
    assert (repr(tick.bid), repr(tick.ask)) == ("2033.27", "2033.43")
