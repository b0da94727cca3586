"""The simulator's memory: thread-safe (one re-entrant lock and a condition), shared by the
server's event loop (which never blocks on it beyond the lock) and by test/user threads (which
may wait on it with the ``wait_*`` methods).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from trademaestro.platform.sim.config import (
    ActiveStrategy,
    ExecutorCredentials,
    SimulatorConfig,
    SupervisorPolicy,
)
from trademaestro.platform.sim.records import (
    ClientMessage,
    CommandRecord,
    Delivery,
    HeartbeatRecord,
    StatusReport,
    SupervisorRequestRecord,
    WsFaults,
    canonical_command_type,
    utc_now_iso,
)

T = TypeVar("T")
_MAX_CLIENT_MESSAGES = 10_000


class SimState:
    """Executors, commands, heartbeats, supervisor requests, sockets and faults.

    Every public method takes the lock; every change wakes the ``wait_*`` callers.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._cond = threading.Condition(threading.RLock())
        self._executors = {e.executor_id: e for e in config.executors}
        self._commands: dict[str, CommandRecord] = {}
        self._heartbeats: list[HeartbeatRecord] = []
        self._supervisor_requests: list[SupervisorRequestRecord] = []
        self._policy = config.supervisor
        self._faults = WsFaults()
        self._active = {k: list(v) for k, v in config.active_strategies.items()}
        self._subscriptions: dict[str, set[str]] = {}  # socket id -> channels
        self._client_messages: list[ClientMessage] = []
        self._auth_failures: list[dict[str, str]] = []

    # --- executors -------------------------------------------------------------------------
    def executor(self, executor_id: str) -> ExecutorCredentials | None:
        """The executor with this id, or None."""
        return self._executors.get(executor_id)

    @property
    def executor_ids(self) -> list[str]:
        """The known executor ids, in configuration order."""
        return list(self._executors)

    def authenticate(
        self, api_key: str | None, api_secret: str | None
    ) -> ExecutorCredentials | None:
        """The executor these headers belong to, or None (secret compared in constant time)."""
        if not api_key or api_secret is None:
            return None
        for creds in self._executors.values():
            if hmac.compare_digest(creds.api_key.encode(), api_key.encode()):
                if hmac.compare_digest(creds.api_secret.encode(), api_secret.encode()):
                    return creds
                return None
        return None

    def record_auth_failure(self, path: str, reason: str, api_key: str | None) -> None:
        """Remember a refused request (path, reason, the key id; never the secret)."""
        with self._cond:
            self._auth_failures.append({"path": path, "reason": reason,
                                        "apiKey": api_key or "", "at": utc_now_iso()})
            self._changed()

    @property
    def auth_failures(self) -> list[dict[str, str]]:
        """Refused requests, oldest first."""
        with self._cond:
            return list(self._auth_failures)

    # --- commands --------------------------------------------------------------------------
    def add_command(
        self,
        executor_id: str,
        command: str,
        parameters: dict[str, Any],
        *,
        deliver: Delivery,
        source: str,
        command_id: str | None = None,
        wire: dict[str, Any] | None = None,
    ) -> CommandRecord:
        """Register a command (or return the existing record of the same id, unchanged).

        ``wire`` defaults to the canonical COMMAND OBJECT ``{"commandId", "command",
        "parameters", "createdAt"}``; a generated id is ``cmd-`` and 12 random hex digits.
        """
        with self._cond:
            if command_id is not None and command_id in self._commands:
                return self._commands[command_id]
            cid = command_id or f"cmd-{secrets.token_hex(6)}"
            created = utc_now_iso()
            record = CommandRecord(
                command_id=cid, executor_id=executor_id, command=command,
                parameters=parameters, created_at=created, deliver=deliver, source=source,
                wire=wire if wire is not None else {
                    "commandId": cid, "command": command, "parameters": parameters,
                    "createdAt": created,
                },
            )
            self._commands[cid] = record
            self._changed()
            return record

    def command(self, command_id: str) -> CommandRecord | None:
        """The record of this command id, or None."""
        with self._cond:
            return self._commands.get(command_id)

    def commands(self, executor_id: str | None = None) -> list[CommandRecord]:
        """Every command (of one executor when given), in creation order."""
        with self._cond:
            return [c for c in self._commands.values()
                    if executor_id is None or c.executor_id == executor_id]

    def count_pusher_send(self, command_id: str) -> None:
        """Count one hand-over of the command's event to a socket."""
        with self._cond:
            if command_id in self._commands:
                self._commands[command_id].pusher_sends += 1
                self._changed()

    def report_status(
        self, executor_id: str, command_id: str, status: str, result: dict[str, Any] | None
    ) -> CommandRecord | None:
        """Append a status report; None when the id is unknown to this executor."""
        with self._cond:
            record = self._commands.get(command_id)
            if record is None or record.executor_id != executor_id:
                return None
            record.history.append(StatusReport(status, result, utc_now_iso()))
            if status == "executed" and self.config.track_active_strategies:
                self._track_active(record)
            self._changed()
            return record

    def _track_active(self, record: CommandRecord) -> None:
        kind = canonical_command_type(record.command)
        params = record.parameters
        if kind in ("START_STRATEGY", "UPDATE_STRATEGY"):
            doc = params.get("strategy", params)
            sid = doc.get("strategyId") if isinstance(doc, dict) else None
            if isinstance(sid, str) and isinstance(doc, dict):
                items = [a for a in self._active.get(record.executor_id, [])
                         if a.strategy_id != sid]
                self._active[record.executor_id] = [*items, ActiveStrategy(sid, doc, True)]
        elif kind == "STOP_STRATEGY" and isinstance(params.get("strategyId"), str):
            self._active[record.executor_id] = [
                a for a in self._active.get(record.executor_id, [])
                if a.strategy_id != params["strategyId"]
            ]

    def take_pending(self, executor_id: str) -> list[dict[str, Any]]:
        """The COMMAND OBJECTs for a heartbeat answer (counting the hand-over)."""
        with self._cond:
            out = []
            for record in self._commands.values():
                if record.executor_id == executor_id and record.pending:
                    record.heartbeat_sends += 1
                    out.append(record.wire)
            if out:
                self._changed()
            return out

    # --- heartbeats and supervisor --------------------------------------------------------
    def add_heartbeat(self, record: HeartbeatRecord) -> None:
        """Store one heartbeat."""
        with self._cond:
            self._heartbeats.append(record)
            self._changed()

    def heartbeats(self, executor_id: str | None = None) -> list[HeartbeatRecord]:
        """Heartbeats received (of one executor when given), oldest first."""
        with self._cond:
            return [h for h in self._heartbeats
                    if executor_id is None or h.executor_id == executor_id]

    def add_supervisor_request(self, record: SupervisorRequestRecord) -> None:
        """Store one supervisor request."""
        with self._cond:
            self._supervisor_requests.append(record)
            self._changed()

    def supervisor_requests(self) -> list[SupervisorRequestRecord]:
        """Supervisor requests received, oldest first."""
        with self._cond:
            return list(self._supervisor_requests)

    @property
    def supervisor_policy(self) -> SupervisorPolicy:
        """The current supervisor policy."""
        with self._cond:
            return self._policy

    def set_supervisor_policy(self, policy: SupervisorPolicy) -> None:
        """Replace the supervisor policy (takes effect for the next request)."""
        with self._cond:
            self._policy = policy
            self._changed()

    # --- active strategies ------------------------------------------------------------------
    def active_strategies(self, executor_id: str) -> list[ActiveStrategy]:
        """What ``/active-strategies`` serves for this executor."""
        with self._cond:
            return list(self._active.get(executor_id, []))

    def set_active_strategies(self, executor_id: str, items: list[ActiveStrategy]) -> None:
        """Replace this executor's active strategies."""
        with self._cond:
            self._active[executor_id] = list(items)
            self._changed()

    # --- WebSocket ----------------------------------------------------------------------------
    @property
    def faults(self) -> WsFaults:
        """A copy of the current WebSocket faults."""
        with self._cond:
            f = self._faults
            return WsFaults(f.drop_next, f.delay_seconds, f.refuse_connections, f.answer_pings)

    def set_faults(self, faults: WsFaults) -> None:
        """Replace the WebSocket faults."""
        with self._cond:
            self._faults = faults
            self._changed()

    def take_drop(self) -> bool:
        """True (and one fewer to drop) when the next event frame must be dropped."""
        with self._cond:
            if self._faults.drop_next > 0:
                self._faults.drop_next -= 1
                self._changed()
                return True
            return False

    def socket_opened(self, socket_id: str) -> None:
        """A client got its ``connection_established``."""
        with self._cond:
            self._subscriptions[socket_id] = set()
            self._changed()

    def socket_closed(self, socket_id: str) -> None:
        """A client went away (its subscriptions with it)."""
        with self._cond:
            self._subscriptions.pop(socket_id, None)
            self._changed()

    def set_subscribed(self, socket_id: str, channel: str, subscribed: bool) -> None:
        """Record a subscription (or an unsubscription)."""
        with self._cond:
            channels = self._subscriptions.setdefault(socket_id, set())
            (channels.add if subscribed else channels.discard)(channel)
            self._changed()

    def subscribers(self, channel: str) -> list[str]:
        """Socket ids subscribed to ``channel``."""
        with self._cond:
            return [s for s, chans in self._subscriptions.items() if channel in chans]

    @property
    def sockets(self) -> list[str]:
        """Socket ids of the open connections."""
        with self._cond:
            return list(self._subscriptions)

    def add_client_message(self, message: ClientMessage) -> None:
        """Remember a client frame (bounded to the last 10 000)."""
        with self._cond:
            self._client_messages.append(message)
            del self._client_messages[:-_MAX_CLIENT_MESSAGES]
            self._changed()

    def client_messages(self, event: str | None = None) -> list[ClientMessage]:
        """Client frames (of one event name when given), oldest first."""
        with self._cond:
            return [m for m in self._client_messages if event is None or m.event == event]

    # --- waiting ----------------------------------------------------------------------------
    def wait_until(self, probe: Callable[[], T | None], timeout: float, what: str) -> T:
        """Block until ``probe()`` returns a value that is not None/False; return it.

        Raises:
            TimeoutError: after ``timeout`` seconds, naming ``what``.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = probe()
                if value is not None and value is not False:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"platform simulator: {what} not seen within {timeout} s")
                self._cond.wait(left)

    def wait_for_status(self, command_id: str, status: str, timeout: float = 10.0) -> CommandRecord:
        """Wait until the command has a ``status`` report; returns its record."""
        def probe() -> CommandRecord | None:
            record = self._commands.get(command_id)
            return record if record is not None and status in record.statuses else None
        return self.wait_until(probe, timeout, f"status {status!r} of command {command_id}")

    def wait_for_subscription(self, channel: str, timeout: float = 10.0) -> str:
        """Wait until a socket is subscribed to ``channel``; returns its socket id."""
        def probe() -> str | None:
            subs = self.subscribers(channel)
            return subs[0] if subs else None
        return self.wait_until(probe, timeout, f"a subscription to {channel}")

    def wait_for_heartbeats(self, count: int, timeout: float = 10.0) -> list[HeartbeatRecord]:
        """Wait until at least ``count`` heartbeats were received; returns them all."""
        return self.wait_until(
            lambda: self.heartbeats() if len(self._heartbeats) >= count else None,
            timeout, f"{count} heartbeat(s)",
        )

    def wait_for_supervisor_requests(
        self, count: int, timeout: float = 10.0
    ) -> list[SupervisorRequestRecord]:
        """Wait until at least ``count`` supervisor requests were received."""
        return self.wait_until(
            lambda: self.supervisor_requests() if len(self._supervisor_requests) >= count
            else None,
            timeout, f"{count} supervisor request(s)",
        )

    # --- snapshot ----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-ready (no secrets: executors appear by id and key only)."""
        with self._cond:
            return {
                "executors": [{"executorId": e.executor_id, "apiKey": e.api_key}
                              for e in self._executors.values()],
                "commands": [c.to_json() for c in self._commands.values()],
                "heartbeats": [h.to_json() for h in self._heartbeats],
                "supervisorRequests": [r.to_json() for r in self._supervisor_requests],
                "supervisorPolicy": self._policy.to_json(),
                "faults": self._faults.to_json(),
                "activeStrategies": {k: [a.to_json() for a in v]
                                     for k, v in self._active.items()},
                "sockets": {s: sorted(c) for s, c in self._subscriptions.items()},
                "authFailures": list(self._auth_failures),
            }

    def _changed(self) -> None:
        self._cond.notify_all()
        if self.config.state_file:
            _write_json_atomic(Path(self.config.state_file), self.snapshot())


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
