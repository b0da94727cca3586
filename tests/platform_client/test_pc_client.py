"""PlatformClient against httpx.MockTransport: headers, retries (5xx, 429 + Retry-After,
network errors), no retry on 4xx, 401/403 fatal, reply shapes, timeouts, the secret never in a
log line or an exception message."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from trademaestro.core.errors import ConfigError
from trademaestro.platform.client import Backoff, PlatformClient, parse_retry_after
from trademaestro.platform.credentials import Credentials
from trademaestro.platform.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformProtocolError,
    PlatformRejected,
    PlatformUnavailable,
)

KEY = "key-0123456789abcd"
SECRET = "s3cr3t-VALUE-never-logged"
CREDS = Credentials(KEY, SECRET)
CONFIG = {
    "executorId": "exec-1",
    "pusher": {
        "key": "app-key",
        "cluster": "mt1",
        "host": "127.0.0.1",
        "port": 8765,
        "useTLS": False,
    },
    "heartbeatIntervalSeconds": 30,
    "supervisor": {
        "mode": "observe",
        "policyVersion": "v1",
        "timeoutMs": 4000,
        "conservativePolicy": "deny",
    },
    "autoRestartStrategies": False,
}

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Records requests and sleeps; answers from a list of responses (last one repeats)."""

    def __init__(self, *responses: httpx.Response | Exception | Handler) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests) - 1, len(self.responses) - 1)
        answer = self.responses[index]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def client(self, **kwargs: Any) -> PlatformClient:
        kwargs.setdefault("backoff", Backoff(initial_s=1.0, max_s=8.0, jitter_s=0.0))
        kwargs.setdefault("executor_id", "exec-1")
        return PlatformClient(
            "http://127.0.0.1:9",
            CREDS,
            transport=httpx.MockTransport(self.handler),
            sleep=self.sleep,
            clock=lambda: 1_700_000_000.0,
            **kwargs,
        )


def ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _call(client: PlatformClient, fn: Callable[[PlatformClient], Any]) -> Any:
    async with client:
        return await fn(client)


def test_config_and_headers_on_every_request() -> None:
    rec = Recorder(ok(CONFIG))
    config = run(_call(rec.client(executor_id=None), lambda c: c.get_config()))
    assert config.executor_id == "exec-1"
    assert config.pusher.ws_url() == (
        "ws://127.0.0.1:8765/app/app-key?protocol=7&client=trademaestro&version=1.0"
    )
    assert config.supervisor.mode == "observe"
    assert config.supervisor.conservative_policy == "deny"
    (request,) = rec.requests
    assert request.method == "GET"
    assert request.url.path == "/api/executor/config"
    assert request.headers["X-API-Key"] == KEY
    assert request.headers["X-API-Secret"] == SECRET


def test_every_endpoint_path_body_and_reply() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/pusher/auth":
            form = dict(httpx.QueryParams(request.content.decode()))
            return ok({"auth": f"app-key:{form['socket_id']}|{form['channel_name']}"})
        if path.endswith("/heartbeat"):
            return ok({"ok": True, "pendingCommands": [{"commandId": "c1"}, "junk", 3]})
        if path.endswith("/command"):
            return ok({"ok": True})
        if path.endswith("/active-strategies"):
            return ok({"strategies": [{"strategyId": "s1", "shouldAutoRestart": True}]})
        if path.endswith("/supervisor/evaluate"):
            return ok({"action": "allow", "echo": json.loads(request.content)})
        return httpx.Response(404)

    rec = Recorder(handler)

    async def scenario(c: PlatformClient) -> tuple[Any, ...]:
        auth = await c.pusher_auth("123.456", "private-executor-exec-1")
        pending = await c.heartbeat({"status": "online"})
        reported = await c.report_command("c1", "executed", {"ticket": 7})
        strategies = await c.active_strategies()
        decision = await c.supervisor_evaluate({"context": {"symbol": "XAUUSD"}}, timeout_s=1.0)
        return auth, pending, reported, strategies, decision

    auth, pending, reported, strategies, decision = run(_call(rec.client(), scenario))
    assert auth == "app-key:123.456|private-executor-exec-1"
    assert pending == [{"commandId": "c1"}]  # "junk" and 3 dropped with a warning
    assert reported is None
    assert strategies == [{"strategyId": "s1", "shouldAutoRestart": True}]
    assert decision == {"action": "allow", "echo": {"context": {"symbol": "XAUUSD"}}}
    methods = [(r.method, r.url.path) for r in rec.requests]
    assert methods == [
        ("POST", "/api/pusher/auth"),
        ("POST", "/api/executor/exec-1/heartbeat"),
        ("PATCH", "/api/executor/exec-1/command"),
        ("GET", "/api/executor/exec-1/active-strategies"),
        ("POST", "/api/executor/exec-1/supervisor/evaluate"),
    ]
    assert json.loads(rec.requests[2].content) == {
        "commandId": "c1",
        "status": "executed",
        "result": {"ticket": 7},
    }
    assert all(r.headers["X-API-Secret"] == SECRET for r in rec.requests)
    assert rec.sleeps == []


