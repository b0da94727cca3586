"""Market trading on real XAUUSD M15 bars: fills, SL/TP in bars, closes, validations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator, default_symbols
from trademaestro.core.errors import ConfigError

from .conftest import make_emu

N = 100  # 2024-03-21 08:30 server time: open 2206.84, spread 5 points


def buy(emu: MT5Emulator, volume: float = 0.1, **extra: object):
    return emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": volume, "type": 0,
                           "type_filling": 1, **extra})


def close(emu: MT5Emulator, ticket: int, volume: float, **extra: object):
    return emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": volume, "type": 1,
                           "position": ticket, "type_filling": 1, **extra})


def test_buy_fills_at_open_plus_spread(emu: MT5Emulator, xau_m15: np.ndarray) -> None:
    bar = xau_m15[N]
    assert (bar["open"], bar["spread"]) == (2206.84, 5)
    emu.replay.open_bar("XAUUSD", N)
    tick = emu.symbol_info_tick("XAUUSD")
    assert (tick.time, tick.bid, tick.ask) == (int(bar["time"]), 2206.84, 2206.89)
    res = buy(emu, 0.1, magic=42, comment="entry")
    assert (res.retcode, res.volume, res.price, res.bid, res.ask, res.comment) == (
        10009, 0.1, 2206.89, 2206.84, 2206.89, "Request executed")
    pos = emu.positions_get()[0]
    assert (pos.ticket, pos.identifier, pos.type, pos.reason) == (res.order, res.order, 0, 3)
    assert (pos.price_open, pos.price_current, pos.profit) == (2206.89, 2206.84, -0.5)
    deal = emu.history_deals_get(ticket=res.order)[0]
    assert (deal.ticket, deal.entry, deal.reason, deal.magic, deal.comment, deal.price) == (
        res.deal, 0, 3, 42, "entry", 2206.89)
    order = emu.history_orders_get(ticket=res.order)[0]
    assert (order.state, order.position_id, order.magic, order.volume_initial) == (4, res.order,
                                                                                  42, 0.1)
    acc = emu.account_info()
    # margin: FOREX mode, XAU margin currency: 0.1 * 100 / 100 = 0.1 XAU at 2206.89
    assert (acc.margin, acc.equity, acc.profit) == (220.69, 9999.5, -0.5)


def test_sl_hit_in_later_bar_exact_deal(xau_m15: np.ndarray) -> None:
    emu = make_emu(xau_m15, commission_per_lot=7.0)
    emu.replay.open_bar("XAUUSD", N)
    sl = 2201.84  # 5.05 below the ask
    res = buy(emu, 0.2, sl=sl, magic=9)
    lows = xau_m15["low"]
    hit = N + int(np.argmax(lows[N:] <= sl))
    assert hit > N and xau_m15["open"][hit] > sl  # touched inside the bar, not a gap
    for i in range(N, hit + 1):
        if i > N:
            emu.replay.open_bar("XAUUSD", i)
        emu.replay.run_bar("XAUUSD", i)
    assert emu.positions_total() == 0
    out = emu.history_deals_get(position=res.order)[-1]
    # (2201.84 - 2206.89) * 100 oz * 0.2 lot = -101.00 USD; commission 7.0 * 0.2 per side
    assert (out.price, out.profit, out.commission, out.reason, out.entry) == (
        2201.84, -101.0, -1.4, 4, 1)
    assert (out.time, out.comment, out.magic) == (int(xau_m15["time"][hit]), "[sl 2201.84]", 9)
    assert emu.account_info().balance == pytest.approx(10000.0 - 101.0 - 2 * 1.4, abs=1e-9)


def _wide_bar(rates: np.ndarray, start: int) -> int:
    o, h, lo = rates["open"], rates["high"], rates["low"]
    ok = (h[start:] - o[start:] >= 1.0) & (o[start:] - lo[start:] >= 1.0)
    return start + int(np.argmax(ok))


def test_sl_and_tp_in_one_bar_assumes_sl(emu: MT5Emulator, xau_m15: np.ndarray) -> None:
    j = _wide_bar(xau_m15, N)
    bar = xau_m15[j]
    emu.replay.open_bar("XAUUSD", j)
    sl, tp = round(bar["low"] + 0.05, 2), round(bar["high"] - 0.05, 2)
    res = buy(emu, 0.1, sl=sl, tp=tp)
    assert res.retcode == 10009
    emu.replay.run_bar("XAUUSD", j)
    out = emu.history_deals_get(position=res.order)[-1]
    assert (out.reason, out.price, out.comment) == (4, sl, f"[sl {sl:.2f}]")


def test_tp_hit_on_bid_and_sell_sl_on_ask(emu: MT5Emulator, xau_m15: np.ndarray) -> None:
    j = _wide_bar(xau_m15, N)
    bar = xau_m15[j]
    emu.replay.open_bar("XAUUSD", j)
    tp = round(bar["high"] - 0.02, 2)
    long = buy(emu, 0.1, tp=tp)
    # a sell's SL triggers on the ask: high + spread reaches sl although high itself does not
    sl_sell = round(bar["high"] + bar["spread"] * 0.01 - 0.01, 2)
    short = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 1,
                            "sl": sl_sell, "type_filling": 0})
    assert short.retcode == 10009 and short.price == bar["open"]
    emu.replay.run_bar("XAUUSD", j)
    d_long = emu.history_deals_get(position=long.order)[-1]
    d_short = emu.history_deals_get(position=short.order)[-1]
    assert (d_long.reason, d_long.price) == (5, tp)
    assert (d_short.reason, d_short.price) == (4, sl_sell)
    assert d_short.profit == pytest.approx(round((bar["open"] - sl_sell) * 10, 2), abs=1e-9)


def test_gap_through_sl_fills_at_open(emu: MT5Emulator, xau_m15: np.ndarray) -> None:
    o, lo = xau_m15["open"], xau_m15["low"]
    gaps = np.nonzero(lo[N:-1] - o[N + 1:] > 1.0)[0]
    j = N + 1 + int(gaps[0])  # bar j opens more than 1.00 below bar j-1's low
    emu.replay.open_bar("XAUUSD", j - 1)
    sl = round(o[j] + 0.5, 2)
    res = buy(emu, 0.1, sl=sl)
    assert res.retcode == 10009
    emu.replay.run_bar("XAUUSD", j - 1)
    assert emu.positions_total() == 1
    emu.replay.open_bar("XAUUSD", j)
    emu.replay.run_bar("XAUUSD", j)
    out = emu.history_deals_get(position=res.order)[-1]
    assert (out.reason, out.price) == (4, o[j])
    assert out.profit == pytest.approx(round((o[j] - res.price) * 10, 2), abs=1e-9)


def test_partial_close_keeps_ticket(emu: MT5Emulator) -> None:
    emu.replay.open_bar("XAUUSD", N)
    res = buy(emu, 0.1)
    emu.replay.run_bar("XAUUSD", N)
    emu.replay.open_bar("XAUUSD", N + 1)
    bid = emu.symbol_info_tick("XAUUSD").bid
    part = close(emu, res.order, 0.04, comment="half")
    assert (part.retcode, part.price, part.volume) == (10009, bid, 0.04)
    pos = emu.positions_get(ticket=res.order)[0]
    assert pos.volume == 0.06 and pos.ticket == res.order
    out = emu.history_deals_get(ticket=part.order)[0]
    assert (out.entry, out.position_id, out.volume, out.comment) == (1, res.order, 0.04, "half")
    assert out.profit == pytest.approx(round((bid - 2206.89) * 100 * 0.04, 2), abs=1e-9)
    assert close(emu, res.order, 0.07).retcode == 10038
    assert close(emu, res.order, 0.06).retcode == 10009
    assert emu.positions_total() == 0
    assert close(emu, res.order, 0.06).retcode == 10036
    assert close(emu, 999, 0.06).retcode == 10013


def test_sltp_without_tp_clears_it(emu: MT5Emulator) -> None:
    emu.replay.open_bar("XAUUSD", N)
    res = buy(emu, 0.1, sl=2200.0, tp=2215.0)
    sltp = {"action": 6, "symbol": "XAUUSD", "position": res.order, "sl": 2201.0}
    out = emu.order_send(sltp)
    assert (out.retcode, out.deal, out.order, out.price, out.bid) == (10009, 0, 0, 0.0, 0.0)
    pos = emu.positions_get()[0]
    assert (pos.sl, pos.tp) == (2201.0, 0.0)
    assert emu.order_send(sltp).retcode == 10025
    assert emu.order_send({**sltp, "position": 5}).retcode == 10013


def test_validation_retcodes(emu: MT5Emulator) -> None:
    emu.replay.open_bar("XAUUSD", N)  # bid 2206.84, ask 2206.89, stops level 10 points
    assert buy(emu, 0.015).retcode == 10014
    assert buy(emu, 0.0).retcode == 10014
    assert buy(emu, 100.01).retcode == 10014
    assert buy(emu, 0.1, sl=2206.79).retcode == 10016  # 5 points below bid < 10
    assert buy(emu, 0.1, sl=2206.74).retcode == 10009  # exactly 10 points
    assert buy(emu, 0.1, sl=2206.9).retcode == 10016  # wrong side
    assert buy(emu, 0.1, tp=2206.935).retcode == 10016  # not on the tick grid
    assert buy(emu, 0.1, type_filling=2).retcode == 10030
    assert buy(emu, 0.1, type_filling=3).retcode == 10030
    assert buy(emu, 10.0).retcode == 10019  # 10 lots need 22,068.90 USD margin
    assert buy(emu, 0.1, type=2).retcode == 10013
    assert emu.order_send({"action": 3, "symbol": "XAUUSD"}).retcode == 10013
    res = buy(emu, 0.1, comment="z" * 29)
    assert res.retcode == 10009 and emu.positions_get(ticket=res.order)[0].comment == "z" * 29
    fail = buy(emu, 0.015)
    assert (fail.deal, fail.order, fail.volume, fail.price, fail.comment) == (
        0, 0, 0.0, 0.0, "Invalid volume")
    assert fail.request.volume == 0.015


def test_trade_mode_freeze_and_order_check(xau_m15: np.ndarray) -> None:
    specs = default_symbols()
    specs["XAUUSD"] = replace(specs["XAUUSD"], trade_mode=1, freeze_level=50)
    emu = make_emu(xau_m15, symbols=specs)
    emu.replay.open_bar("XAUUSD", N)
    sell = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 1})
    assert sell.retcode == 10042
    res = buy(emu, 0.1, sl=2206.44)  # 40 points below bid: inside the freeze level
    assert res.retcode == 10009
    assert close(emu, res.order, 0.1).retcode == 10029
    check = emu.order_check({"action": 1, "symbol": "XAUUSD", "volume": 1.0, "type": 0})
    assert (check.retcode, check.comment, check.balance) == (0, "Done", 10000.0)
    assert check.margin == pytest.approx(220.69 + 2206.89, abs=0.011)
    assert check.equity == 9999.5
    assert check.margin_free == pytest.approx(check.equity - check.margin, abs=1e-9)
    bad = emu.order_check({"action": 1, "symbol": "XAUUSD", "volume": 0.001, "type": 0})
    assert (bad.retcode, bad.comment) == (10014, "Invalid volume")


def test_pending_place_trigger_and_remove(emu: MT5Emulator, xau_m15: np.ndarray) -> None:
    emu.replay.open_bar("XAUUSD", N)
    req = {"action": 5, "symbol": "XAUUSD", "volume": 0.1, "type": 2, "price": 2200.0,
           "type_filling": 2, "magic": 3}
    assert emu.order_send({**req, "price": 2207.0}).retcode == 10015  # buy limit above ask
    placed = emu.order_send(req)
    assert (placed.retcode, placed.deal, placed.price) == (10008, 0, 0.0)
    assert emu.orders_total() == 1 and emu.orders_get()[0].state == 1
    mod = emu.order_send({"action": 7, "order": placed.order, "price": 2199.0})
    assert mod.retcode == 10009 and emu.orders_get()[0].price_open == 2199.0
    stop = emu.order_send({**req, "type": 4, "price": 2300.0})
    assert emu.order_send({"action": 8, "order": stop.order}).retcode == 10009
    assert emu.history_orders_get(ticket=stop.order)[0].state == 2
    assert emu.order_send({"action": 8, "order": stop.order}).retcode == 10013
    # run bars until the ask low reaches 2199.00: the limit fills at its price
    ask_low = xau_m15["low"] + xau_m15["spread"] * 0.01
    hit = N + int(np.argmax(ask_low[N:] <= 2199.0 + 1e-9))
    for i in range(N, hit + 1):
        if i > N:
            emu.replay.open_bar("XAUUSD", i)
        emu.replay.run_bar("XAUUSD", i)
    assert emu.orders_total() == 0
    pos = emu.positions_get()[0]
    fill = min(2199.0, round(xau_m15["open"][hit] + xau_m15["spread"][hit] * 0.01, 2))
    assert (pos.ticket, pos.price_open, pos.magic, pos.time) == (
        placed.order, fill, 3, int(xau_m15["time"][hit]))


def test_close_by(emu: MT5Emulator) -> None:
    emu.replay.open_bar("XAUUSD", N)
    long = buy(emu, 0.1)
    short = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.05, "type": 1})
    res = emu.order_send({"action": 10, "position": long.order, "position_by": short.order})
    assert res.retcode == 10009
    assert [p.volume for p in emu.positions_get()] == [0.05]
    deals = emu.history_deals_get(ticket=res.order)
    assert [d.entry for d in deals] == [3, 3]
    # net result of the pair: (2206.84 - 2206.89) * 100 * 0.05 = -0.25
    assert sum(d.profit for d in deals) == pytest.approx(-0.25, abs=1e-9)


def test_history_deals_ticket_semantics(xau_m15: np.ndarray) -> None:
    for mode, field in (("order", "order"), ("ticket", "ticket")):
        emu = make_emu(xau_m15, deals_ticket_matches=mode)
        emu.replay.open_bar("XAUUSD", N)
        res = buy(emu, 0.1)
        assert res.deal != res.order
        key = res.order if field == "order" else res.deal
        assert [d.ticket for d in emu.history_deals_get(ticket=key)] == [res.deal]


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match=r"EmulatorConfig\.leverage"):
        EmulatorConfig(leverage=0)
    with pytest.raises(ConfigError, match="currency"):
        EmulatorConfig(currency="US")
