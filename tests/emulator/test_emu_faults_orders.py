"""Trade-server faults on real XAUUSD M15 bars: Requote (10004 with moved bid/ask) and Retcode
(10021, 10024, 10031, 10018, 10016, 10006 with their standard comments): result fields, nothing
executed, the emulator's quote unchanged, client-side errors first."""

from __future__ import annotations

import numpy as np
import pytest

from trademaestro.brokers.emulator import (
    EmulatorConfig,
    FaultPlan,
    MT5Emulator,
    Requote,
    Retcode,
)
from trademaestro.core.timeframes import Timeframe

N = 1000  # 2024-04-05 04:30 server time: open 2270.69, spread 5 points -> ask 2270.74
BUY = {"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0, "magic": 7,
       "comment": "tm s1-20240405T0430-b"}


def _emu(bars: np.ndarray, plan: FaultPlan, **config: object) -> MT5Emulator:
    emu = MT5Emulator(EmulatorConfig(**config), faults=plan)  # type: ignore[arg-type]
    emu.replay.load_rates("XAUUSD", Timeframe.M15, bars)
    assert emu.initialize() is True
    emu.replay.open_bar("XAUUSD", N)
    return emu


def _book(emu: MT5Emulator) -> tuple[int, int, int]:
    """(positions, orders, deals) at the broker."""
    return (emu.positions_total(), emu.orders_total(),
            len(emu.history_deals_get(0, 2**31 - 1)))


@pytest.mark.parametrize(("points", "bid", "ask"), [
    (30, 2270.99, 2271.04), (-12, 2270.57, 2270.62), (1, 2270.70, 2270.75)])
def test_requote_moves_bid_ask_and_executes_nothing(
        xau_bars: np.ndarray, points: int, bid: float, ask: float) -> None:
    plan = FaultPlan().add("order_send", Requote(points))
    emu = _emu(xau_bars, plan)
    res = emu.order_send(BUY)
    assert tuple(res)[:10] == (10004, 0, 0, 0.0, 0.0, bid, ask, "Requote", 1, 0)
    assert res.request.comment == BUY["comment"]
    assert (res.request.volume, res.request.magic) == (0.1, 7)
    assert emu.last_error() == (1, "Success")
    assert _book(emu) == (0, 0, 1)
    tick = emu.symbol_info_tick("XAUUSD")
    assert (tick.bid, tick.ask) == (2270.69, 2270.74)  # the emulator's quote did not move
    retry = emu.order_send(BUY)
    assert (retry.retcode, retry.price, retry.request_id) == (10009, 2270.74, 2)
    assert _book(emu) == (1, 0, 2)
    assert plan.fired == [("order_send", "requote")]


def test_two_requotes_then_a_fill(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Requote(25), times=2)
    emu = _emu(xau_bars, plan)
    results = [emu.order_send(BUY) for _ in range(3)]
    assert [(r.retcode, r.request_id) for r in results] == [(10004, 1), (10004, 2), (10009, 3)]
    assert _book(emu) == (1, 0, 2)
    assert plan.fired == [("order_send", "requote")] * 2


STANDARD = [(10021, "Off quotes"), (10024, "Too many requests"), (10031, "No connection"),
            (10018, "Market closed"), (10016, "Invalid stops"), (10006, "Request rejected")]


@pytest.mark.parametrize(("code", "comment"), STANDARD)
def test_retcode_answers_a_failure_result(xau_bars: np.ndarray, code: int, comment: str) -> None:
    plan = FaultPlan().add("order_send", Retcode(code))
    emu = _emu(xau_bars, plan)
    res = emu.order_send(BUY)
    assert tuple(res)[:10] == (code, 0, 0, 0.0, 0.0, 0.0, 0.0, comment, 1, 0)
    assert res.request.symbol == "XAUUSD"
    assert emu.last_error() == (1, "Success")
    assert _book(emu) == (0, 0, 1)
    assert plan.fired == [("order_send", "retcode")]


def test_retcode_on_a_close_leaves_the_position(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Retcode(10018), skip=1)
    emu = _emu(xau_bars, plan)
    ticket = emu.order_send(BUY).order
    res = emu.order_send({**BUY, "type": 1, "position": ticket})
    assert (res.retcode, res.comment, res.deal) == (10018, "Market closed", 0)
    assert emu.positions_get(ticket=ticket)[0].volume == 0.1
    assert _book(emu) == (1, 0, 2)


def test_retcode_on_a_pending_order_places_nothing(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Retcode(10024))
    emu = _emu(xau_bars, plan)
    limit = {"action": 5, "symbol": "XAUUSD", "volume": 0.1, "type": 2, "price": 2260.0}
    assert emu.order_send(limit).retcode == 10024
    assert _book(emu) == (0, 0, 1)
    assert emu.order_send(limit).retcode == 10008
    assert _book(emu) == (0, 1, 1)


def test_client_side_errors_come_before_server_faults(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Requote(10), times=None)
    emu = _emu(xau_bars, plan, tradeapi_disabled=True)
    assert emu.order_send(BUY) is None
    assert emu.last_error() == (-8, "Auto-Trading using Python API disabled in Terminal")
    emu = _emu(xau_bars, plan)
    assert emu.order_send({**BUY, "sl": 0}) is None
    assert emu.last_error() == (-2, 'Invalid "sl" argument')
    emu.shutdown()
    assert emu.order_send(BUY) is None
    assert emu.last_error() == (-10004, "No IPC connection")
    with pytest.raises(SystemError):
        emu.order_send({**BUY, "magic": -1})
    assert plan.fired == [("order_send", "requote")] * 4
