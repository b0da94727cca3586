"""HeartbeatLoop: cadence, body, pending commands handed on, failures survived, 401 fatal."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from trademaestro.core.errors import ConfigError
from trademaestro.platform.client import Backoff, PlatformClient
from trademaestro.platform.credentials import Credentials
from trademaestro.platform.errors import (
    PlatformAuthError,
    PlatformProtocolError,
    PlatformUnavailable,
)
from trademaestro.platform.heartbeat import HeartbeatLoop, utc_timestamp

NOW = datetime(2026, 11, 21, 10, 0, 0, 500_000, tzinfo=UTC)
SNAPSHOT = {
    "account": {"balance": 10000.0, "equity": 10010.5, "margin": 120.0, "openPositions": 2},
    "activeStrategies": [{"strategyId": "xau-ema", "symbol": "XAUUSD", "state": "running"}],
    "health": {"pusher": "subscribed"},
}


class ScriptedClient:
    """heartbeat() answers from a script: a list of command lists or exceptions."""

    def __init__(self, *script: list[dict[str, Any]] | Exception) -> None:
        self.script = list(script)
        self.bodies: list[dict[str, Any]] = []

    async def heartbeat(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        self.bodies.append(dict(body))
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Runner:
    def __init__(self, client: Any, beats: int, **kwargs: Any) -> None:
        self.delivered: list[list[dict[str, Any]]] = []
        self.sleeps: list[float] = []
        self.stop = asyncio.Event()
        self.beats = beats
        self.loop = HeartbeatLoop(
            client,
            kwargs.pop("interval_s", 30.0),
            kwargs.pop("snapshot", lambda: SNAPSHOT),
            kwargs.pop("on_commands", self.on_commands),
            sleep=self.sleep,
            now=lambda: NOW,
            **kwargs,
        )

    async def on_commands(self, commands: list[dict[str, Any]]) -> None:
        self.delivered.append(commands)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) >= self.beats:
            self.stop.set()
        await asyncio.sleep(0)

    def run(self) -> None:
        asyncio.run(self.loop.run(self.stop))


def test_beats_every_interval_and_hands_commands_on() -> None:
    client = ScriptedClient([], [{"commandId": "c1"}], [], [{"commandId": "c2"}, {"id": "c3"}])
    runner = Runner(client, beats=4, interval_s=15)
    runner.run()
    assert runner.sleeps == [15.0] * 4
    assert runner.delivered == [[{"commandId": "c1"}], [{"commandId": "c2"}, {"id": "c3"}]]
    assert client.bodies[0] == {**SNAPSHOT, "status": "online", "timestamp": "2026-11-21T10:00:00Z"}
    state = runner.loop.state
    assert (state.beats_ok, state.beats_failed, state.commands_received) == (4, 0, 3)
    assert state.last_ok_at == "2026-11-21T10:00:00Z"


def test_failed_beats_are_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    client = ScriptedClient(
        PlatformUnavailable("HTTP 503 (after 5 attempts)", endpoint="POST /x"),
        PlatformProtocolError("pendingCommands", "x", "a list of objects"),
        RuntimeError("bug"),
        [{"commandId": "c1"}],
    )
    runner = Runner(client, beats=4)
    with caplog.at_level(logging.WARNING):
        runner.run()
    state = runner.loop.state
    assert (state.beats_ok, state.beats_failed, state.consecutive_failures) == (1, 3, 0)
    assert runner.delivered == [[{"commandId": "c1"}]]
    assert "HTTP 503" in caplog.text
    assert len(client.bodies) == 4


def test_snapshot_and_handler_errors_do_not_stop_it() -> None:
    calls = 0

    def snapshot() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("equity")
        return {"status": "paused", "timestamp": "2026-01-01T00:00:00Z"}

    async def on_commands(commands: list[dict[str, Any]]) -> None:
        raise RuntimeError("queue full")

    client = ScriptedClient([{"commandId": "c1"}], [])
    runner = Runner(client, beats=3, snapshot=snapshot, on_commands=on_commands)
    runner.run()
    state = runner.loop.state
    assert (state.beats_ok, state.beats_failed) == (2, 1)
    assert state.consecutive_failures == 0
    assert client.bodies[0] == {"status": "paused", "timestamp": "2026-01-01T00:00:00Z"}
    assert state.commands_received == 1


def test_auth_error_stops_and_is_raised() -> None:
    client = ScriptedClient([], PlatformAuthError("HTTP 401: bad key", endpoint="POST /hb"), [])
    runner = Runner(client, beats=10)
    with pytest.raises(PlatformAuthError, match="bad key"):
        runner.run()
    assert len(client.bodies) == 2
    assert runner.sleeps == [30.0]
    assert "bad key" in (runner.loop.state.fatal or "")


def test_stop_interrupts_the_interval() -> None:
    async def scenario() -> int:
        client = ScriptedClient([], [])
        stop = asyncio.Event()
        waiting = asyncio.Event()

        async def forever(seconds: float) -> None:
            waiting.set()
            await asyncio.Event().wait()

        loop = HeartbeatLoop(client, 30.0, lambda: {}, lambda c: asyncio.sleep(0), sleep=forever)
        task = asyncio.create_task(loop.run(stop))
        await asyncio.wait_for(waiting.wait(), 5)
        stop.set()
        await asyncio.wait_for(task, 5)
        return len(client.bodies)

    assert asyncio.run(scenario()) == 1


def test_with_the_real_client_over_mock_transport() -> None:
    bodies: list[dict[str, Any]] = []
    answers = [
        httpx.Response(503),
        httpx.Response(200, json={"ok": True, "pendingCommands": [{"commandId": "c7"}]}),
        httpx.Response(401, json={"error": "invalid api key"}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/executor/exec-1/heartbeat"
        assert request.headers["X-API-Secret"] == "the-secret"
        bodies.append(json.loads(request.content))
        return answers.pop(0)

    async def no_wait(seconds: float) -> None:
        return None

    client = PlatformClient(
        "http://127.0.0.1:9",
        Credentials("key-12345678", "the-secret"),
        executor_id="exec-1",
        transport=httpx.MockTransport(handler),
        backoff=Backoff(0, 0, jitter_s=0),
        sleep=no_wait,
    )
    runner = Runner(client, beats=5)
    with pytest.raises(PlatformAuthError, match="invalid api key"):
        runner.run()
    assert runner.delivered == [[{"commandId": "c7"}]]
    assert len(bodies) == 3  # 503 retried inside the same beat, then a 401 on the next beat
    assert bodies[0]["account"]["openPositions"] == 2


def test_timestamp_and_interval_validation() -> None:
    plus7 = timezone(timedelta(hours=7))
    assert utc_timestamp(datetime(2026, 11, 21, 17, 0, 59, 999_999, tzinfo=plus7)) == (
        "2026-11-21T10:00:59Z"
    )
    with pytest.raises(ValueError, match="naive"):
        utc_timestamp(datetime(2026, 1, 1))
    client = ScriptedClient()
    for bad in (0, -1, float("nan")):
        with pytest.raises(ConfigError, match="heartbeat interval"):
            HeartbeatLoop(client, bad, dict, lambda c: asyncio.sleep(0))
