"""What the simulator records: commands and their status history, heartbeats, supervisor
requests, WebSocket activity. Plain dataclasses with a ``to_json`` (camelCase, the wire style).

Times are ISO 8601 UTC strings (``2026-11-21T10:00:00.123Z``) of the simulator's clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Delivery = Literal["pusher", "heartbeat", "both"]
DELIVERIES: tuple[str, ...] = ("pusher", "heartbeat", "both")
STATUSES: tuple[str, ...] = ("received", "executing", "executed", "failed")
# The only keys the supervisor context may hold (contract item 7).
CONTEXT_KEYS: frozenset[str] = frozenset({
    "symbol", "timeframe", "proposed_action", "risk", "filters", "ml", "positions_snapshot",
})
FORBIDDEN_CONTEXT_WORDS: tuple[str, ...] = (
    "ticket", "order", "secret", "apikey", "api_key", "password", "credential", "token",
)


def utc_now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical_command_type(raw: str) -> str:
    """``startStrategy`` / ``start-strategy`` / ``start_strategy`` -> ``START_STRATEGY``
    (``EMERGENCY_STOP`` and ``CLOSE_ALL_POSITIONS`` -> ``CLOSE_ALL``), per the contract."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", raw.strip())
    name = re.sub(r"[-\s]+", "_", snake).upper()
    return "CLOSE_ALL" if name in ("EMERGENCY_STOP", "CLOSE_ALL_POSITIONS") else name


@dataclass(frozen=True)
class StatusReport:
    """One ``PATCH /api/executor/{id}/command`` as received."""

    status: str
    result: dict[str, Any] | None
    at: str

    def to_json(self) -> dict[str, Any]:
        """``{"status", "result", "at"}``."""
        return {"status": self.status, "result": self.result, "at": self.at}


@dataclass
class CommandRecord:
    """A command the platform issued to one executor.

    Attributes:
        wire: the COMMAND OBJECT exactly as delivered (Pusher event data / pendingCommands item).
        deliver: ``pusher`` (Pusher only), ``heartbeat`` (pendingCommands only) or ``both``.
        source: ``sim`` (``POST /sim/commands`` or the Python API) or ``events-api``
            (a ``command-received`` event triggered through ``POST /apps/{app_id}/events``).
        history: every status report, in arrival order.
        pusher_sends: how many times it was handed to subscribed sockets.
        heartbeat_sends: how many heartbeat answers listed it in ``pendingCommands``.
    """

    command_id: str
    executor_id: str
    command: str
    parameters: dict[str, Any]
    created_at: str
    deliver: Delivery
    source: str
    wire: dict[str, Any]
    history: list[StatusReport] = field(default_factory=list)
    pusher_sends: int = 0
    heartbeat_sends: int = 0

    @property
    def statuses(self) -> list[str]:
        """The reported statuses in order, e.g. ``["received", "executing", "executed"]``."""
        return [r.status for r in self.history]

    @property
    def pending(self) -> bool:
        """True while it goes into heartbeat answers: heartbeat delivery and no status yet."""
        return self.deliver != "pusher" and not self.history

    def to_json(self) -> dict[str, Any]:
        """The record with its history (``GET /sim/commands/{id}``)."""
        return {
            "commandId": self.command_id, "executorId": self.executor_id,
            "command": self.command, "parameters": self.parameters,
            "createdAt": self.created_at, "deliver": self.deliver, "source": self.source,
            "wire": self.wire, "history": [r.to_json() for r in self.history],
            "pending": self.pending, "pusherSends": self.pusher_sends,
            "heartbeatSends": self.heartbeat_sends,
        }


