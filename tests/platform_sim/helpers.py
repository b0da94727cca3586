"""Helpers of the platform simulator tests: the test configuration (two executors, a fixed
Pusher app) and small WebSocket helpers (every wait bounded by a timeout, never a sleep)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from trademaestro.platform.sim import (
    ExecutorCredentials,
    PusherApp,
    RunningSimulator,
    SimulatorConfig,
)

STRATEGIES = Path(__file__).resolve().parents[2] / "examples" / "strategies"
EXEC1 = ExecutorCredentials("exec-1", "key-1", "secret-one-0123456789")
EXEC2 = ExecutorCredentials("exec-2", "key-2", "secret-two-0123456789")
PUSHER = PusherApp(app_id="4242", key="sim-key", secret="sim-pusher-secret")
RECV_TIMEOUT = 5.0
# Plain http:// on loopback: skip loading the CA bundle (about 150 ms per httpx client).
NO_TLS: dict[str, Any] = {"verify": False}


def make_config(**kwargs: Any) -> SimulatorConfig:
    """The test configuration (two executors, fixed Pusher app), with overrides."""
    return SimulatorConfig(executors=(EXEC1, EXEC2), pusher=PUSHER, **kwargs)


def headers(creds: ExecutorCredentials = EXEC1) -> dict[str, str]:
    return {"X-API-Key": creds.api_key, "X-API-Secret": creds.api_secret}


def strategy_doc(name: str = "xauusd_m15_ema_cross.json") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((STRATEGIES / name).read_text(encoding="utf-8"))
    return doc


async def recv_json(ws: ClientConnection, timeout: float = RECV_TIMEOUT) -> dict[str, Any]:
    """The next frame, parsed."""
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def open_socket(sim: RunningSimulator) -> tuple[ClientConnection, str]:
    """Connect and read ``connection_established``; returns (socket, socket id)."""
    ws = await connect(sim.ws_url())
    established = await recv_json(ws)
    assert established["event"] == "pusher:connection_established"
    return ws, json.loads(established["data"])["socket_id"]


async def subscribe_own_channel(
    sim: RunningSimulator, creds: ExecutorCredentials = EXEC1
) -> tuple[ClientConnection, str]:
    """Connect, get the signature from ``/api/pusher/auth`` and subscribe to the executor's
    private channel; returns (socket, socket id) once subscription_succeeded arrived."""
    ws, socket_id = await open_socket(sim)
    channel = f"private-executor-{creds.executor_id}"
    async with httpx.AsyncClient(base_url=sim.base_url, **NO_TLS) as client:
        answer = await client.post("/api/pusher/auth", headers=headers(creds),
                                   data={"socket_id": socket_id, "channel_name": channel})
    assert answer.status_code == 200, answer.text
    await ws.send(json.dumps({"event": "pusher:subscribe",
                              "data": {"channel": channel, "auth": answer.json()["auth"]}}))
    frame = await recv_json(ws)
    assert frame == {"event": "pusher_internal:subscription_succeeded", "channel": channel,
                     "data": "{}"}
    return ws, socket_id


async def expect_pong_next(ws: ClientConnection) -> None:
    """Send ``pusher:ping``; the very next frame must be the pong (so nothing was queued)."""
    await ws.send(json.dumps({"event": "pusher:ping", "data": {}}))
    assert await recv_json(ws) == {"event": "pusher:pong", "data": "{}"}
