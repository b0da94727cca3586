"""Tick replay on real EURUSD/GBPUSD ticks: SL/TP and pending orders triggered at tick level
(exact fill tick, price and profit), stop-out, and bar + tick replay mixed in one emulator."""

from __future__ import annotations

from typing import Any

import numpy as np

from trademaestro.brokers.emulator import MT5Emulator
from trademaestro.core.timeframes import Timeframe

from .conftest import make_tick_emu

DAY = 1262304000  # 2010-01-01 00:00 server time
EPS = 1e-9


def market(emu: MT5Emulator, symbol: str, side: int, volume: float, sl: float = 0.0,
           tp: float = 0.0) -> Any:
    res = emu.order_send({"action": 1, "symbol": symbol, "volume": volume, "type": side,
                          "type_filling": 1, "sl": sl, "tp": tp, "magic": 7})
    assert res.retcode == 10009, res
    return res


def at(ticks: np.ndarray, seconds: int) -> int:
    """Index of the first tick at or after ``seconds`` past midnight."""
    return int(np.searchsorted(ticks["time"], DAY + seconds))


def play(emu: MT5Emulator, symbol: str, first: int, last: int) -> int | None:
    """Tick ``first … last``; the tick at which the symbol's positions all closed, or None."""
    for k in range(first, last + 1):
        emu.replay.tick(symbol, k)
        if not emu.positions_get(symbol=symbol):
            return k
    return None


