"""GhostPosition on real XAUUSD M15 bars: a closed position stays visible in positions_get /
positions_total for exactly N seconds of replay (server) time, with its last values, whether it
was closed by an order or by its stop loss."""

from __future__ import annotations

import numpy as np

from trademaestro.brokers.emulator import EmulatorConfig, FaultPlan, GhostPosition, MT5Emulator
from trademaestro.core.timeframes import Timeframe

# Bars N..N+3 (file rows): 2024-04-05 04:30, 04:45, 05:00, 05:15 server time.
# N: open 2270.69 low 2267.75 spread 5; N+1: open 2274.56 spread 5.
N = 1000
T = 1712291400
BUY = {"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0, "magic": 7,
       "comment": "tm s1-20240405T0430-b"}


def _emu(bars: np.ndarray, plan: FaultPlan | None) -> MT5Emulator:
    emu = MT5Emulator(EmulatorConfig(), faults=plan)
    emu.replay.load_rates("XAUUSD", Timeframe.M15, bars)
    assert emu.initialize() is True
    emu.replay.open_bar("XAUUSD", N)
    return emu


def _ghost_plan(seconds: float) -> FaultPlan:
    return (FaultPlan().add("positions_get", GhostPosition(seconds), times=None)
            .add("positions_total", GhostPosition(seconds), times=None))


def _visible(emu: MT5Emulator) -> tuple[int, int]:
    return emu.positions_total(), len(emu.positions_get())


def test_ghost_after_a_close_order_lasts_exactly_n_seconds(xau_bars: np.ndarray) -> None:
    plan = _ghost_plan(1800)
    emu = _emu(xau_bars, plan)
    ticket = emu.order_send(BUY).order
    emu.replay.run_bar("XAUUSD", N)
    emu.replay.open_bar("XAUUSD", N + 1)  # T + 900
    close = emu.order_send({**BUY, "type": 1, "position": ticket})
    assert (close.retcode, close.price) == (10009, 2274.56)
    ghost = emu.positions_get()[0]
    assert tuple(ghost) == (ticket, T, T * 1000, T, T * 1000, 0, 7, ticket, 3, 0.1, 2270.74,
                            0.0, 0.0, 2274.56, 0.0, 38.2, "XAUUSD", "tm s1-20240405T0430-b", "")
    seen = [_visible(emu)]
    emu.replay.run_bar("XAUUSD", N + 1)  # T + 1799 (close + 899)
    seen.append(_visible(emu))
    emu.replay.open_bar("XAUUSD", N + 2)  # close + 900
    seen.append(_visible(emu))
    emu.replay.run_bar("XAUUSD", N + 2)  # close + 1799
    seen.append(_visible(emu))
    emu.replay.open_bar("XAUUSD", N + 3)  # close + 1800: gone
    seen.append(_visible(emu))
    assert seen == [(1, 1), (1, 1), (1, 1), (1, 1), (0, 0)]
    assert len(emu.history_deals_get(0, 2**31 - 1)) == 3  # deposit, IN, OUT
    assert ("positions_get", "ghost_position") in plan.fired


def test_ghost_after_a_stop_loss(xau_bars: np.ndarray) -> None:
    plan = _ghost_plan(900)
    emu = _emu(xau_bars, plan)
    ticket = emu.order_send({**BUY, "sl": 2268.0}).order
    emu.replay.run_bar("XAUUSD", N)  # low 2267.75 <= SL: closed at 2268.00, deal time T
    sl_deal = emu.history_deals_get(position=ticket)[-1]
    assert (sl_deal.time, sl_deal.price, sl_deal.reason, sl_deal.profit) == (T, 2268.0, 4, -27.4)
    ghost = emu.positions_get(symbol="XAUUSD")
    assert [(g.ticket, g.sl, g.price_current, g.profit) for g in ghost] == [
        (ticket, 2268.0, 2268.0, -27.4)]
    assert emu.positions_total() == 1  # T + 899
    emu.replay.open_bar("XAUUSD", N + 1)  # T + 900
    assert _visible(emu) == (0, 0)


def test_ghost_obeys_filters_and_follows_the_open_positions(xau_bars: np.ndarray) -> None:
    plan = _ghost_plan(600)
    emu = _emu(xau_bars, plan)
    first = emu.order_send(BUY).order
    second = emu.order_send({**BUY, "comment": "tm other"}).order
    emu.order_send({**BUY, "type": 1, "position": first})
    assert [p.ticket for p in emu.positions_get()] == [second, first]
    assert [p.ticket for p in emu.positions_get(ticket=first)] == [first]
    assert emu.positions_get(symbol="EURUSD") == ()
    assert [p.ticket for p in emu.positions_get(group="*XAU*")] == [second, first]
    assert emu.positions_total() == 2
    again = emu.order_send({**BUY, "type": 1, "position": first})  # trading the ghost
    assert (again.retcode, again.comment) == (10036, "Position already closed")


def test_ghost_rule_counts_calls_like_any_rule(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("positions_total", GhostPosition(3600))  # the next call only
    emu = _emu(xau_bars, plan)
    ticket = emu.order_send(BUY).order
    assert emu.positions_total() == 1  # the ghost rule applied here, nothing closed yet
    emu.order_send({**BUY, "type": 1, "position": ticket})
    assert emu.positions_total() == 0
    assert len(emu.positions_get()) == 0  # no rule on positions_get
    assert plan.fired == [("positions_total", "ghost_position")]


def test_no_ghost_without_the_fault_or_before_the_plan(xau_bars: np.ndarray) -> None:
    emu = _emu(xau_bars, None)
    ticket = emu.order_send(BUY).order
    emu.order_send({**BUY, "type": 1, "position": ticket})
    assert _visible(emu) == (0, 0)
    emu.faults = _ghost_plan(3600)  # installed after the close: it never saw it
    assert _visible(emu) == (0, 0)
    ticket = emu.order_send(BUY).order
    emu.order_send({**BUY, "type": 1, "position": ticket})
    assert [p.ticket for p in emu.positions_get()] == [ticket]
