"""CLOSE_ALL on real XAUUSD prices: a position that closes between the command's look at the
positions and its close order (its stop hit, its strategy exited: retcode 10036) is what the
trader asked for, not a failure; any other refusal still fails the command."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from trademaestro.brokers.emulator import MT5Emulator
from trademaestro.brokers.emulator.faults import FaultPlan, Retcode
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.port import Position
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import load_bars
from trademaestro.platform.bus import CommandFailed
from trademaestro.platform.commands import parse_command
from trademaestro.platform.handler import ExecutorHandler

MAGIC = 7


class RacingAdapter(MT5Adapter):
    """Lists the positions, then the first one closes at the broker before any close order."""

    def positions(self, *, symbol: str | None = None, magic: int | None = None) -> list[Position]:
        listed = super().positions(symbol=symbol, magic=magic)
        if listed:
            first = listed[0]
            reply = self.mt5.order_send({
                "action": 1, "symbol": first.symbol, "volume": first.volume, "type": 1,
                "position": first.ticket, "price": 0.0, "deviation": 20, "type_filling": 1,
                "magic": MAGIC, "comment": "its stop"})
            assert reply.retcode == 10009
        return listed


def _handler(shared_data: Path) -> tuple[ExecutorHandler, MT5Emulator, list[int]]:
    emu = MT5Emulator()
    bars = load_bars(shared_data / "XAUUSD_M15_2024Q1.csv")
    emu.replay.load_rates("XAUUSD", Timeframe.M15, bars.rates, has_spread=bars.has_spread)
    emu.replay.open_bar("XAUUSD", 1)
    adapter = RacingAdapter(emu)
    adapter.connect()
    tickets = []
    for _ in range(2):
        reply = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0,
                                "price": 0.0, "deviation": 20, "type_filling": 1,
                                "magic": MAGIC, "comment": "tm test"})
        assert reply.retcode == 10009
        tickets.append(reply.order)
    host: Any = SimpleNamespace(magics=lambda: {MAGIC: "s1"},
                                session=SimpleNamespace(safety=None, adapter=adapter))
    return ExecutorHandler(host), emu, tickets


def test_a_position_closed_meanwhile_is_not_a_failure(shared_data: Path) -> None:
    handler, emu, tickets = _handler(shared_data)
    command = parse_command({"commandId": "panic", "command": "CLOSE_ALL", "parameters": {}})
    result = asyncio.run(handler.handle(command))
    assert result == {"tickets": [tickets[1]], "alreadyClosed": [tickets[0]]}
    assert emu.positions_total() == 0


def test_other_refusals_still_fail_the_command(shared_data: Path) -> None:
    handler, emu, tickets = _handler(shared_data)
    # the racing close and the close of the gone position pass; the last close: market closed
    emu.faults = FaultPlan().add("order_send", Retcode(10018), skip=2)
    command = parse_command({"commandId": "panic", "command": "CLOSE_ALL", "parameters": {}})
    with pytest.raises(CommandFailed) as caught:
        asyncio.run(handler.handle(command))
    assert caught.value.result["alreadyClosed"] == [tickets[0]]
    assert "10018" in caught.value.reason