def test_retries_5xx_with_exponential_backoff_then_succeeds() -> None:
    rec = Recorder(httpx.Response(500), httpx.Response(502), httpx.Response(503), ok(CONFIG))
    config = run(_call(rec.client(), lambda c: c.get_config()))
    assert config.executor_id == "exec-1"
    assert len(rec.requests) == 4
    assert rec.sleeps == [1.0, 2.0, 4.0]


def test_backoff_is_capped_and_jitter_is_bounded() -> None:
    backoff = Backoff(initial_s=1.0, max_s=8.0, jitter_s=0.5)
    rng = random.Random(7)
    delays = [backoff.delay(n, rng) for n in range(1, 8)]
    bases = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert all(b <= d <= b + 0.5 for d, b in zip(delays, bases, strict=True))


def test_5xx_exhausted_is_unavailable_after_max_attempts() -> None:
    rec = Recorder(httpx.Response(503, json={"error": "maintenance"}))
    with pytest.raises(PlatformUnavailable) as info:
        run(_call(rec.client(max_attempts=3), lambda c: c.heartbeat({})))
    assert len(rec.requests) == 3
    assert rec.sleeps == [1.0, 2.0]
    assert info.value.status == 503
    assert info.value.attempts == 3
    assert "POST /api/executor/exec-1/heartbeat" in str(info.value)
    assert "maintenance" in str(info.value)


def test_429_honours_retry_after_seconds_and_http_date() -> None:
    date = "Tue, 14 Nov 2023 22:13:27 GMT"  # 7 s after the injected clock (1_700_000_000)
    rec = Recorder(
        ok({"error": "slow down"}, 429, {"Retry-After": "3"}),
        ok({"error": "slow down"}, 429, {"Retry-After": date}),
        ok({"error": "slow down"}, 429, {"Retry-After": "9999"}),
        ok({"ok": True, "pendingCommands": []}),
    )
    pending = run(_call(rec.client(retry_after_max_s=60.0), lambda c: c.heartbeat({})))
    assert pending == []
    assert rec.sleeps == [3.0, 7.0, 60.0]


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 2.5 ", now) == 2.5
    assert parse_retry_after("-4", now) == 0.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:27 GMT", now) == 7.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("nan", now) is None
    assert parse_retry_after(None, now) is None


def test_network_errors_and_timeouts_are_retried() -> None:
    rec = Recorder(
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed"),
        ok({"strategies": []}),
    )
    assert run(_call(rec.client(), lambda c: c.active_strategies())) == []
    assert len(rec.requests) == 4
    assert rec.sleeps == [1.0, 2.0, 4.0]


def test_network_down_for_good_is_unavailable() -> None:
    rec = Recorder(httpx.ConnectError("connection refused"))
    with pytest.raises(PlatformUnavailable, match=r"ConnectError.*after 2 attempts"):
        run(_call(rec.client(max_attempts=2), lambda c: c.get_config()))
    assert len(rec.requests) == 2


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_other_4xx_is_rejected_without_retry(status: int) -> None:
    rec = Recorder(ok({"error": "unknown command id"}, status))
    with pytest.raises(PlatformRejected) as info:
        run(_call(rec.client(), lambda c: c.report_command("c9", "received", None)))
    assert len(rec.requests) == 1
    assert rec.sleeps == []
    assert info.value.status == status
    assert "unknown command id" in str(info.value)
    assert "PATCH /api/executor/exec-1/command" in str(info.value)


@pytest.mark.parametrize(("status", "why"), [(401, "fix the credentials"), (403, "not bound")])
def test_401_403_are_fatal_at_once(status: int, why: str) -> None:
    rec = Recorder(ok({"error": "invalid credentials"}, status))
    with pytest.raises(PlatformAuthError) as info:
        run(_call(rec.client(), lambda c: c.get_config()))
    assert len(rec.requests) == 1
    assert rec.sleeps == []
    message = str(info.value)
    assert why in message
    assert "GET /api/executor/config" in message
    assert "***abcd" in message  # the key, masked
    assert KEY not in message
    assert SECRET not in message


