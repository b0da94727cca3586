"""A scripted Pusher-protocol server on loopback for the realtime client's tests.

Each WebSocket connection runs the next script (the last one repeats); scripts talk through
:class:`Conn` and put markers in ``FakePusher.notes`` that tests wait on (no fixed sleeps).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

CHANNEL = "private-executor-exec-1"
APP_KEY = "app-key"
WAIT = 5.0  # safety bound on every wait; a healthy test never reaches it

Script = Callable[["Conn"], Awaitable[None]]


class Conn:
    """One server-side connection."""

    def __init__(self, server: FakePusher, ws: ServerConnection, index: int) -> None:
        self.server = server
        self.ws = ws
        self.index = index

    async def send(self, event: str, data: Any = None, channel: str | None = None) -> None:
        message: dict[str, Any] = {"event": event}
        if data is not None:
            message["data"] = data
        if channel is not None:
            message["channel"] = channel
        await self.ws.send(json.dumps(message))

    async def send_raw(self, raw: str | bytes) -> None:
        await self.ws.send(raw)

    async def established(self, activity_timeout: int = 120) -> None:
        data = json.dumps({"socket_id": f"{self.index}.42", "activity_timeout": activity_timeout})
        await self.send("pusher:connection_established", data)

    async def recv(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), WAIT)
        message: dict[str, Any] = json.loads(raw)
        self.server.received.append((self.index, message))
        return message

    async def expect(self, event: str) -> dict[str, Any]:
        message = await self.recv()
        assert message["event"] == event, message
        return message

    async def subscribe(self, *, ok: bool = True, code: int = 4009) -> dict[str, Any]:
        message = await self.expect("pusher:subscribe")
        assert message["data"]["channel"] == CHANNEL
        assert message["data"]["auth"] == f"{APP_KEY}:sig-{self.index}.42"
        if ok:
            await self.send("pusher_internal:subscription_succeeded", "{}", channel=CHANNEL)
            await self.sync()
            self.note(f"subscribed {self.index}")
        else:
            await self.send("pusher:error", {"message": "Invalid signature", "code": code})
            self.note(f"refused {self.index}")
        return message

    async def sync(self) -> None:
        """Ping the client and wait for its pong: it has then handled every earlier message
        (and the tasks those messages woke have run)."""
        await self.send("pusher:ping", {})
        while True:
            message = await self.recv()
            if message["event"] == "pusher:pong":
                return
            if message["event"] == "pusher:ping":
                await self.send("pusher:pong", {})

    async def serve_forever(self) -> None:
        """Answer pings until the client goes."""
        async for raw in self.ws:
            message = json.loads(raw)
            self.server.received.append((self.index, message))
            if message.get("event") == "pusher:ping":
                await self.send("pusher:pong", {})
        self.note(f"gone {self.index}")

    async def wait_closed(self) -> None:
        async for raw in self.ws:
            self.server.received.append((self.index, json.loads(raw)))
        self.note(f"gone {self.index}")

    def note(self, text: str) -> None:
        self.server.notes.put_nowait(text)


async def good(conn: Conn) -> None:
    """Handshake, accept the subscription, then answer pings."""
    await conn.established()
    await conn.subscribe()
    await conn.serve_forever()


class FakePusher:
    """Loopback server on an ephemeral port; ``url`` is the client's ws URL."""

    def __init__(self, *scripts: Script) -> None:
        self.scripts = scripts or (good,)
        self.count = 0
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.notes: asyncio.Queue[str] = asyncio.Queue()
        self._server: Server | None = None
        self.url = ""

    async def _handler(self, ws: ServerConnection) -> None:
        index = self.count
        self.count += 1
        script = self.scripts[min(index, len(self.scripts) - 1)]
        try:
            await script(Conn(self, ws, index))
        except ConnectionClosed:
            self.notes.put_nowait(f"gone {index}")

    async def next_note(self) -> str:
        return await asyncio.wait_for(self.notes.get(), WAIT)

    async def wait_for(self, text: str) -> list[str]:
        """Notes up to and including ``text``."""
        seen: list[str] = []
        while not seen or seen[-1] != text:
            seen.append(await self.next_note())
        return seen

    async def __aenter__(self) -> FakePusher:
        self._server = await serve(self._handler, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/app/{APP_KEY}?protocol=7&client=trademaestro&version=1.0"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