@dataclass(frozen=True)
class HeartbeatRecord:
    """One heartbeat body as received; ``problems`` lists departures from the contract."""

    executor_id: str
    body: Any
    received_at: str
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"executorId", "body", "receivedAt", "problems"}``."""
        return {"executorId": self.executor_id, "body": self.body,
                "receivedAt": self.received_at, "problems": list(self.problems)}


@dataclass(frozen=True)
class SupervisorRequestRecord:
    """One supervisor evaluation request; ``problems`` lists contract departures (e.g. a
    context key outside the allowed set, or a value equal to a credential)."""

    executor_id: str
    context: Any
    timeout_ms: Any
    policy_version: Any
    received_at: str
    behaviour: str
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"executorId", "context", "timeoutMs", "policyVersion", ...}``."""
        return {"executorId": self.executor_id, "context": self.context,
                "timeoutMs": self.timeout_ms, "policyVersion": self.policy_version,
                "receivedAt": self.received_at, "behaviour": self.behaviour,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class ClientMessage:
    """A frame a WebSocket client sent (parsed ``event`` and ``data``)."""

    socket_id: str
    event: str
    data: Any
    at: str

    def to_json(self) -> dict[str, Any]:
        """``{"socketId", "event", "data", "at"}``."""
        return {"socketId": self.socket_id, "event": self.event, "data": self.data,
                "at": self.at}


@dataclass
class WsFaults:
    """Faults applied to channel events sent to subscribed sockets.

    Attributes:
        drop_next: the next N event frames (one per socket per event) are not sent.
        delay_seconds: each event frame is sent this many seconds late.
        refuse_connections: new WebSocket handshakes are refused (HTTP 403): "Pusher down".
        answer_pings: when False, the server ignores ``pusher:ping`` (no ``pusher:pong``).
    """

    drop_next: int = 0
    delay_seconds: float = 0.0
    refuse_connections: bool = False
    answer_pings: bool = True

    def to_json(self) -> dict[str, Any]:
        """camelCase, as ``POST /sim/ws/faults`` takes it."""
        return {"dropNext": self.drop_next, "delaySeconds": self.delay_seconds,
                "refuseConnections": self.refuse_connections, "answerPings": self.answer_pings}


def heartbeat_problems(body: Any) -> tuple[str, ...]:
    """Departures of a heartbeat body from contract item 4 (empty when it conforms)."""
    if not isinstance(body, dict):
        return (f"body: found {type(body).__name__}; allowed: object",)
    problems: list[str] = []
    if not isinstance(body.get("status"), str):
        problems.append("status: missing or not a string")
    if not isinstance(body.get("timestamp"), str):
        problems.append("timestamp: missing or not an ISO 8601 string")
    account = body.get("account")
    if not isinstance(account, dict):
        problems.append("account: missing or not an object")
    else:
        for key in ("balance", "equity", "margin", "openPositions"):
            value = account.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"account.{key}: missing or not a number")
    strategies = body.get("activeStrategies")
    if not isinstance(strategies, list):
        problems.append("activeStrategies: missing or not a list")
    else:
        for i, item in enumerate(strategies):
            if not isinstance(item, dict) or not isinstance(item.get("strategyId"), str):
                problems.append(f"activeStrategies[{i}].strategyId: missing")
    if "health" in body and not isinstance(body["health"], dict):
        problems.append("health: not an object")
    return tuple(problems)


def _leaks(secret: str, value: str) -> bool:
    return bool(secret) and (value == secret or (len(secret) >= 8 and secret in value))


def context_problems(context: Any, secrets: list[str]) -> tuple[str, ...]:
    """Departures of a supervisor ``context`` from contract item 7: keys outside the allowed
    set, keys naming tickets/orders/credentials at any depth, a string equal to a secret."""
    if not isinstance(context, dict):
        return (f"context: found {type(context).__name__}; allowed: object",)
    problems = [f"context.{k}: key not allowed" for k in context if k not in CONTEXT_KEYS]

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                lowered = str(key).lower().replace("-", "_")
                if any(word in lowered for word in FORBIDDEN_CONTEXT_WORDS):
                    problems.append(f"{path}.{key}: forbidden key")
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
        elif isinstance(value, str) and any(_leaks(s, value) for s in secrets):
            problems.append(f"{path}: holds a credential")

    walk(context, "context")
    return tuple(problems)