def test_secret_never_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    # The platform even echoes the secret in its error text: it is scrubbed.
    rec = Recorder(
        ok({"error": f"bad secret {SECRET}"}, 500),
        httpx.ConnectError(f"refused {SECRET}"),
        ok({"error": f"bad secret {SECRET}"}, 401),
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PlatformAuthError) as info:
        run(_call(rec.client(), lambda c: c.get_config()))
    assert len(rec.requests) == 3
    assert len([r for r in caplog.records if "retrying in" in r.getMessage()]) == 2
    assert SECRET not in caplog.text
    assert SECRET not in str(info.value)
    assert SECRET not in repr(rec.client())
    assert SECRET not in repr(CREDS) + str(CREDS)


def test_bad_replies_are_protocol_errors_naming_the_path() -> None:
    cases: list[tuple[Callable[[PlatformClient], Any], httpx.Response, str]] = [
        (lambda c: c.get_config(), httpx.Response(200, text="<html>"), "$"),
        (lambda c: c.get_config(), ok({**CONFIG, "pusher": {"key": ""}}), "pusher.key"),
        (lambda c: c.pusher_auth("1.2", "ch"), ok({"auth": 5}), "auth"),
        (lambda c: c.pusher_auth("1.2", "ch"), ok(["auth"]), "$"),
        (lambda c: c.heartbeat({}), ok({"pendingCommands": "c1"}), "pendingCommands"),
        (lambda c: c.active_strategies(), ok({}), "strategies"),
        (lambda c: c.supervisor_evaluate({}, 1.0), ok([1]), "$"),
    ]
    for call, response, path in cases:
        rec = Recorder(response)
        with pytest.raises(PlatformProtocolError) as info:
            run(_call(rec.client(), call))
        assert info.value.json_path == path, (path, str(info.value))
        assert len(rec.requests) == 1


def test_heartbeat_without_pending_commands_is_empty() -> None:
    for payload in ({"ok": True}, {"ok": True, "pendingCommands": None}):
        rec = Recorder(ok(payload))
        assert run(_call(rec.client(), lambda c: c.heartbeat({}))) == []


def test_supervisor_single_attempt_and_retry_after() -> None:
    rec = Recorder(ok({"error": "rate"}, 429, {"Retry-After": "12"}))
    with pytest.raises(PlatformUnavailable) as info:
        run(_call(rec.client(), lambda c: c.supervisor_evaluate({}, 1.0)))
    assert len(rec.requests) == 1
    assert info.value.retry_after_s == 12.0
    rec = Recorder(ok({"error": "llm timeout"}, 504))
    with pytest.raises(PlatformUnavailable, match="HTTP 504"):
        run(_call(rec.client(), lambda c: c.supervisor_evaluate({}, 1.0)))
    assert len(rec.requests) == 1


def test_supervisor_hard_timeout() -> None:
    started = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.Event().wait()  # never answers
        raise AssertionError

    async def scenario() -> None:
        client = PlatformClient(
            "http://127.0.0.1:9",
            CREDS,
            executor_id="exec-1",
            transport=httpx.MockTransport(slow),
        )
        async with client:
            with pytest.raises(PlatformUnavailable, match=r"no answer within 0.05 s"):
                await client.supervisor_evaluate({}, timeout_s=0.05)
        assert started.is_set()

    run(scenario())


def test_report_command_rejects_unknown_status_and_needs_executor_id() -> None:
    rec = Recorder(ok({"ok": True}))
    with pytest.raises(ValueError, match="done"):
        run(_call(rec.client(), lambda c: c.report_command("c1", "done", None)))
    with pytest.raises(PlatformError, match="get_config"):
        run(_call(rec.client(executor_id=None), lambda c: c.heartbeat({})))
    assert rec.requests == []


def test_executor_id_is_quoted_in_paths() -> None:
    rec = Recorder(ok({"strategies": []}))
    run(_call(rec.client(executor_id="a/b"), lambda c: c.active_strategies()))
    assert rec.requests[0].url.raw_path == b"/api/executor/a%2Fb/active-strategies"


def test_bad_base_url() -> None:
    with pytest.raises(ConfigError, match="ftp://x"):
        PlatformClient("ftp://x", CREDS)
    with pytest.raises(ConfigError, match="max_attempts"):
        PlatformClient("https://x", CREDS, max_attempts=0)
