"""The simulator object shared by every route: configuration, state, Pusher hub, and the two
ways a command reaches an executor (Pusher event, heartbeat ``pendingCommands``).

Also the small HTTP helpers of the routes: :class:`ApiError` (rendered ``{"error": ...}``),
JSON body parsing and executor authentication.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import Request

from trademaestro.core.errors import TradeMaestroError
from trademaestro.platform.sim.config import ExecutorCredentials, SimulatorConfig
from trademaestro.platform.sim.hub import PusherHub
from trademaestro.platform.sim.records import DELIVERIES, CommandRecord, Delivery
from trademaestro.platform.sim.state import SimState

log = logging.getLogger(__name__)
COMMAND_EVENT = "command-received"
EXECUTOR_CHANNEL_PREFIX = "private-executor-"


class ApiError(TradeMaestroError):
    """An HTTP error answer: ``status`` with body ``{"error": message}`` (raised as is by the
    thread-safe Python API of :class:`~trademaestro.platform.sim.runner.RunningSimulator`)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def executor_channel(executor_id: str) -> str:
    """``private-executor-{executor_id}``."""
    return f"{EXECUTOR_CHANNEL_PREFIX}{executor_id}"


def command_fields(obj: dict[str, Any]) -> tuple[str | None, str, dict[str, Any]]:
    """(id, type, parameters) of a COMMAND OBJECT in any of the contract's spellings
    (id: ``commandId``|``id``; type: ``command``|``type``|``commandType``; parameters:
    ``parameters``|``payload``|``params``). Missing or mistyped parts come back as
    None / ``""`` / ``{}``."""
    cid: Any = next((obj[k] for k in ("commandId", "id") if k in obj), None)
    kind: Any = next((obj[k] for k in ("command", "type", "commandType") if k in obj), "")
    params: Any = next((obj[k] for k in ("parameters", "payload", "params") if k in obj), {})
    return (
        str(cid) if isinstance(cid, str | int) and not isinstance(cid, bool) else None,
        kind if isinstance(kind, str) else "",
        params if isinstance(params, dict) else {},
    )


class Simulator:
    """One simulated platform (used on the server's event loop)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.state = SimState(config)
        self.hub = PusherHub(config, self.state)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None

    async def started(self) -> None:
        """Bind to the running event loop (called by the app's lifespan)."""
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()

    async def sleep(self, seconds: float) -> bool:
        """Sleep, cut short when the server stops; True when it slept the full time."""
        if self.stopping is None:
            await asyncio.sleep(seconds)
            return True
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    async def shutdown(self) -> None:
        """Cut sleeps short and close every socket."""
        if self.stopping is not None:
            self.stopping.set()
        await self.hub.close_all()

    def default_executor(self, executor_id: str | None) -> str:
        """``executor_id`` checked, or the first configured executor when None.

        Raises:
            ApiError: 400 for an unknown id.
        """
        ids = self.state.executor_ids
        if executor_id is None:
            return ids[0]
        if executor_id not in ids:
            raise ApiError(400, f"executorId: found {executor_id!r}; allowed: {', '.join(ids)}")
        return executor_id

    async def push_command(
        self,
        command: str,
        parameters: dict[str, Any],
        *,
        deliver: Delivery = "both",
        executor_id: str | None = None,
        command_id: str | None = None,
        raw: dict[str, Any] | None = None,
    ) -> tuple[CommandRecord, int]:
        """Issue a command: register it, then (for ``pusher``/``both``) trigger
        ``command-received`` on the executor's channel. ``raw`` replaces the canonical COMMAND
        OBJECT on the wire (its id is taken from ``commandId``/``id``). Pushing an existing id
        again re-delivers the recorded command (duplicate delivery).

        Returns:
            (the record, the number of sockets the event was handed to).
        """
        if deliver not in DELIVERIES:
            raise ApiError(400, f"deliver: found {deliver!r}; allowed: {', '.join(DELIVERIES)}")
        target = self.default_executor(executor_id)
        if raw is not None:
            raw_id, raw_kind, raw_params = command_fields(raw)
            if raw_id is None:
                raise ApiError(400, "raw: no command id (commandId or id)")
            command_id, command, parameters = raw_id, raw_kind or command, raw_params
        existing = self.state.command(command_id) if command_id else None
        if existing is not None and existing.executor_id != target:
            raise ApiError(409, f"commandId {command_id!r} belongs to {existing.executor_id}")
        record = self.state.add_command(target, command, parameters, deliver=deliver,
                                        source="sim", command_id=command_id, wire=raw)
        handed = 0
        if deliver in ("pusher", "both"):
            handed = await self.hub.publish(executor_channel(target), COMMAND_EVENT,
                                            json.dumps(record.wire))
            for _ in range(handed):
                self.state.count_pusher_send(record.command_id)
        log.info("command %s (%s) for %s: deliver=%s, handed to %d socket(s)",
                 record.command_id, record.command, target, deliver, handed)
        return record, handed

    async def trigger(self, channel: str, event: str, data: str) -> int:
        """Publish a channel event (events API or ``/sim/trigger``). A ``command-received``
        on ``private-executor-{known id}`` whose data is a COMMAND OBJECT with an id is
        registered first (delivery ``both``: pending in heartbeats until a status comes)."""
        record = None
        if event == COMMAND_EVENT and channel.startswith(EXECUTOR_CHANNEL_PREFIX):
            executor_id = channel[len(EXECUTOR_CHANNEL_PREFIX):]
            try:
                obj = json.loads(data)
            except ValueError:
                obj = None
            if self.state.executor(executor_id) is not None and isinstance(obj, dict):
                cid, kind, params = command_fields(obj)
                if cid is not None:
                    record = self.state.add_command(executor_id, kind, params, deliver="both",
                                                    source="events-api", command_id=cid,
                                                    wire=obj)
        handed = await self.hub.publish(channel, event, data)
        if record is not None:
            for _ in range(handed):
                self.state.count_pusher_send(record.command_id)
        return handed


def sim_of(request: Request) -> Simulator:
    """The simulator of the app serving ``request``."""
    sim: Simulator = request.app.state.sim
    return sim


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON. Raises ApiError 400 naming the problem."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"body: not JSON ({exc})") from exc


def json_object(value: Any, where: str = "body") -> dict[str, Any]:
    """``value`` if it is a JSON object, else ApiError 400 naming ``where``."""
    if not isinstance(value, dict):
        raise ApiError(400, f"{where}: found {type(value).__name__}; allowed: object")
    return value


def authenticate(request: Request, path_executor_id: str | None = None) -> ExecutorCredentials:
    """The executor behind ``X-API-Key``/``X-API-Secret``.

    Raises:
        ApiError: 401 when the headers are missing or wrong; 403 when ``path_executor_id`` is
            given and is not the caller's id.
    """
    sim = sim_of(request)
    key = request.headers.get("x-api-key")
    creds = sim.state.authenticate(key, request.headers.get("x-api-secret"))
    if creds is None:
        sim.state.record_auth_failure(request.url.path, "invalid credentials", key)
        log.warning("401 %s: invalid API key or secret (key %r)", request.url.path, key)
        raise ApiError(401, "invalid API key or secret")
    if path_executor_id is not None and path_executor_id != creds.executor_id:
        sim.state.record_auth_failure(request.url.path, "another executor's id", key)
        raise ApiError(403, f"these credentials belong to executor {creds.executor_id}, "
                            f"not {path_executor_id}")
    return creds
