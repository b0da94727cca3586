"""The executor-facing endpoints of the wire contract (items 1, 2, 4, 5, 6, 7), each behind
``X-API-Key``/``X-API-Secret`` (401 wrong credentials, 403 another executor's id)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from trademaestro.platform.sim.core import (
    ApiError,
    authenticate,
    executor_channel,
    json_body,
    json_object,
    sim_of,
)
from trademaestro.platform.sim.records import (
    STATUSES,
    HeartbeatRecord,
    SupervisorRequestRecord,
    context_problems,
    heartbeat_problems,
    utc_now_iso,
)
from trademaestro.platform.sim.signing import SOCKET_ID_RE, channel_auth

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/api/executor/config")
async def executor_config(request: Request) -> dict[str, Any]:
    """Contract item 1: id, Pusher settings, heartbeat interval, supervisor settings."""
    sim = sim_of(request)
    creds = authenticate(request)
    cfg = sim.config
    policy = sim.state.supervisor_policy
    interval = cfg.heartbeat_interval_seconds
    host = cfg.pusher_host or request.url.hostname or "127.0.0.1"
    port = cfg.pusher_port or request.url.port or request.scope["server"][1]
    return {
        "executorId": creds.executor_id,
        "pusher": {"key": cfg.pusher.key, "cluster": cfg.pusher.cluster, "host": host,
                   "port": port, "useTLS": False},
        "heartbeatIntervalSeconds": (int(interval) if float(interval).is_integer()
                                     else interval),
        "supervisor": {"mode": policy.mode, "policyVersion": policy.policy_version,
                       "timeoutMs": policy.timeout_ms,
                       "conservativePolicy": policy.conservative_policy},
        "autoRestartStrategies": cfg.auto_restart_strategies,
    }


@router.post("/api/pusher/auth")
async def pusher_auth(request: Request) -> dict[str, str]:
    """Contract item 2: the private-channel signature, only for the caller's own channel."""
    sim = sim_of(request)
    creds = authenticate(request)
    form = await request.form()
    socket_id, channel = form.get("socket_id"), form.get("channel_name")
    if not isinstance(socket_id, str) or not SOCKET_ID_RE.match(socket_id):
        raise ApiError(400, f"socket_id: found {socket_id!r}; allowed: digits.digits")
    if not isinstance(channel, str) or not channel:
        raise ApiError(400, "channel_name: missing")
    if channel != executor_channel(creds.executor_id):
        raise ApiError(403, f"channel_name: found {channel!r}; allowed: "
                            f"{executor_channel(creds.executor_id)!r}")
    return {"auth": channel_auth(sim.config.pusher.key, sim.config.pusher.secret,
                                 socket_id, channel)}


@router.post("/api/executor/{executor_id}/heartbeat")
async def heartbeat(executor_id: str, request: Request) -> dict[str, Any]:
    """Contract item 4: store the heartbeat, answer the pending commands."""
    sim = sim_of(request)
    authenticate(request, executor_id)
    body = await json_body(request)
    problems = heartbeat_problems(body)
    if problems:
        log.warning("heartbeat of %s departs from the contract: %s", executor_id, problems)
    sim.state.add_heartbeat(HeartbeatRecord(executor_id, body, utc_now_iso(), problems))
    return {"ok": True, "pendingCommands": sim.state.take_pending(executor_id)}


@router.patch("/api/executor/{executor_id}/command")
async def command_status(executor_id: str, request: Request) -> dict[str, Any]:
    """Contract item 5: a command's status report (404 for an unknown command id)."""
    sim = sim_of(request)
    authenticate(request, executor_id)
    body = json_object(await json_body(request))
    command_id, status, result = body.get("commandId"), body.get("status"), body.get("result")
    if not isinstance(command_id, str) or not command_id:
        raise ApiError(400, f"commandId: found {command_id!r}; allowed: a non-empty string")
    if status not in STATUSES:
        raise ApiError(400, f"status: found {status!r}; allowed: {', '.join(STATUSES)}")
    if result is not None and not isinstance(result, dict):
        raise ApiError(400, f"result: found {type(result).__name__}; allowed: object or null")
    if sim.state.report_status(executor_id, command_id, status, result) is None:
        raise ApiError(404, f"commandId: {command_id!r} is not a command of {executor_id}")
    return {"ok": True}


@router.get("/api/executor/{executor_id}/active-strategies")
async def active_strategies(executor_id: str, request: Request) -> dict[str, Any]:
    """Contract item 6: the strategies to restore (``shouldAutoRestart``, document)."""
    sim = sim_of(request)
    authenticate(request, executor_id)
    return {"strategies": [a.to_json() for a in sim.state.active_strategies(executor_id)]}


@router.post("/api/executor/{executor_id}/supervisor/evaluate", response_model=None)
async def supervisor_evaluate(executor_id: str, request: Request) -> JSONResponse:
    """Contract item 7: answer with the configured policy (allow/deny/require_confirmation,
    slow beyond the caller's ``timeoutMs``, or an HTTP error)."""
    sim = sim_of(request)
    creds = authenticate(request, executor_id)
    body = json_object(await json_body(request))
    policy = sim.state.supervisor_policy
    context, timeout_ms = body.get("context"), body.get("timeoutMs")
    secrets = [creds.api_secret, sim.config.pusher.secret]
    problems = list(context_problems(context, secrets))
    extra = sorted(set(body) - {"context", "policyVersion", "timeoutMs"})
    if extra:
        problems.append(f"body: keys not in the contract: {extra}")
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int | float) or timeout_ms <= 0:
        problems.append(f"timeoutMs: found {timeout_ms!r}; allowed: a number > 0 (ms)")
        timeout_ms = policy.timeout_ms
    if not isinstance(body.get("policyVersion"), str):
        problems.append("policyVersion: missing or not a string")
    if policy.mode == "off":
        problems.append("called while the supervisor mode is off")
    sim.state.add_supervisor_request(SupervisorRequestRecord(
        executor_id, context, body.get("timeoutMs"), body.get("policyVersion"), utc_now_iso(),
        policy.behaviour, tuple(problems)))
    action: str = policy.behaviour
    if policy.behaviour == "error":
        headers = ({"Retry-After": str(policy.retry_after_s)}
                   if policy.error_status == 429 else None)
        return JSONResponse({"error": f"simulated supervisor error {policy.error_status}"},
                            status_code=policy.error_status, headers=headers)
    if policy.behaviour == "slow":
        delay = (policy.slow_seconds if policy.slow_seconds is not None
                 else float(timeout_ms) / 1000.0 + 1.0)
        if not await sim.sleep(delay):
            return JSONResponse({"error": "simulator shutting down"}, status_code=503)
        action = policy.slow_action
    return JSONResponse({
        "action": action, "reason": policy.reason, "risks": list(policy.risks),
        "suggestions": list(policy.suggestions), "score": policy.score, "mode": policy.mode,
        "policyVersion": policy.policy_version, "ttlMs": policy.ttl_ms,
    })
