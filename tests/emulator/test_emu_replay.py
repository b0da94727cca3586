"""Replay on real bars: copy_rates_*, time semantics, swaps, stop-out and account invariants."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator
from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.errors import ConfigError
from trademaestro.core.timeframes import Timeframe

from .conftest import make_emu

N = 100
M15 = 15


def test_copy_rates_from_pos_forming_bar(emu: MT5Emulator, xau_m15: np.ndarray) -> None:
    emu.replay.open_bar("XAUUSD", N)
    rates = emu.copy_rates_from_pos("XAUUSD", M15, 0, 3)
    assert rates.dtype == RATES_DTYPE and rates.dtype.itemsize == 60
    assert np.array_equal(rates[:2], xau_m15[N - 2:N])
    o = xau_m15["open"][N]
    last = rates[2]
    assert (last["time"], last["open"], last["high"], last["low"], last["close"]) == (
        xau_m15["time"][N], o, o, o, o)
    assert (last["tick_volume"], last["spread"]) == (1, xau_m15["spread"][N])
    closed = emu.copy_rates_from_pos("XAUUSD", M15, 1, 5)
    assert np.array_equal(closed, xau_m15[N - 5:N])
    emu.replay.run_bar("XAUUSD", N)
    assert np.array_equal(emu.copy_rates_from_pos("XAUUSD", M15, 0, 1), xau_m15[N:N + 1])
    tick = emu.symbol_info_tick("XAUUSD")
    assert (tick.time, tick.bid) == (int(xau_m15["time"][N]) + 899, xau_m15["close"][N])
    assert len(emu.copy_rates_from_pos("XAUUSD", M15, 0, 10_000)) == N + 1
    assert emu.copy_rates_from_pos("XAUUSD", Timeframe.H1, 0, 1) is None
    assert emu.last_error() == (-1, "Terminal: Call failed")
    assert emu.copy_rates_from_pos("XAUUSD", 7, 0, 1) is None
    assert emu.last_error() == (-2, "Terminal: Invalid params")


def test_copy_rates_from_and_range_dates(emu: MT5Emulator, xau_m15: np.ndarray) -> None:
    emu.replay.open_bar("XAUUSD", N)
    t = int(xau_m15["time"][N - 1])
    aware = dt.datetime.fromtimestamp(t, tz=dt.UTC)
    rates = emu.copy_rates_from("XAUUSD", M15, aware, 2)
    assert np.array_equal(rates, xau_m15[N - 2:N])  # the bar opening at date_from included
    naive = dt.datetime(2024, 3, 21, 6, 0)  # .timestamp() reads it in the local zone
    expected_end = np.searchsorted(xau_m15["time"], int(naive.timestamp()), side="right")
    got = emu.copy_rates_from("XAUUSD", M15, naive, 1)
    assert got[0]["time"] == xau_m15["time"][min(expected_end, N + 1) - 1]
    rng = emu.copy_rates_range("XAUUSD", M15, int(xau_m15["time"][N - 3]), t + 0.99)
    assert np.array_equal(rng, xau_m15[N - 3:N])
    future = emu.copy_rates_range("XAUUSD", M15, 0, 2**31 - 1)
    assert len(future) == N + 1  # no bar after the clock is ever served
    assert emu.copy_rates_range("XAUUSD", M15, t, t - 1).size == 0


def test_load_rates_spread_sources(xau_m15: np.ndarray) -> None:
    emu = make_emu(xau_m15, spread_points=20)
    emu.replay.open_bar("XAUUSD", N)
    assert emu.symbol_info_tick("XAUUSD").ask == round(xau_m15["open"][N] + 0.20, 2)
    emu2 = make_emu(xau_m15)
    emu2.replay.load_rates("XAUUSD", Timeframe.M15, xau_m15, has_spread=False)
    emu2.replay.open_bar("XAUUSD", N)
    assert emu2.symbol_info("XAUUSD").spread == 9
    assert emu2.copy_rates_from_pos("XAUUSD", M15, 1, 1)["spread"][0] == 9
    with pytest.raises(ConfigError, match="strictly ascending"):
        emu2.replay.load_rates("XAUUSD", Timeframe.M15, xau_m15[::-1])
    with pytest.raises(ConfigError, match="RATES_DTYPE"):
        emu2.replay.load_rates("XAUUSD", Timeframe.M15, np.zeros(3))


def _first(times: np.ndarray, weekday: int, hour: int) -> int:
    days = (times // 86400 + 4) % 7
    hours = (times % 86400) // 3600
    return int(np.argmax((days == weekday) & (hours == hour) & (times % 3600 == 0)))


def test_swaps_across_wednesday_rollover(xau_m15: np.ndarray) -> None:
    times = xau_m15["time"]
    start = _first(times, 2, 22)  # a Tuesday 22:00 server time
    end = start + int(np.argmax(times[start:] >= (times[start] // 86400 + 2) * 86400 + 3600))
    emu = make_emu(xau_m15)
    emu.replay.open_bar("XAUUSD", start)
    res = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0})
    for i in range(start, end + 1):
        if i > start:
            emu.replay.open_bar("XAUUSD", i)
        emu.replay.run_bar("XAUUSD", i)
    # Tuesday's rollover (x1) and Wednesday's (x3): 4 * -45.5 points * 0.01 * 100 * 0.1 lot
    pos = emu.positions_get()[0]
    assert pos.swap == pytest.approx(-18.2, abs=1e-9)
    acc = emu.account_info()
    assert acc.equity == pytest.approx(acc.balance + pos.profit - 18.2, abs=1e-9)
    out = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 1,
                          "position": res.order})
    deal = emu.history_deals_get(ticket=out.order)[0]
    assert deal.swap == pytest.approx(-18.2, abs=1e-9)
    assert emu.account_info().balance == pytest.approx(10000.0 + deal.profit - 18.2, abs=1e-9)
    off = make_emu(xau_m15, swaps_enabled=False)
    off.replay.open_bar("XAUUSD", start)
    off.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0})
    for i in range(start, end + 1):
        off.replay.open_bar("XAUUSD", i)
        off.replay.run_bar("XAUUSD", i)
    assert off.positions_get()[0].swap == 0.0


def test_stop_out_closes_at_margin_level(xau_m15: np.ndarray) -> None:
    emu = make_emu(xau_m15, balance=1000.0)
    emu.replay.open_bar("XAUUSD", N)
    res = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.4, "type": 0})
    margin = emu.account_info().margin
    assert margin == pytest.approx(0.4 * 2206.89, abs=0.01)
    i = N
    while emu.positions_total():
        if i > N:
            emu.replay.open_bar("XAUUSD", i)
        emu.replay.run_bar("XAUUSD", i)
        i += 1
    last = i - 1
    out = emu.history_deals_get(position=res.order)[-1]
    close = xau_m15["close"][last]
    level = (1000.0 + round((close - 2206.89) * 40, 2)) / margin * 100
    prev = (1000.0 + round((xau_m15["close"][last - 1] - 2206.89) * 40, 2)) / margin * 100
    assert level < 30.0 <= prev
    assert (out.reason, out.price, out.comment) == (6, close, f"[so {level:.2f}%]")


OPS = st.lists(
    st.tuples(st.sampled_from(["buy", "sell", "close", "part", "sltp", "none"]),
              st.integers(1, 30), st.integers(10, 400)),
    min_size=5, max_size=40,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(ops=OPS, block=st.integers(0, 45), offset=st.integers(0, 900))
def test_account_invariants(xau_m15: np.ndarray, ops: list, block: int, offset: int) -> None:
    # a 1000-bar window of the real data keeps every example cheap
    emu = make_emu(xau_m15[block * 1000:block * 1000 + 1000], commission_per_lot=3.5,
                   balance=50000.0)
    start = offset
    rp = emu.replay
    for n, (op, lots, dist) in enumerate(ops):
        i = start + n
        rp.open_bar("XAUUSD", i)
        tick = emu.symbol_info_tick("XAUUSD")
        volume = lots / 100
        positions = emu.positions_get()
        if op in ("buy", "sell"):
            d = dist * 0.01
            is_buy = op == "buy"
            sl = round(tick.bid - d, 2) if is_buy else round(tick.ask + d, 2)
            tp = round(tick.bid + d, 2) if is_buy else round(tick.ask - d, 2)
            res = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": volume,
                                  "type": 0 if is_buy else 1, "sl": sl, "tp": tp})
            assert res.retcode == 10009
        elif op in ("close", "part") and positions:
            pos = positions[0]
            vol = pos.volume if op == "close" else round(max(0.01, pos.volume / 2), 2)
            res = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": vol,
                                  "type": 1 - pos.type, "position": pos.ticket})
            assert res.retcode in (10009, 10038)
        elif op == "sltp" and positions:
            emu.order_send({"action": 6, "symbol": "XAUUSD", "position": positions[0].ticket})
        rp.run_bar("XAUUSD", i)
        acc = emu.account_info()
        floating = sum(p.profit + p.swap for p in emu.positions_get())
        assert acc.equity == pytest.approx(acc.balance + floating, abs=0.011)
        deals = emu.history_deals_get(0, 2**31 - 1)
        booked = sum(d.profit + d.commission + d.swap for d in deals)
        assert booked == pytest.approx(acc.balance, abs=1e-6)
        assert acc.margin_free == pytest.approx(acc.equity - acc.margin, abs=1e-6)


def test_injected_clock_and_fault_hook(xau_m15: np.ndarray) -> None:
    calls: list[str] = []

    class Recorder:
        def before_call(self, function: str) -> None:
            calls.append(function)

    emu = MT5Emulator(EmulatorConfig(), clock=lambda: 1_800_000_000, faults=Recorder())
    emu.replay.load_rates("XAUUSD", Timeframe.M15, xau_m15)
    emu.initialize()
    emu.replay.open_bar("XAUUSD", N)
    res = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.01, "type": 0})
    assert emu.history_deals_get(ticket=res.order)[0].time == 1_800_000_000
    assert emu.symbol_info_tick("XAUUSD").time == int(xau_m15["time"][N])
    assert calls == ["initialize", "order_send", "history_deals_get", "symbol_info_tick"]
