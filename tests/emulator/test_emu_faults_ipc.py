"""IPC-level faults on real XAUUSD M15 bars: Disconnect (-10004 until initialize), IpcTimeout
(-10005, nothing executed) and LostReply (executed, then -10002): positions and deals at the
broker afterwards, last_error tuples and the plan's records."""

from __future__ import annotations

import numpy as np

from trademaestro.brokers.emulator import (
    Disconnect,
    EmulatorConfig,
    FaultPlan,
    IpcTimeout,
    LostReply,
    MT5Emulator,
)
from trademaestro.core.timeframes import Timeframe

N = 1000  # 2024-04-05 04:30 server time (1712291400): open 2270.69, spread 5 -> ask 2270.74
T = 1712291400
NO_IPC = (-10004, "No IPC connection")
TIMEOUT = (-10005, "IPC timeout")
RECV = (-10002, "IPC recv failed")
OK = (1, "Success")
BUY = {"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0, "magic": 7,
       "comment": "tm s1-20240405T0430-b"}


def _emu(bars: np.ndarray, plan: FaultPlan, **config: object) -> MT5Emulator:
    emu = MT5Emulator(EmulatorConfig(**config), faults=plan)  # type: ignore[arg-type]
    emu.replay.load_rates("XAUUSD", Timeframe.M15, bars)
    assert emu.initialize() is True
    emu.replay.open_bar("XAUUSD", N)
    return emu


def _deals(emu: MT5Emulator) -> int:
    return len(emu.history_deals_get(0, 2**31 - 1))


def test_disconnect_persists_until_initialize(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("positions_get", Disconnect())
    emu = _emu(xau_bars, plan)
    assert emu.order_send(BUY).retcode == 10009
    assert emu.positions_get() is None
    assert emu.last_error() == NO_IPC
    # every later call fails the same way, whatever it is
    assert emu.positions_total() is None
    assert emu.last_error() == NO_IPC
    assert emu.order_send(BUY) is None
    assert emu.last_error() == NO_IPC
    assert emu.symbol_select("XAUUSD", True) is False
    assert emu.last_error() == NO_IPC
    assert emu.login(51234567) is False
    assert emu.last_error() == NO_IPC
    for _ in range(3):  # the replay goes on meanwhile: time passes, still disconnected
        assert emu.terminal_info() is None
        assert emu.last_error() == NO_IPC
    emu.replay.run_bar("XAUUSD", N)
    assert emu.symbol_info_tick("XAUUSD") is None
    assert emu.initialize() is True
    assert emu.last_error() == OK
    assert emu.terminal_info().connected is True
    assert emu.positions_total() == 1  # the order sent while disconnected never arrived
    assert _deals(emu) == 2  # the deposit and the one IN deal
    assert emu.symbol_info_tick("XAUUSD").bid == 2274.55  # bar N's close
    assert plan.fired == [("positions_get", "disconnect")]


def test_disconnect_leaves_configured_broker_link(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("account_info", Disconnect())
    emu = _emu(xau_bars, plan, connected=False)
    assert emu.account_info() is None
    assert emu.last_error() == NO_IPC
    assert emu.initialize() is True
    assert emu.terminal_info().connected is False  # as configured, not changed by the fault
    assert emu.order_send(BUY).retcode == 10031  # the broker link is down: No connection


def test_disconnect_on_order_send_executes_nothing(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Disconnect())
    emu = _emu(xau_bars, plan)
    assert emu.order_send(BUY) is None
    assert emu.last_error() == NO_IPC
    assert emu.initialize() is True
    assert emu.positions_total() == 0
    assert _deals(emu) == 1  # the deposit only


def test_disconnect_on_initialize_fails_it_and_the_next_one_reconnects(
        xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("initialize", Disconnect())
    emu = _emu(xau_bars, FaultPlan())
    emu.faults = plan
    assert emu.initialize() is False
    assert emu.last_error() == NO_IPC
    assert emu.version() is None
    assert emu.initialize() is True
    assert emu.version() == (500, 5200, "01 Aug 2025")


def test_ipc_timeout_fails_one_call_and_executes_nothing(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", IpcTimeout())
    emu = _emu(xau_bars, plan)
    assert emu.order_send(BUY) is None
    assert emu.last_error() == TIMEOUT
    assert emu.positions_total() == 0  # the connection stays up
    assert emu.last_error() == OK
    assert _deals(emu) == 1
    res = emu.order_send(BUY)
    assert (res.retcode, res.price, res.request_id) == (10009, 2270.74, 1)
    assert plan.fired == [("order_send", "ipc_timeout")]


def test_ipc_timeout_on_initialize_returns_false(xau_bars: np.ndarray) -> None:
    emu = _emu(xau_bars, FaultPlan().add("initialize", IpcTimeout(), skip=1))
    assert emu.initialize() is False
    assert emu.last_error() == TIMEOUT
    assert emu.account_info().balance == 10000.0  # still connected from the first initialize


def test_lost_reply_executes_the_order_and_hides_the_result(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", LostReply())
    emu = _emu(xau_bars, plan)
    assert emu.order_send(BUY) is None
    assert emu.last_error() == RECV
    positions = emu.positions_get()
    assert len(positions) == 1
    pos = positions[0]
    assert (pos.ticket, pos.comment, pos.magic, pos.volume, pos.price_open, pos.time) == (
        1000001, "tm s1-20240405T0430-b", 7, 0.1, 2270.74, T)
    deals = emu.history_deals_get(0, 2**31 - 1)
    assert len(deals) == 2
    assert (deals[1].position_id, deals[1].entry, deals[1].comment) == (
        1000001, 0, "tm s1-20240405T0430-b")
    assert plan.fired == [("order_send", "lost_reply")]
    # the caller finds its order by the comment: exactly one position for the intent
    mine = [p for p in emu.positions_get(symbol="XAUUSD") if p.comment == BUY["comment"]]
    assert len(mine) == 1


def test_lost_reply_on_a_close_closes_the_position(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", LostReply(), when=lambda args, kwargs:
                           args[0].get("position", 0) != 0)
    emu = _emu(xau_bars, plan)
    ticket = emu.order_send(BUY).order
    emu.replay.open_bar("XAUUSD", N + 1)  # open 2274.56
    close = {**BUY, "type": 1, "position": ticket, "comment": "tm s1-close"}
    assert emu.order_send(close) is None
    assert emu.last_error() == RECV
    assert emu.positions_total() == 0
    out = emu.history_deals_get(position=ticket)
    assert [(d.entry, d.price) for d in out] == [(0, 2270.74), (1, 2274.56)]
    assert out[1].profit == 38.2  # (2274.56 - 2270.74) x 100 oz x 0.1 lot
    again = emu.order_send(close)  # a blind re-send meets the closed position
    assert (again.retcode, again.comment) == (10036, "Position already closed")


def test_lost_reply_with_bad_arguments_gives_the_argument_error(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", LostReply())
    emu = _emu(xau_bars, plan)
    assert emu.order_send({**BUY, "volume": 1}) is None
    assert emu.last_error() == (-2, 'Invalid "volume" argument')  # never left the client
    assert emu.positions_total() == 0
    assert plan.fired == [("order_send", "lost_reply")]
