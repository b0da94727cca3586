"""Fakes of the platform bus tests: a recording send, a recording handler, command builders."""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trademaestro.persistence.platform_store import PlatformStore
from trademaestro.platform.bus import CommandBus, CommandFailed
from trademaestro.platform.commands import Command, CommandType
from trademaestro.platform.outbox import Outbox

STRATEGIES = Path(__file__).resolve().parents[2] / "examples" / "strategies"


def strategy(name: str = "xauusd_m15_ema_cross") -> dict[str, Any]:
    """A valid strategy document from examples/strategies."""
    return json.loads((STRATEGIES / f"{name}.json").read_text(encoding="utf-8"))


def open_cmd(cid: str = "cmd-1", **params: Any) -> dict[str, Any]:
    """A valid OPEN_POSITION command object (params override the defaults)."""
    base = {"symbol": "XAUUSD", "side": "buy", "volume": 0.1, "sl": 1900.5, "tp": None}
    return {"commandId": cid, "command": "OPEN_POSITION", "parameters": {**base, **params}}


def start_cmd(cid: str = "cmd-s", name: str = "xauusd_m15_ema_cross") -> dict[str, Any]:
    """A valid START_STRATEGY command object."""
    return {"commandId": cid, "command": "START_STRATEGY", "parameters": strategy(name)}


@dataclass
class FakeSend:
    """Records every report sent; ``fail_on`` holds 1-based call numbers that raise."""

    fail_on: set[int] = field(default_factory=set)
    error: type[Exception] = ConnectionError
    calls: int = 0
    sent: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)

    async def __call__(self, cid: str, status: str, result: dict[str, Any] | None) -> None:
        self.calls += 1
        if self.calls in self.fail_on:
            raise self.error(f"send {self.calls} refused")
        self.sent.append((cid, status, copy.deepcopy(result)))

    def statuses(self, cid: str) -> list[str]:
        return [s for c, s, _ in self.sent if c == cid]


@dataclass
class FakeHandler:
    """Records every command; answers with ``results[cid]`` or raises ``errors[cid]``."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)
    handled: list[Command] = field(default_factory=list)
    entered: asyncio.Event | None = None
    block: asyncio.Event | None = None

    async def handle(self, command: Command) -> dict[str, Any]:
        self.handled.append(command)
        if self.entered is not None:
            self.entered.set()
        if self.block is not None:
            await self.block.wait()
        if command.command_id in self.errors:
            raise self.errors[command.command_id]
        if command.command_id in self.results:
            return self.results[command.command_id]
        if command.type is CommandType.OPEN_POSITION:
            return {"ticket": 1001, "price": 1912.35, "volume": 0.1, "retcode": 10009}
        return {"ok": True}


def make_bus(store: PlatformStore, handler: Any, send: FakeSend | None = None
             ) -> tuple[CommandBus, Outbox, FakeSend]:
    """A bus over ``store`` with an outbox sending through a FakeSend."""
    send = send or FakeSend()
    outbox = Outbox(store, send, backoff=(0.0, 0.0))
    return CommandBus(store, handler, outbox, queue_size=8), outbox, send


def queued(store: PlatformStore, cid: str) -> list[tuple[str, dict[str, Any] | None]]:
    """(status, result) of every report queued for ``cid``, in order."""
    return [(r.status, r.result) for r in store.reports() if r.command_id == cid]


__all__ = ["CommandFailed"]
