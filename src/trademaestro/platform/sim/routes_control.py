"""Control endpoints for users and tests under ``/sim/`` (no authentication: a loopback tool).

=====================================  ===================================================
``GET  /sim/health``                   ``{"ok": true}``
``POST /sim/commands``                 push a command: ``{"command", "parameters"?,
                                       "deliver"?: pusher|heartbeat|both (default both),
                                       "executorId"?, "commandId"?, "raw"?}`` ->
                                       ``{"commandId", "executorId", "deliveredTo"}``
``GET  /sim/commands[/{id}]``          records with their status history
``GET  /sim/heartbeats``               ``?executorId=``; bodies as received
``GET  /sim/supervisor/requests``      supervisor requests as received
``GET|POST /sim/supervisor``           read / update the policy (camelCase, partial)
``GET|POST /sim/ws/faults``            read / update ``dropNext``, ``delaySeconds``,
                                       ``refuseConnections``, ``answerPings`` (partial)
``POST /sim/ws/kick``                  ``{"code", "message"?, "socketId"?, "executorId"?}``
                                       -> ``{"closed": n}``
``POST /sim/ws/ping``                  ``{"socketId"?}`` -> ``{"sent": n}``
``GET  /sim/ws/sockets``               ``{socket id: [channels]}``
``POST /sim/trigger``                  ``{"channel", "event", "data"}`` unsigned trigger
``PUT  /sim/active-strategies/{id}``   ``{"strategies": [{"parameters": DOC,
                                       "strategyId"?, "shouldAutoRestart"?}]}``
``GET  /sim/state``                    everything (no secrets)
=====================================  ===================================================
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from trademaestro.core.errors import ConfigError
from trademaestro.platform.sim.config import ActiveStrategy, SupervisorPolicy
from trademaestro.platform.sim.core import (
    ApiError,
    executor_channel,
    json_body,
    json_object,
    sim_of,
)
from trademaestro.platform.sim.hub import valid_close_code

router = APIRouter(prefix="/sim")


def _str_or_none(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{key}: found {value!r}; allowed: a string")
    return value


@router.get("/health")
async def health() -> dict[str, bool]:
    """Liveness."""
    return {"ok": True}


@router.post("/commands")
async def push_command(request: Request) -> dict[str, Any]:
    """Issue a command to an executor (see the module table)."""
    sim = sim_of(request)
    body = json_object(await json_body(request))
    raw = body.get("raw")
    command = body.get("command")
    if raw is None and (not isinstance(command, str) or not command):
        raise ApiError(400, f"command: found {command!r}; allowed: a command name")
    parameters = body.get("parameters", {})
    record, handed = await sim.push_command(
        command if isinstance(command, str) else "",
        json_object(parameters, "parameters"),
        deliver=body.get("deliver", "both"),
        executor_id=_str_or_none(body, "executorId"),
        command_id=_str_or_none(body, "commandId"),
        raw=None if raw is None else json_object(raw, "raw"),
    )
    return {"commandId": record.command_id, "executorId": record.executor_id,
            "deliveredTo": handed}


@router.get("/commands")
async def list_commands(request: Request) -> dict[str, Any]:
    """Every command with its history."""
    return {"commands": [c.to_json() for c in sim_of(request).state.commands()]}


@router.get("/commands/{command_id}")
async def get_command(command_id: str, request: Request) -> dict[str, Any]:
    """One command with its history (404 when unknown)."""
    record = sim_of(request).state.command(command_id)
    if record is None:
        raise ApiError(404, f"commandId: {command_id!r} unknown")
    return record.to_json()


@router.get("/heartbeats")
async def list_heartbeats(request: Request, executorId: str | None = None) -> dict[str, Any]:  # noqa: N803
    """Heartbeats received."""
    return {"heartbeats": [h.to_json() for h in sim_of(request).state.heartbeats(executorId)]}


@router.get("/supervisor/requests")
async def list_supervisor_requests(request: Request) -> dict[str, Any]:
    """Supervisor requests received."""
    return {"requests": [r.to_json() for r in sim_of(request).state.supervisor_requests()]}


@router.get("/supervisor")
async def get_policy(request: Request) -> dict[str, Any]:
    """The supervisor policy."""
    return sim_of(request).state.supervisor_policy.to_json()


@router.post("/supervisor")
async def set_policy(request: Request) -> dict[str, Any]:
    """Update the supervisor policy (partial, camelCase); answers the new policy."""
    state = sim_of(request).state
    try:
        policy = SupervisorPolicy.from_json(await json_body(request), state.supervisor_policy)
    except ConfigError as exc:
        raise ApiError(400, str(exc)) from exc
    state.set_supervisor_policy(policy)
    return policy.to_json()


@router.get("/ws/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    """The WebSocket faults."""
    return sim_of(request).state.faults.to_json()


@router.post("/ws/faults")
async def set_faults(request: Request) -> dict[str, Any]:
    """Update the WebSocket faults (partial); answers the new faults."""
    state = sim_of(request).state
    body = json_object(await json_body(request))
    faults = state.faults
    for key, value in body.items():
        if key == "dropNext" and isinstance(value, int) and not isinstance(value, bool) \
                and value >= 0:
            faults.drop_next = value
        elif key == "delaySeconds" and isinstance(value, int | float) \
                and not isinstance(value, bool) and value >= 0:
            faults.delay_seconds = float(value)
        elif key == "refuseConnections" and isinstance(value, bool):
            faults.refuse_connections = value
        elif key == "answerPings" and isinstance(value, bool):
            faults.answer_pings = value
        else:
            raise ApiError(400, f"{key}: found {value!r}; allowed: dropNext (int >= 0), "
                                "delaySeconds (seconds >= 0), refuseConnections (bool), "
                                "answerPings (bool)")
    state.set_faults(faults)
    return faults.to_json()


@router.post("/ws/kick")
async def kick(request: Request) -> dict[str, int]:
    """Send ``pusher:error`` with ``code`` and close the matching sockets."""
    sim = sim_of(request)
    body = json_object(await json_body(request))
    code = body.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or not valid_close_code(code):
        raise ApiError(400, f"code: found {code!r}; allowed: 4000-4999 (Pusher), 3000-3999 "
                            "or a sendable 1000-1014 close code")
    executor_id = _str_or_none(body, "executorId")
    channel = executor_channel(executor_id) if executor_id else None
    closed = await sim.hub.kick(code, _str_or_none(body, "message") or "kicked by simulator",
                                socket_id=_str_or_none(body, "socketId"), channel=channel)
    return {"closed": closed}


@router.post("/ws/ping")
async def ping(request: Request) -> dict[str, int]:
    """Send ``pusher:ping`` now."""
    sim = sim_of(request)
    raw = await request.body()
    body = json_object(await json_body(request)) if raw.strip() else {}
    return {"sent": await sim.hub.ping(_str_or_none(body, "socketId"))}


@router.get("/ws/sockets")
async def sockets(request: Request) -> dict[str, Any]:
    """Open sockets and their channels."""
    return {"sockets": sim_of(request).state.snapshot()["sockets"]}


@router.post("/trigger")
async def trigger(request: Request) -> dict[str, int]:
    """Publish an event without the Pusher signature (``data``: string, or JSON-encoded)."""
    sim = sim_of(request)
    body = json_object(await json_body(request))
    channel, event, data = body.get("channel"), body.get("event"), body.get("data", "{}")
    if not isinstance(channel, str) or not isinstance(event, str) or not channel or not event:
        raise ApiError(400, "channel and event: required strings")
    text = data if isinstance(data, str) else json.dumps(data)
    return {"deliveredTo": await sim.trigger(channel, event, text)}


@router.put("/active-strategies/{executor_id}")
async def set_active(executor_id: str, request: Request) -> dict[str, Any]:
    """Replace an executor's active strategies."""
    sim = sim_of(request)
    sim.default_executor(executor_id)
    items = json_object(await json_body(request)).get("strategies")
    if not isinstance(items, list):
        raise ApiError(400, "strategies: missing or not a list")
    out: list[ActiveStrategy] = []
    for i, item in enumerate(items):
        doc = json_object(json_object(item, f"strategies[{i}]").get("parameters"),
                          f"strategies[{i}].parameters")
        sid = item.get("strategyId", doc.get("strategyId"))
        if not isinstance(sid, str) or not sid:
            raise ApiError(400, f"strategies[{i}].strategyId: missing (nor in parameters)")
        out.append(ActiveStrategy(sid, doc, bool(item.get("shouldAutoRestart", True))))
    sim.state.set_active_strategies(executor_id, out)
    return {"strategies": [a.to_json() for a in out]}


@router.get("/state")
async def state(request: Request) -> dict[str, Any]:
    """The whole state (no secrets)."""
    return sim_of(request).state.snapshot()
