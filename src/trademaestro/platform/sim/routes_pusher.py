"""The Pusher HTTP API subset the official ``pusher`` library uses to trigger events
(contract item 8): ``POST /apps/{app_id}/events`` and ``POST /apps/{app_id}/batch_events``,
both signed (bad signature, key, timestamp or body MD5 -> 401)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from trademaestro.platform.sim.core import ApiError, Simulator, json_object, sim_of
from trademaestro.platform.sim.signing import check_request

log = logging.getLogger(__name__)
router = APIRouter()
MAX_CHANNELS = 100


async def _signed_body(request: Request, app_id: str) -> tuple[Simulator, dict[str, Any]]:
    sim = sim_of(request)
    if app_id != sim.config.pusher.app_id:
        raise ApiError(404, f"app_id: found {app_id!r}; this simulator serves app "
                            f"{sim.config.pusher.app_id!r}")
    body = await request.body()
    reason = check_request(
        app_key=sim.config.pusher.key, app_secret=sim.config.pusher.secret,
        method=request.method, path=request.url.path, params=dict(request.query_params),
        body=body, now=time.time(),
    )
    if reason is not None:
        log.warning("401 %s: %s", request.url.path, reason)
        raise ApiError(401, reason)
    try:
        return sim, json_object(json.loads(body))
    except ValueError as exc:
        raise ApiError(400, f"body: not JSON ({exc})") from exc


def _event_parts(item: dict[str, Any], where: str) -> tuple[list[str], str, str]:
    name, data = item.get("name"), item.get("data")
    channels = item.get("channels", [item["channel"]] if "channel" in item else None)
    if not isinstance(name, str) or not name:
        raise ApiError(400, f"{where}.name: found {name!r}; allowed: an event name")
    if not isinstance(data, str):
        raise ApiError(400, f"{where}.data: found {type(data).__name__}; allowed: a string")
    if (not isinstance(channels, list) or not channels or len(channels) > MAX_CHANNELS
            or not all(isinstance(c, str) and c for c in channels)):
        raise ApiError(400, f"{where}.channels: found {channels!r}; allowed: 1 to "
                            f"{MAX_CHANNELS} channel names (or 'channel')")
    return channels, name, data


@router.post("/apps/{app_id}/events")
async def trigger_event(app_id: str, request: Request) -> dict[str, Any]:
    """Trigger one event on up to 100 channels; answers ``{}``."""
    sim, body = await _signed_body(request, app_id)
    channels, name, data = _event_parts(body, "body")
    for channel in channels:
        handed = await sim.trigger(channel, name, data)
        log.info("events API: %s on %s handed to %d socket(s)", name, channel, handed)
    return {}


@router.post("/apps/{app_id}/batch_events")
async def trigger_batch(app_id: str, request: Request) -> dict[str, Any]:
    """Trigger a batch ``{"batch": [{"channel", "name", "data"}, ...]}``; answers
    ``{"batch": [{}, ...]}``."""
    sim, body = await _signed_body(request, app_id)
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise ApiError(400, "batch: missing or not a list")
    parts = [_event_parts(json_object(item, f"batch[{i}]"), f"batch[{i}]")
             for i, item in enumerate(batch)]
    for channels, name, data in parts:
        for channel in channels:
            await sim.trigger(channel, name, data)
    return {"batch": [{} for _ in parts]}
