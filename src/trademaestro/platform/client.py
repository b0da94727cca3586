"""The executor's REST client of the web platform (asyncio, httpx).

Every request carries ``X-API-Key`` and ``X-API-Secret``. Retry policy, per request:

- network errors (connect, read, write, timeouts), HTTP 5xx and 429 are retried up to
  ``max_attempts`` attempts in all, waiting ``Retry-After`` (seconds or an HTTP date, capped at
  ``retry_after_max_s``) when the platform sends it, else an exponential backoff with jitter
  (:class:`Backoff`); when every attempt failed -> :class:`PlatformUnavailable`;
- 401/403 -> :class:`PlatformAuthError` at once, never retried (the credentials are wrong or not
  bound to this executor);
- any other non-2xx -> :class:`PlatformRejected`, not retried;
- a 2xx reply that is not JSON or not of the contract's shape -> :class:`PlatformProtocolError`.

The secret never appears in a log line or an exception message: texts from the platform are
scrubbed of it, headers are never formatted, redirects are not followed.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from trademaestro.core.errors import ConfigError
from trademaestro.platform.config import CONFIG_ENDPOINT, ExecutorConfig, parse_config
from trademaestro.platform.credentials import Credentials
from trademaestro.platform.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformProtocolError,
    PlatformRejected,
    PlatformUnavailable,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
"""An ``asyncio.sleep``-like coroutine function (seconds); injectable for tests."""

CommandStatus = Literal["received", "executing", "executed", "failed"]
COMMAND_STATUSES: frozenset[str] = frozenset({"received", "executing", "executed", "failed"})
_TEXT_MAX = 200


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with additive jitter, in seconds.

    Delay before retry ``n`` (1-based): ``min(max_s, initial_s * multiplier ** (n - 1))`` plus a
    uniform jitter in ``[0, jitter_s]``. ``Backoff(0, 0, jitter_s=0)`` never waits (tests).
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter_s: float = 0.25

    def delay(self, n: int, rng: random.Random) -> float:
        """Seconds to wait before retry ``n`` (n >= 1)."""
        exponent = min(max(n - 1, 0), 64)
        base = min(self.max_s, self.initial_s * self.multiplier**exponent)
        return base + (rng.uniform(0.0, self.jitter_s) if self.jitter_s > 0 else 0.0)


async def sleep_unless_stopped(sleep: Sleep, seconds: float, stop: asyncio.Event) -> bool:
    """Wait ``seconds`` through ``sleep``, or less if ``stop`` is set meanwhile.

    Returns True when ``stop`` is set (the caller should finish), False after a full wait.
    """
    if stop.is_set():
        return True
    sleeper = asyncio.ensure_future(sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, stopper):
            task.cancel()
        await asyncio.gather(sleeper, stopper, return_exceptions=True)
    return stop.is_set()


class _Transient(Exception):
    """A failure worth another attempt (internal; becomes PlatformUnavailable)."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        super().__init__(reason)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date
    (RFC 9110 section 10.2.3), relative to ``now`` (Unix seconds). None when absent or
    unreadable; never negative."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class PlatformClient:
    """Async client of the platform's executor API (the wire contract of issue 5).

    Args:
        base_url: the platform's root, ``https://host[:port]`` (``http`` allowed, with a warning
            unless the host is loopback).
        credentials: API key and secret.
        executor_id: this executor's id; set by :meth:`get_config` when not given.
        timeout: seconds for connect, read, write and pool of each attempt.
        transport: an httpx transport (tests pass ``httpx.MockTransport``).
        max_attempts: attempts per request in all (>= 1).
        backoff: delays between attempts when the platform gives no ``Retry-After``.
        retry_after_max_s: longest ``Retry-After`` honoured; longer values are cut to it.
        sleep: the sleep used between attempts; clock: Unix seconds for HTTP-date
            ``Retry-After``; rng: jitter source (seed it for reproducible delays).

    Raises (from every request method): PlatformAuthError, PlatformUnavailable,
    PlatformRejected, PlatformProtocolError.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        executor_id: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_attempts: int = 5,
        backoff: Backoff = Backoff(),
        retry_after_max_s: float = 120.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(f"platform URL {base_url!r}: allowed: http(s)://host[:port][/path]")
        if url.scheme == "http" and not _is_loopback(url.host):
            log.warning("platform URL %s is not TLS: the API secret travels in clear", base_url)
        if max_attempts < 1:
            raise ConfigError(f"max_attempts: found {max_attempts}; allowed: >= 1")
        self._credentials = credentials
        self.executor_id = executor_id
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._retry_after_max_s = retry_after_max_s
        self._sleep = sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._http = httpx.AsyncClient(
            base_url=str(url).rstrip("/"),
            headers={**credentials.headers(), "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"PlatformClient({str(self._http.base_url)!r}, {self._credentials!r})"

    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # ----- endpoints -------------------------------------------------------------------------

    async def get_config(self) -> ExecutorConfig:
        """``GET /api/executor/config``: the executor's configuration; remembers its id."""
        payload = await self._request("GET", "/api/executor/config", endpoint=CONFIG_ENDPOINT)
        config = parse_config(payload)
        self.executor_id = config.executor_id
        return config

    async def pusher_auth(self, socket_id: str, channel_name: str) -> str:
        """``POST /api/pusher/auth`` (form ``socket_id``, ``channel_name``): the private-channel
        signature ``"<app key>:<hex HMAC-SHA256>"`` to put in ``pusher:subscribe``.

        403 (channel not this executor's) raises PlatformAuthError."""
        endpoint = "POST /api/pusher/auth"
        payload = await self._request(
            "POST",
            "/api/pusher/auth",
            data={"socket_id": socket_id, "channel_name": channel_name},
            endpoint=endpoint,
        )
        auth: str = _field(payload, "auth", str, "a non-empty string", endpoint)
        if not auth:
            raise PlatformProtocolError("auth", auth, "a non-empty string", endpoint=endpoint)
        return auth

    async def heartbeat(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``POST /api/executor/{id}/heartbeat`` with ``body`` (status, timestamp, account,
        activeStrategies, health): the ``pendingCommands`` (command objects, unvalidated).

        Items that are not JSON objects are dropped with a warning naming their path."""
        path = self._executor_path("heartbeat")
        endpoint = f"POST {path}"
        payload = await self._request("POST", path, json=dict(body), endpoint=endpoint)
        return _object_list(payload, "pendingCommands", endpoint, missing_ok=True)

    async def report_command(
        self, command_id: str, status: CommandStatus | str, result: Mapping[str, Any] | None
    ) -> None:
        """``PATCH /api/executor/{id}/command`` with ``{commandId, status, result}``.

        ``status``: received, executing, executed or failed. An unknown command id (404)
        raises PlatformRejected with ``status`` 404.

        Raises:
            ValueError: ``status`` is not one of the four.
        """
        if status not in COMMAND_STATUSES:
            raise ValueError(f"status: found {status!r}; allowed: {sorted(COMMAND_STATUSES)}")
        path = self._executor_path("command")
        body = {
            "commandId": command_id,
            "status": status,
            "result": dict(result) if result is not None else None,
        }
        await self._request("PATCH", path, json=body, endpoint=f"PATCH {path}", decode=False)

    async def active_strategies(self) -> list[dict[str, Any]]:
        """``GET /api/executor/{id}/active-strategies``: the ``strategies`` list (objects with
        strategyId, shouldAutoRestart, parameters), unvalidated."""
        path = self._executor_path("active-strategies")
        endpoint = f"GET {path}"
        payload = await self._request("GET", path, endpoint=endpoint)
        return _object_list(payload, "strategies", endpoint, missing_ok=False)

    async def supervisor_evaluate(
        self, body: Mapping[str, Any], timeout_s: float
    ) -> dict[str, Any]:
        """``POST /api/executor/{id}/supervisor/evaluate``: one attempt, at most ``timeout_s``
        seconds in all. Returns the decision object unvalidated.

        Raises:
            PlatformUnavailable: timeout, network error, 5xx (504 = LLM timeout) or 429
                (``retry_after_s`` set from ``Retry-After``).
            PlatformAuthError, PlatformRejected, PlatformProtocolError: as every request.
        """
        path = self._executor_path("supervisor/evaluate")
        endpoint = f"POST {path}"
        try:
            async with asyncio.timeout(timeout_s):
                payload = await self._request(
                    "POST", path, json=dict(body), endpoint=endpoint, attempts=1, timeout=timeout_s
                )
        except TimeoutError:
            raise PlatformUnavailable(
                f"no answer within {timeout_s:g} s", endpoint=endpoint
            ) from None
        if not isinstance(payload, dict):
            raise PlatformProtocolError("$", payload, "a JSON object", endpoint=endpoint)
        return payload

    # ----- machinery -------------------------------------------------------------------------

    def _executor_path(self, tail: str) -> str:
        if not self.executor_id:
            raise PlatformError("executor id unknown: call get_config() first")
        return f"/api/executor/{quote(self.executor_id, safe='')}/{tail}"

    def _scrub(self, text: str) -> str:
        text = text.replace(self._credentials.api_secret, "***")
        return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 3] + "..."

    def _error_text(self, response: httpx.Response) -> str:
        try:
            payload = response.json()
        except (ValueError, UnicodeDecodeError):
            payload = None
        if isinstance(payload, dict):
            for key in ("error", "message", "detail"):
                if isinstance(payload.get(key), str):
                    return self._scrub(payload[key])
        return self._scrub(response.text.strip()) if response.text else ""

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self._retry_after_max_s)
        return self._backoff.delay(state.attempt_number, self._rng)

    async def _once(
        self,
        method: str,
        path: str,
        endpoint: str,
        json_body: Any,
        data: Mapping[str, str] | None,
        timeout: float | None,
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method,
                path,
                json=json_body,
                data=data,
                timeout=httpx.Timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Transient(
                f"network error ({type(exc).__name__}: {self._scrub(str(exc))})"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        text = self._error_text(response)
        detail = f"HTTP {status}" + (f": {text}" if text else "")
        if status == 401:
            raise PlatformAuthError(
                f"{detail}; the platform does not accept API key {self._credentials.masked_key} "
                "with this secret: fix the credentials (keyring or TRADEMAESTRO_API_KEY/"
                "TRADEMAESTRO_API_SECRET); not retried",
                endpoint=endpoint,
                status=status,
            )
        if status == 403:
            raise PlatformAuthError(
                f"{detail}; API key {self._credentials.masked_key} is not bound to this "
                "executor or channel; not retried",
                endpoint=endpoint,
                status=status,
            )
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            raise _Transient(detail, status, retry_after)
        raise PlatformRejected(detail, endpoint=endpoint, status=status)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        attempts: int | None = None,
        timeout: float | None = None,
        decode: bool = True,
    ) -> Any:
        total = attempts if attempts is not None else self._max_attempts

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            delay = state.upcoming_sleep
            log.warning(
                "%s failed (%s); attempt %d/%d, retrying in %.2f s",
                endpoint,
                exc,
                state.attempt_number,
                total,
                delay,
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(total),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._once(method, path, endpoint, json, data, timeout)
        except _Transient as exc:
            raise PlatformUnavailable(
                f"{exc.reason} (after {total} attempt{'s' if total != 1 else ''})",
                endpoint=endpoint,
                status=exc.status,
                attempts=total,
                retry_after_s=exc.retry_after,
            ) from None
        if not decode:
            return None
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise PlatformProtocolError(
                "$", self._scrub(response.text[:80]), "a JSON body", endpoint=endpoint
            ) from None


def _field(payload: Any, key: str, kind: type, allowed: str, endpoint: str) -> Any:
    if not isinstance(payload, dict):
        raise PlatformProtocolError("$", payload, "a JSON object", endpoint=endpoint)
    if key not in payload:
        raise PlatformProtocolError(key, None, f"{allowed} (key missing)", endpoint=endpoint)
    value = payload[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise PlatformProtocolError(key, value, allowed, endpoint=endpoint)
    return value


def _object_list(
    payload: Any, key: str, endpoint: str, *, missing_ok: bool
) -> list[dict[str, Any]]:
    if missing_ok and isinstance(payload, dict) and payload.get(key) is None:
        return []
    items = _field(payload, key, list, "a list of objects", endpoint)
    kept: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            kept.append(item)
        else:
            log.warning(
                "%s: reply %s[%d] is %s, not an object; dropped",
                endpoint,
                key,
                index,
                json.dumps(item)[:80],
            )
    return kept
