"""The executor's side of the platform's commands: each validated command carried out on the
strategy host and the broker, with the result the platform shows (ticket, price, volume,
retcode, error).

Manual orders (``OPEN_POSITION``, ``CLOSE_POSITION``, ``MODIFY_POSITION``, ``CLOSE_ALL``) go
through the run's exactly-once path with a client id derived from the command id
(``m.<crc32 of the id, base 36>[.<n>]``): the same command can never place a second order, not
even after a restart. A manual position opened without ``strategyId`` carries the magic number
of the strategy id ``manual``; with ``strategyId`` of a running strategy, that strategy's.
``CLOSE_ALL`` without filters closes every position carrying one of this executor's magic
numbers (hosted strategies and ``manual``) — never the account's other positions. A position
that closed meanwhile (its stop or target, its strategy: retcode 10036) is what ``CLOSE_ALL``
wants, not a failure: it is listed as ``alreadyClosed``.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from typing import Any

from trademaestro.brokers.port import OrderOutcome, Position
from trademaestro.core.errors import TradeMaestroError
from trademaestro.execution.decide import base36
from trademaestro.execution.intents import CloseIntent, Intent, ModifyIntent, OpenIntent
from trademaestro.platform.bus import CommandFailed
from trademaestro.platform.commands import (
    CloseAll,
    ClosePosition,
    Command,
    CommandType,
    ModifyPosition,
    OpenPosition,
    StopStrategy,
    StrategyParams,
    StrategyRef,
)
from trademaestro.runtime.host import StrategyHost
from trademaestro.runtime.instance import send_intent
from trademaestro.runtime.planning import magic_of

log = logging.getLogger("trademaestro.platform.handler")

MANUAL = "manual"
POSITION_CLOSED = 10036  # TRADE_RETCODE_POSITION_CLOSED (MT5_API.md §6)
MANUAL_MAGIC = magic_of(MANUAL)


def manual_client_id(command_id: str, n: int | None = None) -> str:
    """The client id of a manual order of command ``command_id`` (at most 16 characters)."""
    base = f"m.{base36(zlib.crc32(command_id.encode('utf-8')))}"
    return base if n is None else f"{base}.{n}"


class ExecutorHandler:
    """:class:`~trademaestro.platform.bus.CommandHandler` over a :class:`StrategyHost`."""

    def __init__(self, host: StrategyHost) -> None:
        self.host = host

    async def handle(self, command: Command) -> dict[str, Any]:
        """Carry out ``command``; returns its result.

        Raises:
            CommandFailed: it could not be carried out (the reason and any broker result).
        """
        try:
            return await self._dispatch(command)
        except CommandFailed:
            raise
        except TradeMaestroError as exc:
            raise CommandFailed(str(exc)) from exc

    async def _dispatch(self, command: Command) -> dict[str, Any]:
        host = self.host
        p = command.parameters
        kind = command.type
        if kind is CommandType.START_STRATEGY:
            assert isinstance(p, StrategyParams)
            return await host.start(p.loaded)
        if kind is CommandType.UPDATE_STRATEGY:
            assert isinstance(p, StrategyParams)
            return await host.update(p.loaded)
        if kind is CommandType.STOP_STRATEGY:
            assert isinstance(p, StopStrategy)
            return await host.stop(p.strategy_id, p.close_positions)
        if kind is CommandType.PAUSE_STRATEGY:
            assert isinstance(p, StrategyRef)
            return host.pause(p.strategy_id)
        if kind is CommandType.RESUME_STRATEGY:
            assert isinstance(p, StrategyRef)
            return host.resume(p.strategy_id)
        if kind is CommandType.OPEN_POSITION:
            assert isinstance(p, OpenPosition)
            return await asyncio.to_thread(self._open, command.command_id, p)
        if kind is CommandType.CLOSE_POSITION:
            assert isinstance(p, ClosePosition)
            return await asyncio.to_thread(self._close, command.command_id, p)
        if kind is CommandType.MODIFY_POSITION:
            assert isinstance(p, ModifyPosition)
            return await asyncio.to_thread(self._modify, command.command_id, p)
        assert isinstance(p, CloseAll)
        return await asyncio.to_thread(self._close_all, command.command_id, p)

    # -- manual orders (worker thread) --------------------------------------------------------
    def _send(self, intent: Intent) -> OrderOutcome:
        session = self.host.session
        orders = session.safety.executor if session.safety is not None else None
        return send_intent(intent, orders, session.adapter)

    def _result(self, outcome: OrderOutcome, what: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "ticket": outcome.order or None,
            "price": outcome.price,
            "volume": outcome.volume,
            "retcode": outcome.retcode,
        }
        if not outcome.ok:
            error = (
                f"{what} rejected: retcode {outcome.retcode} ({outcome.comment})"
                if outcome.retcode is not None
                else f"{what}: no result from the terminal, last_error {outcome.error}"
            )
            raise CommandFailed(error, {**result, "error": error})
        return result

    def _magic(self, strategy_id: str | None) -> tuple[str, int]:
        if strategy_id is None:
            return MANUAL, MANUAL_MAGIC
        hosted = self.host.get(strategy_id)
        return strategy_id, hosted.slots[0].instance.plan.magic

    def _open(self, command_id: str, p: OpenPosition) -> dict[str, Any]:
        adapter = self.host.session.adapter
        sid, magic = self._magic(p.strategy_id)
        spec = adapter.symbol_spec(p.symbol)
        volume = spec.normalize_volume(float(p.volume))
        if volume <= 0:
            raise CommandFailed(
                f"OPEN_POSITION volume {p.volume} lots is below {p.symbol}'s minimum "
                f"{spec.volume_min} (step {spec.volume_step})"
            )
        quote = adapter.quote(p.symbol)
        intent = OpenIntent(
            strategy_id=sid,
            symbol=p.symbol,
            side=p.side,
            volume=volume,
            sl=spec.round_price(float(p.sl)) if p.sl is not None else 0.0,
            tp=spec.round_price(float(p.tp)) if p.tp is not None else 0.0,
            magic=magic,
            client_id=manual_client_id(command_id),
            price=quote.ask if p.side == "buy" else quote.bid,
            reason="manual",
        )
        return self._result(self._send(intent), f"OPEN_POSITION {p.side} {volume} {p.symbol}")

    def _position(self, ticket: int) -> Position:
        for pos in self.host.session.adapter.positions():
            if pos.ticket == ticket:
                return pos
        raise CommandFailed(f"no open position with ticket {ticket}", {"ticket": ticket})

    def _close(self, command_id: str, p: ClosePosition) -> dict[str, Any]:
        pos = self._position(int(p.ticket))
        volume = pos.volume if p.volume is None else min(float(p.volume), pos.volume)
        intent = CloseIntent(
            strategy_id=MANUAL,
            symbol=pos.symbol,
            ticket=pos.ticket,
            side=pos.side,
            volume=volume,
            magic=pos.magic,
            client_id=manual_client_id(command_id),
            reason="manual",
        )
        result = self._result(self._send(intent), f"CLOSE_POSITION {pos.ticket}")
        result["ticket"] = pos.ticket
        return result

    def _modify(self, command_id: str, p: ModifyPosition) -> dict[str, Any]:
        pos = self._position(int(p.ticket))
        spec = self.host.session.adapter.symbol_spec(pos.symbol)
        intent = ModifyIntent(
            strategy_id=MANUAL,
            symbol=pos.symbol,
            ticket=pos.ticket,
            sl=spec.round_price(float(p.sl)) if p.sl is not None else pos.sl,
            tp=spec.round_price(float(p.tp)) if p.tp is not None else pos.tp,
            magic=pos.magic,
            client_id=manual_client_id(command_id),
            reason="manual",
        )
        result = self._result(self._send(intent), f"MODIFY_POSITION {pos.ticket}")
        result.update(ticket=pos.ticket, sl=intent.sl, tp=intent.tp)
        return result

    def _close_all(self, command_id: str, p: CloseAll) -> dict[str, Any]:
        magics = set(self.host.magics()) | {MANUAL_MAGIC}
        if p.strategy_id is not None:
            magics = {self._magic(p.strategy_id)[1]}
        closed: list[int] = []
        gone: list[int] = []  # closed meanwhile (its stop, its target, its strategy)
        failed: list[str] = []
        for n, pos in enumerate(self.host.session.adapter.positions()):
            if pos.magic not in magics or (p.symbol is not None and pos.symbol != p.symbol):
                continue
            intent = CloseIntent(
                strategy_id=MANUAL,
                symbol=pos.symbol,
                ticket=pos.ticket,
                side=pos.side,
                volume=pos.volume,
                magic=pos.magic,
                client_id=manual_client_id(command_id, n),
                reason="manual",
            )
            outcome = self._send(intent)
            if outcome.ok:
                closed.append(pos.ticket)
            elif outcome.retcode == POSITION_CLOSED:
                gone.append(pos.ticket)  # what CLOSE_ALL wants: that position is flat
            else:
                failed.append(f"{pos.ticket}: retcode {outcome.retcode} ({outcome.comment})")
        extra = {"alreadyClosed": gone} if gone else {}
        if failed:
            error = "CLOSE_ALL: " + "; ".join(failed)
            raise CommandFailed(error, {"tickets": closed, **extra, "error": error})
        return {"tickets": closed, **extra}
