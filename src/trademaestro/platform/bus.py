"""The command bus: one queue for every delivery path, each command id executed at most once.

Commands come from Pusher, the heartbeat's ``pendingCommands``, the CLI and the local API;
:meth:`CommandBus.submit` puts each delivery, as it is, on ONE bounded asyncio queue (back
pressure: a full queue makes the producer wait). :meth:`CommandBus.run` takes them one at a time:

1. read the command id (:func:`~.commands.command_id_of`); a delivery without a readable id
   cannot be reported and is logged and dropped;
2. admit it in SQLite (:meth:`PlatformStore.admit`). A known id (a duplicate by another path, or
   after a restart) is NOT executed: its recorded status and result are reported again;
3. validate it (:func:`~.commands.parse_command`). Invalid: ``failed`` with the reason and the
   JSON path; the handler never sees it;
4. ``executing`` is committed, then the handler runs; its result gives ``executed``, a
   :class:`CommandFailed` or any other exception gives ``failed`` with the error text. Nothing a
   handler raises stops the bus.

Status reports (``received`` -> ``executing`` -> ``executed`` | ``failed``; ``received`` ->
``failed`` for an invalid command) go through the :class:`~.outbox.Outbox`; each status change
and its report are one transaction.

Restart (``run`` calls :meth:`recover` first):

- a command left ``executing`` by a previous process (it died while the handler ran) is NOT
  executed again: whether its order reached the broker is unknown here. It is reported
  ``failed`` with ``{"error": INTERRUPTED}``. The handler's order path is itself exactly-once
  through the order journal, which resolves an unknown order by look-up; a human (or the
  platform) decides whether to send a new command after checking the positions. Re-executing
  would risk a second order for a command that did complete;
- a command left ``received`` (admitted, but the crash came before ``executing`` was committed)
  provably never reached the handler, so it is validated and executed now.

Commands still in the in-memory queue when the bus stops were never admitted: no status was
reported, so the platform keeps them pending and the heartbeat delivers them again.

Commands are executed one at a time, in arrival order; a handler should return quickly (start a
strategy, send one order) and not wait on long work, or it delays the commands behind it. The
exception is ``CLOSE_ALL`` (the panic button, also spelt ``EMERGENCY_STOP``): it goes (by its
type, before validation) to an urgent lane that runs beside the queue, so it never waits behind
a slow command or a long queue (one ``CLOSE_ALL`` at a time; the same admission, dedupe and
reporting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Literal, Protocol

from trademaestro.core.errors import TradeMaestroError
from trademaestro.persistence.platform_store import CommandRecord, PlatformStore, json_text
from trademaestro.platform.commands import (
    TYPE_KEYS,
    Command,
    CommandError,
    CommandType,
    as_object,
    command_id_of,
    command_type_of,
    parse_command,
)
from trademaestro.platform.outbox import Outbox, describe_error

log = logging.getLogger(__name__)

Source = Literal["pusher", "heartbeat", "cli", "api"]
SOURCES: tuple[str, ...] = ("pusher", "heartbeat", "cli", "api")
INTERRUPTED = "interrupted by a restart; not re-executed (check positions)"


class CommandFailed(TradeMaestroError):
    """Raised by a handler when a command could not be executed.

    Attributes:
        reason: the error text reported as ``result["error"]``.
        result: further result keys (ticket, retcode ...) reported with it.
    """

    def __init__(self, reason: str, result: dict[str, Any] | None = None) -> None:
        self.reason = reason
        self.result = dict(result or {})
        super().__init__(reason)


class CommandHandler(Protocol):
    """Executes valid commands (the executor's strategy registry and order path)."""

    async def handle(self, command: Command) -> dict[str, Any]:
        """Execute ``command``; return the result (keys as they apply: ticket, price, volume,
        retcode, plus free keys such as ``tickets``).

        Raises:
            CommandFailed: the command could not be executed (reason and partial result).
        """
        ...


class CommandBus:
    """One queue, one consumer, persisted dedupe (module docstring).

    Args:
        store: the platform store (commands and outbox tables).
        handler: executes valid commands.
        outbox: sends the status reports (woken after every status change).
        queue_size: capacity of the queue (>= 1); a full queue makes :meth:`submit` wait.
    """

    def __init__(
        self,
        store: PlatformStore,
        handler: CommandHandler,
        outbox: Outbox,
        *,
        queue_size: int = 1000,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size: found {queue_size}; allowed: >= 1")
        self.store = store
        self.handler = handler
        self.outbox = outbox
        self.queue: asyncio.Queue[tuple[object, str]] = asyncio.Queue(queue_size)
        self.urgent: asyncio.Queue[tuple[object, str]] = asyncio.Queue(queue_size)
        self.idle = asyncio.Event()
        """Set while the queues are empty and no command is being processed (tests/wiring)."""
        self.idle.set()
        self._busy = 0

    async def submit(self, raw: object, source: Source) -> None:
        """Queue one delivery (a command object, its JSON text or bytes) from ``source``.

        Never raises on bad input: everything is judged by the consumer. Waits while the queue
        is full.
        """
        if source not in SOURCES:
            log.warning("command delivered by unknown source %r (recorded as is)", source)
        self.idle.clear()
        lane = self.urgent if _is_close_all(raw) else self.queue
        await lane.put((raw, str(source)[:32]))

    async def run(self, stop: asyncio.Event) -> None:
        """Recover what a previous process left unfinished, then process deliveries until
        ``stop`` is set (the command being processed is finished first)."""
        await self.recover()
        urgent = asyncio.create_task(self._lane(self.urgent, stop), name="command-bus-urgent")
        try:
            await self._lane(self.queue, stop)
        finally:
            if not stop.is_set():  # cancelled or failed: the urgent lane goes with it
                urgent.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await urgent
        self.idle.set()

    async def _lane(self, queue: asyncio.Queue[tuple[object, str]], stop: asyncio.Event) -> None:
        """Process ``queue``'s deliveries one at a time until ``stop`` is set."""
        while not stop.is_set():
            self._maybe_idle()
            getter = asyncio.ensure_future(queue.get())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if getter not in done:
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
                if not getter.cancelled():  # got an item at the last moment: put it back
                    with contextlib.suppress(asyncio.QueueFull):  # else the heartbeat re-delivers
                        queue.put_nowait(getter.result())
                break
            raw, source = getter.result()
            self._busy += 1
            try:
                await self.process(raw, source)
            finally:
                self._busy -= 1

    def _maybe_idle(self) -> None:
        if self.queue.empty() and self.urgent.empty() and self._busy == 0:
            self.idle.set()

    async def drain(self) -> None:
        """Process every queued delivery now, urgent ones first, without a running :meth:`run`
        (CLI use, tests)."""
        for queue in (self.urgent, self.queue):
            while not queue.empty():
                raw, source = queue.get_nowait()
                await self.process(raw, source)
        self.idle.set()

    async def recover(self) -> None:
        """Settle the commands a previous process left unfinished (module docstring)."""
        for record in self.store.unfinished():
            try:
                if record.status == "executing":
                    log.warning("command %s was executing when the executor stopped: reported "
                                "failed, not re-executed", record.command_id)
                    self._move(record.command_id, "failed", {"error": INTERRUPTED})
                else:
                    await self._execute(record.command_id, _parse(record.raw))
            except Exception:  # a defect must not stop the recovery of the others
                log.exception("recovery of command %s failed", record.command_id)

    async def process(self, raw: object, source: str) -> None:
        """Process one delivery (steps 1-4 of the module docstring). Never raises (except
        cancellation)."""
        try:
            obj = as_object(raw)
            command_id = command_id_of(obj)
            parsed = _parse(obj)
            if command_id is None:
                log.warning("command without a readable id dropped (source %s): %s", source,
                            parsed)
                return
            admission = self.store.admit(command_id, _type_text(obj, parsed), source, obj)
            self.outbox.wake()
            if not admission.created:
                log.info("command %s delivered again by %s: status %s re-reported, not "
                         "executed", command_id, source, admission.record.status)
                return
            await self._execute(command_id, parsed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("command delivery from %s could not be processed", source)

    async def _execute(self, command_id: str, parsed: Command | CommandError) -> None:
        if isinstance(parsed, CommandError):
            log.warning("%s", parsed)
            self._move(command_id, "failed", parsed.result())
            return
        command = parsed
        self._move(command_id, "executing", None)
        try:
            result = await self.handler.handle(command)
        except CommandFailed as exc:
            self._move(command_id, "failed", {**exc.result, "error": exc.reason})
            return
        except asyncio.CancelledError:
            raise  # left executing: reported failed (interrupted) at the next start
        except Exception as exc:  # a handler defect must not kill the bus
            log.exception("command %s: handler raised", command_id)
            self._move(command_id, "failed", {"error": describe_error(exc)})
            return
        if not isinstance(result, dict):  # a handler outside the Protocol: keep what it said
            result = {"value": json_text(result)}  # type: ignore[unreachable]
        self._move(command_id, "executed", result)

    def _move(self, command_id: str, status: str, result: dict[str, Any] | None) -> CommandRecord:
        record = self.store.transition(command_id, status, result)
        self.outbox.wake()
        return record


def _parse(obj: object) -> Command | CommandError:
    try:
        return parse_command(obj)
    except CommandError as exc:
        return exc
    except Exception as exc:  # a parser defect is an invalid command, not a crash
        return CommandError(command_id_of(obj), "(document)", describe_error(exc),
                            "a command object the parser accepts")


def _is_close_all(raw: object) -> bool:
    """Whether a delivery is a ``CLOSE_ALL`` with an id (the urgent lane), read from its type
    and id only (it is validated when processed); never raises."""
    obj = as_object(raw)
    return command_type_of(obj) is CommandType.CLOSE_ALL and command_id_of(obj) is not None


def _type_text(obj: object, parsed: Command | CommandError) -> str | None:
    """The canonical type of a valid command, else the type text as given (for the record)."""
    if isinstance(parsed, Command):
        return parsed.type.value
    if isinstance(obj, dict):
        for key in TYPE_KEYS:
            if isinstance(obj.get(key), str):
                return str(obj[key])[:64]
    return None
