"""A Pusher Channels server (protocol 7) over Starlette WebSockets, at ``/app/{key}``.

Server -> client frames: ``pusher:connection_established`` (data: JSON string
``{"socket_id", "activity_timeout"}``), ``pusher_internal:subscription_succeeded``,
``pusher:pong``, ``pusher:ping`` (after ``activity_timeout`` seconds of client silence; no
answer within ``pong_timeout`` -> ``pusher:error`` 4201 and close), ``pusher:error``
(data: object ``{"message", "code"}``) and channel events ``{"event", "channel", "data"}``.

Errors: unknown app key -> 4001 and close; protocol missing or < 7 -> 4007 and close; a
private-channel subscription with a wrong signature (or a presence channel) -> 4009, the
socket stays open, not subscribed.

Runs on the server's event loop only; other threads go through the simulator's thread-safe
wrappers (:class:`trademaestro.platform.sim.runner.RunningSimulator`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from trademaestro.platform.sim.config import SimulatorConfig
from trademaestro.platform.sim.records import ClientMessage, utc_now_iso
from trademaestro.platform.sim.signing import channel_auth_ok
from trademaestro.platform.sim.state import SimState

log = logging.getLogger(__name__)
PROTOCOL = 7


def valid_close_code(code: int) -> bool:
    """Whether ``code`` may be sent in a WebSocket close frame (RFC 6455 section 7.4)."""
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014) or (
        3000 <= code <= 4999
    )


@dataclass(eq=False)
class _Conn:
    ws: WebSocket
    socket_id: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    channels: set[str] = field(default_factory=set)
    last_seen: float = field(default_factory=time.monotonic)
    closed: bool = False


class PusherHub:
    """The open connections and what to do with their frames."""

    def __init__(self, config: SimulatorConfig, state: SimState) -> None:
        self._config = config
        self._state = state
        self._conns: dict[str, _Conn] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._counter = 0

    # --- connection -------------------------------------------------------------------------
    async def serve(self, ws: WebSocket, app_key: str) -> None:
        """Run one client connection until it closes."""
        if self._state.faults.refuse_connections:
            await ws.close(code=1013)  # before accept: the handshake is refused (HTTP 403)
            return
        await ws.accept()
        if app_key != self._config.pusher.key:
            await self._fail(ws, 4001, f"App key {app_key} not in this cluster")
            return
        protocol = ws.query_params.get("protocol", "")
        if not protocol.isdigit() or int(protocol) < PROTOCOL:
            await self._fail(ws, 4007, f"Unsupported protocol version {protocol!r}; need 7")
            return
        self._counter += 1
        conn = _Conn(ws, f"{self._counter}.{secrets.randbelow(10**9)}")
        self._conns[conn.socket_id] = conn
        self._state.socket_opened(conn.socket_id)
        established = {"socket_id": conn.socket_id,
                       "activity_timeout": self._config.activity_timeout}
        await self._send(conn, {"event": "pusher:connection_established",
                                "data": json.dumps(established)})
        pinger = asyncio.create_task(self._keepalive(conn))
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                conn.last_seen = time.monotonic()
                text = message.get("text")
                if text is None:  # a binary frame: Pusher speaks text only
                    log.warning("socket %s sent a binary frame; ignored", conn.socket_id)
                    continue
                await self._on_frame(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            conn.closed = True
            pinger.cancel()
            self._conns.pop(conn.socket_id, None)
            self._state.socket_closed(conn.socket_id)

    async def _fail(self, ws: WebSocket, code: int, message: str) -> None:
        with contextlib.suppress(Exception):
            await ws.send_text(json.dumps(
                {"event": "pusher:error", "data": {"message": message, "code": code}}))
            await ws.close(code=code)

    async def _on_frame(self, conn: _Conn, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            log.warning("socket %s sent a frame that is not JSON", conn.socket_id)
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("event"), str):
            log.warning("socket %s sent a frame without an event name", conn.socket_id)
            return
        event: str = frame["event"]
        data = frame.get("data")
        if isinstance(data, str):
            with contextlib.suppress(ValueError):
                data = json.loads(data)
        self._state.add_client_message(ClientMessage(conn.socket_id, event, data, utc_now_iso()))
        if event == "pusher:ping":
            if self._state.faults.answer_pings:
                await self._send(conn, {"event": "pusher:pong", "data": "{}"})
        elif event == "pusher:subscribe":
            await self._subscribe(conn, data if isinstance(data, dict) else {})
        elif event == "pusher:unsubscribe":
            channel = data.get("channel") if isinstance(data, dict) else None
            if isinstance(channel, str):
                conn.channels.discard(channel)
                self._state.set_subscribed(conn.socket_id, channel, False)

    async def _subscribe(self, conn: _Conn, data: dict[str, Any]) -> None:
        channel = data.get("channel")
        if not isinstance(channel, str) or not channel:
            await self._error(conn, 4009, "pusher:subscribe without a channel name")
            return
        if channel.startswith("presence-"):
            await self._error(conn, 4009, f"{channel}: presence channels are not simulated")
            return
        if channel.startswith("private-"):
            pusher = self._config.pusher
            if not channel_auth_ok(pusher.key, pusher.secret, conn.socket_id, channel,
                                   data.get("auth")):
                log.info("socket %s: refused subscription to %s (bad signature)",
                         conn.socket_id, channel)
                await self._error(conn, 4009, f"Invalid signature for {channel}: "
                                  "expected HMAC SHA256 of 'socket_id:channel_name'")
                return
        conn.channels.add(channel)
        self._state.set_subscribed(conn.socket_id, channel, True)
        await self._send(conn, {"event": "pusher_internal:subscription_succeeded",
                                "channel": channel, "data": "{}"})

    async def _keepalive(self, conn: _Conn) -> None:
        timeout = float(self._config.activity_timeout)
        while not conn.closed:
            idle = time.monotonic() - conn.last_seen
            if idle < timeout:
                await asyncio.sleep(timeout - idle)
                continue
            pinged_at = time.monotonic()
            await self._send(conn, {"event": "pusher:ping", "data": "{}"})
            await asyncio.sleep(self._config.pong_timeout)
            if conn.last_seen < pinged_at:
                await self._kick(conn, 4201, "Pong reply not received")
                return

    # --- sending ----------------------------------------------------------------------------
    async def _send(self, conn: _Conn, frame: dict[str, Any]) -> bool:
        if conn.closed:
            return False
        try:
            async with conn.lock:
                await conn.ws.send_text(json.dumps(frame))
            return True
        except Exception:  # the peer went away meanwhile
            return False

    async def _error(self, conn: _Conn, code: int, message: str) -> None:
        await self._send(conn, {"event": "pusher:error",
                                "data": {"message": message, "code": code}})

    async def _kick(self, conn: _Conn, code: int, message: str) -> None:
        if 4000 <= code <= 4999:
            await self._error(conn, code, message)
        with contextlib.suppress(Exception):
            async with conn.lock:
                await conn.ws.close(code=code, reason=message[:120])
        conn.closed = True

    def _targets(self, socket_id: str | None, channel: str | None) -> list[_Conn]:
        return [c for c in list(self._conns.values())
                if (socket_id is None or c.socket_id == socket_id)
                and (channel is None or channel in c.channels)]

    async def publish(self, channel: str, event: str, data: str) -> int:
        """Send a channel event to every socket subscribed to ``channel``, applying the
        drop/delay faults per frame. Returns the number of frames sent or scheduled
        (dropped ones excluded)."""
        frame = {"event": event, "channel": channel, "data": data}
        handed = 0
        for conn in self._targets(None, channel):
            if self._state.take_drop():
                log.info("dropped %s on %s to socket %s (fault)", event, channel, conn.socket_id)
                continue
            delay = self._state.faults.delay_seconds
            if delay > 0:
                task = asyncio.create_task(self._send_later(conn, frame, delay))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                handed += 1
            elif await self._send(conn, frame):
                handed += 1
        return handed

    async def _send_later(self, conn: _Conn, frame: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)
        await self._send(conn, frame)

    async def kick(
        self, code: int, message: str, *, socket_id: str | None = None,
        channel: str | None = None,
    ) -> int:
        """Send ``pusher:error`` ``code`` (4000-4999 only) and close with ``code`` every socket
        matching the filters (all when none). Returns how many were closed."""
        targets = self._targets(socket_id, channel)
        for conn in targets:
            await self._kick(conn, code, message)
        return len(targets)

    async def ping(self, socket_id: str | None = None) -> int:
        """Send ``pusher:ping`` now to one socket (or all); returns how many."""
        targets = self._targets(socket_id, None)
        for conn in targets:
            await self._send(conn, {"event": "pusher:ping", "data": "{}"})
        return len(targets)

    async def close_all(self) -> None:
        """Close every socket with 1001 (going away) and cancel delayed sends."""
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._conns.values()):
            await self._kick(conn, 1001, "server shutting down")