def test_buy_tp_hit_by_a_tick_that_jumped_past_it(eurusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("EURUSD", eurusd_ticks)
    k0 = at(eurusd_ticks, 9 * 3600)
    assert k0 == 7687
    emu.replay.tick("EURUSD", k0)
    ask = float(eurusd_ticks["ask"][k0])
    assert ask == 1.43293
    tp, sl = 1.43343, 1.43193  # +50 / -100 points
    res = market(emu, "EURUSD", 0, 1.0, sl=sl, tp=tp)
    assert (res.price, res.ask) == (ask, ask)
    bids = eurusd_ticks["bid"]
    hit = k0 + 1 + int(np.argmax((bids[k0 + 1:] >= tp - EPS) | (bids[k0 + 1:] <= sl + EPS)))
    assert hit == 9496 and bids[hit] == 1.43344 and bids[:hit][k0 + 1:].max() < tp
    assert play(emu, "EURUSD", k0 + 1, len(eurusd_ticks) - 1) == hit
    out = emu.history_deals_get(position=res.order)[-1]
    # filled at the tick's bid, one point past the TP (the tick jumped over the level)
    assert (out.price, out.reason, out.comment, out.time, out.entry, out.type) == (
        1.43344, 5, "[tp 1.43343]", int(eurusd_ticks["time"][hit]), 1, 1)
    # (1.43344 - 1.43293) * 100,000 * 1.0 lot = 51.00 USD
    assert out.profit == round((1.43344 - 1.43293) * 100_000 * 1.0, 2) == 51.0
    assert emu.account_info().balance == 10_051.0


def test_buy_sl_slips_to_the_tick_price(eurusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("EURUSD", eurusd_ticks)
    k0 = at(eurusd_ticks, 15 * 3600)
    emu.replay.tick("EURUSD", k0)
    assert (k0, eurusd_ticks["ask"][k0]) == (16701, 1.43331)
    res = market(emu, "EURUSD", 0, 0.5, sl=1.43291, tp=1.43431)
    assert play(emu, "EURUSD", k0 + 1, len(eurusd_ticks) - 1) == 16718
    assert eurusd_ticks["bid"][16717] > 1.43291 >= eurusd_ticks["bid"][16718] == 1.43283
    out = emu.history_deals_get(position=res.order)[-1]
    assert (out.price, out.reason, out.comment) == (1.43283, 4, "[sl 1.43291]")
    # (1.43283 - 1.43331) * 100,000 * 0.5 = -24.00 USD: 8 points of slippage past the SL
    assert out.profit == -24.0


def test_sell_tp_on_ask(gbpusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("GBPUSD", gbpusd_ticks, Timeframe.M5)
    k0 = at(gbpusd_ticks, 12 * 3600)
    emu.replay.tick("GBPUSD", k0)
    bid = float(gbpusd_ticks["bid"][k0])
    assert (k0, bid, gbpusd_ticks["ask"][k0]) == (22903, 1.61662, 1.61698)
    tp, sl = 1.61602, 1.61742
    res = market(emu, "GBPUSD", 1, 1.0, sl=sl, tp=tp)
    assert res.price == bid
    asks = gbpusd_ticks["ask"]
    hit = k0 + 1 + int(np.argmax((asks[k0 + 1:] <= tp + EPS) | (asks[k0 + 1:] >= sl - EPS)))
    assert hit == 25847 and asks[hit] == 1.61598
    assert play(emu, "GBPUSD", k0 + 1, len(gbpusd_ticks) - 1) == hit
    out = emu.history_deals_get(position=res.order)[-1]
    assert (out.price, out.reason, out.type, out.time) == (1.61598, 5, 0,
                                                           int(gbpusd_ticks["time"][hit]))
    # (1.61662 - 1.61598) * 100,000 * 1.0 = 64.00 USD (4 points better than the TP)
    assert out.profit == 64.0


def test_pending_buy_stop_and_sell_limit_fill_at_the_tick(eurusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("EURUSD", eurusd_ticks)
    k0 = at(eurusd_ticks, 9 * 3600)
    emu.replay.tick("EURUSD", k0)
    asks, bids = eurusd_ticks["ask"], eurusd_ticks["bid"]
    stop, limit = 1.43320, 1.43330
    for kind, price in ((4, stop), (3, limit)):
        res = emu.order_send({"action": 5, "symbol": "EURUSD", "volume": 0.1, "type": kind,
                              "price": price, "type_filling": 2, "type_time": 0})
        assert res.retcode == 10008, res
    buy_at = k0 + 1 + int(np.argmax(asks[k0 + 1:] >= stop - EPS))
    sell_at = k0 + 1 + int(np.argmax(bids[k0 + 1:] >= limit - EPS))
    assert (buy_at, asks[buy_at - 1], asks[buy_at]) == (7733, 1.43313, 1.43322)  # jumps past
    assert (sell_at, bids[sell_at]) == (7751, 1.4333)
    for k in range(k0 + 1, sell_at + 1):
        emu.replay.tick("EURUSD", k)
        assert emu.orders_total() == (2 if k < buy_at else 1 if k < sell_at else 0)
    buy, sell = emu.positions_get(symbol="EURUSD")
    # the buy stop fills at the tick's ask, 2 points past its price (slippage)
    assert (buy.type, buy.price_open, buy.time) == (0, 1.43322,
                                                    int(eurusd_ticks["time"][buy_at]))
    assert (sell.type, sell.price_open, sell.time) == (1, 1.4333,
                                                       int(eurusd_ticks["time"][sell_at]))


def test_stop_out_at_tick_level(eurusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("EURUSD", eurusd_ticks, balance=300.0, leverage=1000)
    k0 = int(np.argmax(eurusd_ticks["ask"]))  # the day's highest ask
    emu.replay.tick("EURUSD", k0)
    res = market(emu, "EURUSD", 0, 2.0)
    assert res.price == 1.43368
    margin = emu.account_info().margin
    assert margin == round(2.0 * 100_000 / 1000 * 1.43368, 2) == 286.74
    bids = eurusd_ticks["bid"].tolist()
    expected = next(k for k in range(k0 + 1, len(bids))
                    if (300.0 + round((bids[k] - 1.43368) * 200_000, 2)) * 100 / margin < 30.0)
    assert play(emu, "EURUSD", k0 + 1, len(bids) - 1) == expected == 24521
    out = emu.history_deals_get(position=res.order)[-1]
    # equity 300 - 214 = 86.00 is 29.99% of 286.74
    assert (out.reason, out.price, out.profit, out.comment) == (6, 1.43261, -214.0,
                                                               "[so 29.99%]")


def test_bar_and_tick_replay_mixed(eurusd_ticks: np.ndarray, gbpusd_ticks: np.ndarray) -> None:
    """GBPUSD replayed by M5 bars (built from its ticks), EURUSD by ticks, on one timeline."""
    probe = make_tick_emu("GBPUSD", gbpusd_ticks, Timeframe.M5)
    gbp_bars = probe.replay.tick_bars("GBPUSD").copy()
    emu = make_tick_emu("EURUSD", eurusd_ticks, Timeframe.M1)
    emu.replay.load_rates("GBPUSD", Timeframe.M5, gbp_bars)
    eur_times = eurusd_ticks["time"]
    start = 108  # GBPUSD bar of 09:00
    k = 0
    eur_pos = gbp_pos = None
    for i in range(start, len(gbp_bars)):
        t = int(gbp_bars["time"][i])
        while k < len(eur_times) and eur_times[k] < t:  # EURUSD ticks before the bar opens
            emu.replay.tick("EURUSD", k)
            k += 1
        emu.replay.open_bar("GBPUSD", i)
        if i == start:
            eur_pos = market(emu, "EURUSD", 0, 1.0, sl=1.43193, tp=1.43343)
            gbp_ask = emu.symbol_info_tick("GBPUSD").ask
            gbp_pos = market(emu, "GBPUSD", 0, 1.0, sl=round(gbp_ask - 0.0008, 5))
            assert eur_pos.price == eurusd_ticks["ask"][k - 1]
        emu.replay.run_bar("GBPUSD", i)
        if not emu.positions_total():
            break
    assert eur_pos is not None and gbp_pos is not None
    eur_out = emu.history_deals_get(position=eur_pos.order)[-1]
    gbp_out = emu.history_deals_get(position=gbp_pos.order)[-1]
    assert (eur_out.reason, eur_out.price) == (5, 1.43344)  # same tick as without bars
    sl = gbp_pos.request.sl
    lows = gbp_bars["low"]
    hit = start + int(np.argmax(lows[start:] <= sl + EPS))
    assert (gbp_out.reason, gbp_out.price, gbp_out.time) == (4, sl, int(gbp_bars["time"][hit]))
    assert emu.account_info().balance == round(10_000 + eur_out.profit + gbp_out.profit, 2)
    # both symbols keep serving their own history
    assert emu.copy_rates_from_pos("GBPUSD", 5, 0, 1)["time"][0] == gbp_bars["time"][i]
    assert emu.copy_rates_from_pos("EURUSD", 1, 1, 1)["time"][0] < emu.replay.now
    assert emu.copy_ticks_from("GBPUSD", 0, 10, -1) is None  # bars only: no ticks
    assert emu.last_error() == (-1, "Terminal: Call failed")
    last = emu.copy_ticks_from("EURUSD", 0, 10**6, -1)
    assert len(last) == k and last[-1]["time_msc"] == eurusd_ticks["time_msc"][k - 1]


def test_pending_order_expires_at_the_first_tick_after_its_expiration(
        gbpusd_ticks: np.ndarray) -> None:
    emu = make_tick_emu("GBPUSD", gbpusd_ticks)
    k0 = at(gbpusd_ticks, 6 * 3600)
    emu.replay.tick("GBPUSD", k0)
    expiration = DAY + 7 * 3600 + 30  # 07:00:30 server time
    res = emu.order_send({"action": 5, "symbol": "GBPUSD", "volume": 0.1, "type": 2,
                          "price": 1.6100, "type_filling": 2, "type_time": 2,
                          "expiration": expiration})
    assert res.retcode == 10008, res
    times = gbpusd_ticks["time"]
    gone = int(np.searchsorted(times, expiration))  # first tick at or after the expiration
    for k in range(k0 + 1, gone + 1):
        emu.replay.tick("GBPUSD", k)
        assert emu.orders_total() == (1 if k < gone else 0)
    done = emu.history_orders_get(ticket=res.order)[-1]
    assert (done.state, done.time_done) == (6, int(times[gone]))
    assert times[gone - 1] < expiration <= times[gone]
    assert emu.positions_total() == 0
