"""PusherClient against a scripted Pusher-protocol server on loopback: handshake,
subscription (success, refusal, retry), ping/pong both ways, event delivery and bad frames,
the close-code rules (4000-4099 stop, 4100-4199 pause, 4200-4299 at once, otherwise backoff)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.platform_client.pusher_fake import APP_KEY, CHANNEL, WAIT, Conn, FakePusher, good
from trademaestro.core.errors import ConfigError
from trademaestro.platform.client import Backoff
from trademaestro.platform.errors import PlatformAuthError, PlatformUnavailable, RealtimeRefused
from trademaestro.platform.realtime import PusherClient

COMMAND = {"commandId": "cmd-1", "command": "START_STRATEGY", "parameters": {}}


class Harness:
    """A PusherClient running in a task, with recorded sleeps, auth calls and events."""

    def __init__(
        self,
        url: str,
        *,
        authorize: Callable[[str, str], Awaitable[str]] | None = None,
        on_event: Callable[[str, Any], Awaitable[None]] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.sleeps: list[float] = []
        self.auth_calls: list[tuple[str, str]] = []
        self.stop = asyncio.Event()
        kwargs.setdefault("backoff", Backoff(initial_s=1.0, max_s=8.0, jitter_s=0.0))
        kwargs.setdefault("pause_s", 5.0)
        self.client = PusherClient(
            url,
            CHANNEL,
            authorize or self.authorize,
            on_event or self.on_event,
            sleep=sleep or self.sleep,
            **kwargs,
        )
        self.task = asyncio.create_task(self.client.run(self.stop))

    async def authorize(self, socket_id: str, channel: str) -> str:
        self.auth_calls.append((socket_id, channel))
        return f"{APP_KEY}:sig-{socket_id}"

    async def on_event(self, name: str, data: Any) -> None:
        self.events.put_nowait((name, data))

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, WAIT)

    async def failure(self) -> BaseException:
        done, _ = await asyncio.wait({self.task}, timeout=WAIT)
        assert done, "client did not stop"
        exc = self.task.exception()
        assert exc is not None
        return exc


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_subscribes_delivers_commands_and_skips_bad_frames() -> None:
    async def script(conn: Conn) -> None:
        await conn.established()
        await conn.subscribe()
        await conn.send_raw("not json {")
        await conn.send_raw(json.dumps([1, 2]))
        await conn.send_raw(json.dumps({"data": "no event name"}))
        await conn.send("command-received", "{bad json", channel=CHANNEL)
        await conn.send("command-received", json.dumps([1]), channel=CHANNEL)
        await conn.send("command-received", json.dumps(COMMAND), channel="private-executor-x")
        await conn.send("strategy-updated", json.dumps(COMMAND), channel=CHANNEL)
        await conn.send("command-received", json.dumps(COMMAND), channel=CHANNEL)
        await conn.send("command-received", {"commandId": "cmd-2"}, channel=CHANNEL)
        await conn.send("command-received", json.dumps("text"), channel=CHANNEL)
        await conn.sync()
        conn.note("pong")
        await conn.serve_forever()

    async def scenario() -> None:
        async with FakePusher(script) as server:
            h = Harness(server.url)
            assert await server.wait_for("pong") == ["subscribed 0", "pong"]
            assert h.client.state.subscribed and h.client.state.connected
            delivered = [h.events.get_nowait() for _ in range(h.events.qsize())]
            assert delivered == [
                ("command-received", COMMAND),
                ("command-received", {"commandId": "cmd-2"}),
                ("command-received", "text"),
            ]
            state = h.client.state
            assert (state.events_delivered, state.events_skipped) == (3, 5)
            assert state.socket_id == "0.42"
            assert h.auth_calls == [("0.42", CHANNEL)]
            await h.finish()
            assert await server.next_note() == "gone 0"
            assert not state.connected and not state.subscribed
            assert (state.reconnects, state.connections, h.sleeps) == (0, 1, [])

    run(scenario())


def test_all_events_when_filter_is_none_and_handler_errors_are_contained() -> None:
    calls: list[str] = []

    async def script(conn: Conn) -> None:
        await conn.established()
        await conn.subscribe()
        await conn.send("boom", "{}", channel=CHANNEL)
        await conn.send("strategy-updated", json.dumps({"a": 1}), channel=CHANNEL)
        await conn.sync()
        conn.note("pong")
        await conn.serve_forever()

    async def scenario() -> None:
        async def on_event(name: str, data: Any) -> None:
            calls.append(name)
            if name == "boom":
                raise RuntimeError("handler bug")

        async with FakePusher(script) as server:
            h = Harness(server.url, on_event=on_event, events=None)
            await server.wait_for("pong")
            assert calls == ["boom", "strategy-updated"]
            assert h.client.state.handler_errors == 1
            assert h.client.state.events_delivered == 1
            await h.finish()

    run(scenario())


def test_client_pings_when_idle() -> None:
    async def script(conn: Conn) -> None:
        await conn.established(activity_timeout=120)
        await conn.subscribe()
        for _ in range(2):
            await conn.expect("pusher:ping")
            await conn.send("pusher:pong", {})
        conn.note("pinged twice")
        await conn.serve_forever()

    async def scenario() -> None:
        async with FakePusher(script) as server:
            h = Harness(server.url, activity_timeout_s=0.02)
            await server.wait_for("pinged twice")
            assert h.client.state.connected and h.client.state.reconnects == 0
            await h.finish()

    run(scenario())


def test_no_pong_reconnects_at_once() -> None:
    async def silent(conn: Conn) -> None:
        await conn.established()
        await conn.subscribe()
        await conn.expect("pusher:ping")  # never answered
        await conn.wait_closed()

    async def scenario() -> None:
        async with FakePusher(silent, good) as server:
            h = Harness(server.url, activity_timeout_s=0.02, pong_timeout_s=0.05)
            assert await server.wait_for("subscribed 1") == [
                "subscribed 0",
                "gone 0",
                "subscribed 1",
            ]
            assert h.client.state.reconnects == 1
            assert h.client.state.last_error == "no pusher:pong within 0.05 s"
            assert h.sleeps == []
            await h.finish()

    run(scenario())


def test_subscription_refused_is_retried_with_backoff_on_the_same_connection() -> None:
    async def script(conn: Conn) -> None:
        await conn.established()
        await conn.subscribe(ok=False)
        await conn.subscribe(ok=False)
        await conn.subscribe(ok=True)
        await conn.serve_forever()

    async def scenario() -> None:
        async with FakePusher(script) as server:
            h = Harness(server.url)
            assert await server.wait_for("subscribed 0") == [
                "refused 0",
                "refused 0",
                "subscribed 0",
            ]
            state = h.client.state
            assert state.subscribed
            assert state.subscription_failures == 2
            assert "Invalid signature" in (state.last_error or "")
            assert h.sleeps == [1.0, 2.0]
            assert (state.connections, state.reconnects) == (1, 0)
            assert h.auth_calls == [("0.42", CHANNEL)] * 3
            await h.finish()

    run(scenario())


def test_authorize_auth_error_stops_the_client() -> None:
    async def refuse(socket_id: str, channel: str) -> str:
        raise PlatformAuthError("HTTP 403: channel not yours", endpoint="POST /api/pusher/auth")

    async def scenario() -> None:
        async with FakePusher() as server:
            h = Harness(server.url, authorize=refuse)
            exc = await h.failure()
            assert isinstance(exc, PlatformAuthError)
            assert "channel not yours" in (h.client.state.fatal or "")
            assert server.count == 1
            assert h.sleeps == []

    run(scenario())


def test_authorize_unavailable_is_retried() -> None:
    calls = 0

    async def flaky(socket_id: str, channel: str) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise PlatformUnavailable("HTTP 503", endpoint="POST /api/pusher/auth")
        return f"{APP_KEY}:sig-{socket_id}"

    async def scenario() -> None:
        async with FakePusher() as server:
            h = Harness(server.url, authorize=flaky)
            await server.wait_for("subscribed 0")
            assert h.sleeps == [1.0]
            assert "HTTP 503" in (h.client.state.last_error or "")
            await h.finish()

    run(scenario())


def closing(code: int | None) -> Callable[[Conn], Awaitable[None]]:
    """Subscribe, then close with ``code`` (None: drop the TCP connection)."""

    async def script(conn: Conn) -> None:
        await conn.established()
        await conn.subscribe()
        if code is None:
            conn.ws.transport.abort()
        else:
            await conn.ws.close(code, f"closing {code}")

    return script


@pytest.mark.parametrize(
    ("code", "sleeps"),
    [
        (4100, [5.0]),
        (4199, [5.0]),
        (4200, []),
        (4299, []),
        (None, [1.0]),
        (1000, [1.0]),
        (1011, [1.0]),
        (4300, [1.0]),
    ],
)
def test_close_codes_that_reconnect(code: int | None, sleeps: list[float]) -> None:
    async def scenario() -> None:
        async with FakePusher(closing(code), good) as server:
            h = Harness(server.url)
            await server.wait_for("subscribed 1")
            assert h.sleeps == sleeps
            assert h.client.state.reconnects == 1
            assert h.client.state.last_close_code == code
            assert h.client.state.subscribed
            await h.finish()

    run(scenario())


@pytest.mark.parametrize("code", [4000, 4001, 4009, 4099])
def test_close_codes_4000_4099_stop(code: int) -> None:
    async def scenario() -> None:
        async with FakePusher(closing(code), good) as server:
            h = Harness(server.url)
            exc = await h.failure()
            assert isinstance(exc, RealtimeRefused)
            assert exc.code == code
            assert f"code {code}" in (h.client.state.fatal or "")
            assert server.count == 1
            assert h.sleeps == []

    run(scenario())


def test_connection_level_pusher_error_events() -> None:
    async def first(conn: Conn) -> None:
        await conn.established()
        await conn.subscribe()
        await conn.send("pusher:error", {"message": "odd but harmless", "code": None})
        await conn.send("pusher:error", {"message": "over quota", "code": 4100})
        await conn.wait_closed()

    async def second(conn: Conn) -> None:
        await conn.send("pusher:error", {"message": "reconnect now", "code": 4201})
        await conn.wait_closed()

    async def third(conn: Conn) -> None:
        await conn.established()
        await conn.subscribe()
        await conn.send("pusher:error", json.dumps({"message": "app disabled", "code": 4003}))
        await conn.wait_closed()

    async def scenario() -> None:
        async with FakePusher(first, second, third) as server:
            h = Harness(server.url)
            exc = await h.failure()
            assert isinstance(exc, RealtimeRefused)
            assert (exc.code, exc.reason) == (4003, "app disabled")
            assert server.count == 3
            assert h.sleeps == [5.0]  # 4100: pause; 4201 in the handshake: at once
            assert h.client.state.reconnects == 2

    run(scenario())


def test_drops_back_off_exponentially_and_reset_after_subscription() -> None:
    async def drop_early(conn: Conn) -> None:
        conn.ws.transport.abort()

    async def scenario() -> None:
        async with FakePusher(drop_early, drop_early, closing(None), drop_early, good) as server:
            h = Harness(server.url)
            await server.wait_for("subscribed 4")
            assert h.sleeps == [1.0, 2.0, 1.0, 2.0]
            assert h.client.state.reconnects == 4
            await h.finish()

    run(scenario())


def test_immediate_reconnects_are_bounded() -> None:
    async def close_4200(conn: Conn) -> None:
        await conn.established()
        await conn.ws.close(4200, "again")

    async def scenario() -> None:
        async with FakePusher(*[close_4200] * 5, good) as server:
            h = Harness(server.url)
            await server.wait_for("subscribed 5")
            assert h.sleeps == [1.0, 2.0]  # 3 immediate, then backoff
            await h.finish()

    run(scenario())


def test_handshake_problems_back_off() -> None:
    async def mute(conn: Conn) -> None:
        await conn.wait_closed()

    async def wrong_first(conn: Conn) -> None:
        await conn.send("pusher:pong", {})
        await conn.wait_closed()

    async def no_socket_id(conn: Conn) -> None:
        await conn.send("pusher:connection_established", json.dumps({"activity_timeout": 1}))
        await conn.wait_closed()

    async def scenario() -> None:
        async with FakePusher(mute, wrong_first, no_socket_id, good) as server:
            h = Harness(server.url, handshake_timeout_s=0.05)
            await server.wait_for("subscribed 3")
            assert h.sleeps == [1.0, 2.0, 4.0]
            await h.finish()

    run(scenario())


def test_server_down_backs_off_and_stop_interrupts_the_wait() -> None:
    async def scenario() -> None:
        async with FakePusher() as server:
            url = server.url  # closed at the end of the block: nobody listens any more
        waiting = asyncio.Event()
        sleeps: list[float] = []

        async def blocking_sleep(seconds: float) -> None:
            sleeps.append(seconds)
            waiting.set()
            await asyncio.Event().wait()

        h = Harness(url, sleep=blocking_sleep)
        await asyncio.wait_for(waiting.wait(), WAIT)
        assert sleeps == [1.0]
        assert "cannot connect" in (h.client.state.last_error or "")
        await h.finish()  # returns although the backoff sleep never ends
        assert h.client.state.connections == 0

    run(scenario())


def test_bad_url() -> None:
    async def authorize(socket_id: str, channel: str) -> str:
        return ""

    async def on_event(name: str, data: Any) -> None:
        return None

    with pytest.raises(ConfigError, match="ws:// or wss://"):
        PusherClient("http://127.0.0.1/app/k", CHANNEL, authorize, on_event)
