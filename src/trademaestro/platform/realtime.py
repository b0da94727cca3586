"""Pusher Channels (protocol 7) client over ``websockets``: the platform's realtime command path.

One :class:`PusherClient` keeps one private channel subscribed and hands its events on.
Protocol (https://pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol):

- the server opens with ``pusher:connection_established``, data a JSON *string*
  ``{"socket_id": "123.456", "activity_timeout": 120}``;
- the client asks ``authorize(socket_id, channel)`` (the platform's ``/api/pusher/auth``) and
  sends ``{"event": "pusher:subscribe", "data": {"channel": ..., "auth": ...}}``; the server
  answers ``pusher_internal:subscription_succeeded`` or ``pusher:error`` /
  ``pusher:subscription_error``;
- either side may send ``pusher:ping``, answered by ``pusher:pong``. After
  ``min(activity_timeout_s, server's activity_timeout)`` seconds without any message the client
  pings; no message within ``pong_timeout_s`` (30 s) -> the connection is dropped and reopened
  at once;
- channel events carry ``data`` as a JSON string; it is decoded before delivery.

Reconnection, by the error code of a WebSocket close frame or of a connection-level
``pusher:error``:

=========== ==========================================================================
4000-4099   refused: do not reconnect; :meth:`PusherClient.run` raises RealtimeRefused
4100-4199   reconnect after a pause: ``max(pause_s, backoff)``
4200-4299   reconnect at once (after 3 immediate reconnects in a row without a successful
            subscription, with backoff, so that a misbehaving server cannot spin the loop)
other/none  reconnect with exponential backoff (capped), reset by a successful subscription
=========== ==========================================================================

A refused subscription is reported (``state.last_error``, a warning) and retried on the same
connection with backoff: the platform may fix the channel. :class:`PlatformAuthError` from
``authorize`` (the credentials are wrong, or the channel is not this executor's) stops the client:
:meth:`PusherClient.run` raises it. Bad frames (not JSON, no event name, undecodable data) are
logged and skipped, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import asdict, dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI
from websockets.uri import parse_uri

from trademaestro.core.errors import ConfigError
from trademaestro.platform.client import Backoff, Sleep, sleep_unless_stopped
from trademaestro.platform.errors import PlatformAuthError, RealtimeRefused

log = logging.getLogger(__name__)

Authorize = Callable[[str, str], Awaitable[str]]
"""``(socket_id, channel_name) -> auth`` string for ``pusher:subscribe``."""
OnEvent = Callable[[str, "dict[str, Any] | str"], Awaitable[None]]
"""``(event_name, data)``: data decoded from its JSON string (an object, or a string)."""

COMMAND_EVENT = "command-received"
_IMMEDIATE_LIMIT = 3
DEFAULT_BACKOFF = Backoff(initial_s=1.0, max_s=60.0, jitter_s=0.5)
_SHOWN = 120


class _Next(enum.Enum):
    """What to do after a connection ended."""

    STOP = "stop"
    NOW = "reconnect at once"
    PAUSE = "reconnect after a pause"
    BACKOFF = "reconnect with backoff"


@dataclass
class RealtimeState:
    """Health of the realtime path (read it, do not write it).

    ``connections``: handshakes completed; ``reconnects``: reconnections started;
    ``last_error``: the latest problem in words; ``fatal``: why the client stopped for good.
    """

    connected: bool = False
    subscribed: bool = False
    socket_id: str | None = None
    connections: int = 0
    reconnects: int = 0
    subscription_failures: int = 0
    events_delivered: int = 0
    events_skipped: int = 0
    handler_errors: int = 0
    last_close_code: int | None = None
    last_error: str | None = None
    fatal: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy for health reports."""
        return asdict(self)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _action(code: int | None) -> _Next | None:
    """The reconnection rule of a Pusher error code; None means refused (4000-4099)."""
    if code is None:
        return _Next.BACKOFF
    if 4000 <= code <= 4099:
        return None
    if 4100 <= code <= 4199:
        return _Next.PAUSE
    if 4200 <= code <= 4299:
        return _Next.NOW
    return _Next.BACKOFF


class PusherClient:
    """Keeps ``channel`` subscribed on the Pusher server at ``ws_url`` and delivers its events.

    Args:
        ws_url: ``ws[s]://host:port/app/{key}?protocol=7&...`` (see ``PusherSettings.ws_url``).
        channel: the private channel, ``private-executor-{executorId}``.
        authorize: returns the subscription auth string (``PlatformClient.pusher_auth``).
        on_event: awaited for each event on ``channel`` whose name is in ``events``; it should
            be quick (enqueue): the connection is not read while it runs. Its exceptions are
            logged and counted, never fatal.
        events: event names delivered (default ``command-received``); None delivers every
            non-protocol event of the channel.
        backoff: reconnection and resubscription delays. pause_s: least pause for 4100-4199.
        activity_timeout_s: longest silence before the client pings (the server's
            ``activity_timeout`` if shorter). pong_timeout_s: wait for an answer to that ping.
        handshake_timeout_s: for the WebSocket opening and ``connection_established``.
        subscribe_timeout_s: for the answer to ``pusher:subscribe``.
        sleep, rng: injectable for tests (delays, jitter).

    Raises:
        ConfigError: ``ws_url`` is not a ws:// or wss:// URL.
    """

    def __init__(
        self,
        ws_url: str,
        channel: str,
        authorize: Authorize,
        on_event: OnEvent,
        *,
        events: Collection[str] | None = (COMMAND_EVENT,),
        backoff: Backoff = DEFAULT_BACKOFF,
        pause_s: float = 1.0,
        activity_timeout_s: float = 120.0,
        pong_timeout_s: float = 30.0,
        handshake_timeout_s: float = 10.0,
        subscribe_timeout_s: float = 30.0,
        max_message_bytes: int = 4 * 1024 * 1024,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        try:
            parse_uri(ws_url)
        except InvalidURI:
            raise ConfigError(
                f"Pusher URL {ws_url!r}: allowed: ws:// or wss:// URL (host, port, /app/key)"
            ) from None
        self._ws_url = ws_url
        self._channel = channel
        self._authorize = authorize
        self._on_event = on_event
        self._events = frozenset(events) if events is not None else None
        self._backoff = backoff
        self._pause_s = pause_s
        self._activity_timeout_s = activity_timeout_s
        self._pong_timeout_s = pong_timeout_s
        self._handshake_timeout_s = handshake_timeout_s
        self._subscribe_timeout_s = subscribe_timeout_s
        self._max_message_bytes = max_message_bytes
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self.state = RealtimeState()
        self._failures = 0  # consecutive failed connections (backoff exponent)
        self._immediate = 0  # consecutive immediate reconnects
        self._fatal: BaseException | None = None
        self._sub_future: asyncio.Future[str | None] | None = None

    @property
    def channel(self) -> str:
        """The subscribed channel name."""
        return self._channel

    # ----- lifecycle ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, subscribe and deliver events until ``stop`` is set (then return).

        Raises:
            RealtimeRefused: the server refused with a code in 4000-4099.
            PlatformAuthError: ``authorize`` said the credentials/channel are not accepted.
        """
        self._fatal = None
        try:
            while not stop.is_set():
                after = await self._session(stop)
                fatal = self._take_fatal()
                if fatal is not None:
                    self.state.fatal = str(fatal)
                    log.error("realtime client stopped: %s", fatal)
                    raise fatal
                if after is _Next.STOP or stop.is_set():
                    return
                delay = self._delay(after)
                self.state.reconnects += 1
                log.warning(
                    "Pusher connection ended (%s); %s in %.2f s",
                    self.state.last_error or "closed",
                    after.value,
                    delay,
                )
                if delay > 0 and await sleep_unless_stopped(self._sleep, delay, stop):
                    return
        finally:
            self.state.connected = False
            self.state.subscribed = False

    def _take_fatal(self) -> BaseException | None:
        fatal, self._fatal = self._fatal, None
        return fatal

    def _delay(self, after: _Next) -> float:
        if after is _Next.NOW and self._immediate < _IMMEDIATE_LIMIT:
            self._immediate += 1
            return 0.0
        self._failures += 1
        delay = self._backoff.delay(self._failures, self._rng)
        return max(self._pause_s, delay) if after is _Next.PAUSE else delay

    def _error(self, text: str) -> None:
        self.state.last_error = text

    async def _session(self, stop: asyncio.Event) -> _Next:
        try:
            ws = await connect(
                self._ws_url,
                open_timeout=self._handshake_timeout_s,
                ping_interval=None,  # keep-alive is Pusher's own ping/pong
                close_timeout=5.0,
                max_size=self._max_message_bytes,
            )
        except Exception as exc:  # refused, DNS, TLS, HTTP status, timeout: all transient
            self._error(f"cannot connect to {self._ws_url}: {type(exc).__name__}: {exc}")
            return _Next.BACKOFF
        closer = asyncio.create_task(self._close_when(stop, ws))
        subscriber: asyncio.Task[None] | None = None
        try:
            established = await self._handshake(ws)
            if isinstance(established, _Next):
                return established
            socket_id, activity_s = established
            subscriber = asyncio.create_task(self._subscribe_loop(ws, socket_id))
            return await self._read(ws, activity_s)
        finally:
            for task in (closer, subscriber):
                if task is not None:
                    task.cancel()
            await asyncio.gather(
                closer, *([subscriber] if subscriber else []), return_exceptions=True
            )
            self._sub_future = None
            self.state.connected = False
            self.state.subscribed = False
            with contextlib.suppress(Exception):
                await ws.close()

    @staticmethod
    async def _close_when(stop: asyncio.Event, ws: ClientConnection) -> None:
        await stop.wait()
        await ws.close(1000, "executor stopping")

    # ----- protocol ------------------------------------------------------------------------------

    async def _handshake(self, ws: ClientConnection) -> tuple[str, float] | _Next:
        try:
            raw = await asyncio.wait_for(ws.recv(), self._handshake_timeout_s)
        except TimeoutError:
            self._error(f"no pusher:connection_established within {self._handshake_timeout_s} s")
            return _Next.BACKOFF
        except ConnectionClosed as exc:
            return self._closed(exc)
        message = self._decode(raw)
        event = message.get("event") if message else None
        if message is not None and event == "pusher:error":
            return await self._pusher_error(ws, message) or _Next.BACKOFF
        if message is None or event != "pusher:connection_established":
            self._error(f"expected pusher:connection_established, got {_short(raw)}")
            return _Next.BACKOFF
        data = self._data(message)
        socket_id = data.get("socket_id") if isinstance(data, dict) else None
        if not isinstance(socket_id, str) or not socket_id:
            self._error(f"pusher:connection_established without socket_id: {_short(raw)}")
            return _Next.BACKOFF
        activity_s = self._activity_timeout_s
        server_s = data.get("activity_timeout") if isinstance(data, dict) else None
        if isinstance(server_s, int | float) and not isinstance(server_s, bool) and server_s > 0:
            activity_s = min(activity_s, float(server_s))
        self.state.connected = True
        self.state.socket_id = socket_id
        self.state.connections += 1
        log.info("Pusher connected (socket %s, activity timeout %g s)", socket_id, activity_s)
        return socket_id, activity_s

    async def _read(self, ws: ClientConnection, activity_s: float) -> _Next:
        while True:
            try:
                try:
                    raw = await asyncio.wait_for(ws.recv(), activity_s)
                except TimeoutError:
                    await ws.send(json.dumps({"event": "pusher:ping", "data": {}}))
                    try:
                        raw = await asyncio.wait_for(ws.recv(), self._pong_timeout_s)
                    except TimeoutError:
                        self._error(f"no pusher:pong within {self._pong_timeout_s:g} s")
                        return _Next.NOW
            except ConnectionClosed as exc:
                return self._closed(exc)
            after = await self._handle(ws, raw)
            if after is not None:
                return after

    def _closed(self, exc: ConnectionClosed) -> _Next:
        code = exc.rcvd.code if exc.rcvd is not None else None
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        self.state.last_close_code = code
        self._error(f"connection closed (code {code}, {reason or 'no reason'})")
        after = _action(code)
        if after is None:
            self._fatal = RealtimeRefused(code or 0, reason)
            return _Next.STOP
        return after

    async def _pusher_error(self, ws: ClientConnection, message: dict[str, Any]) -> _Next | None:
        data = self._data(message)
        code = data.get("code") if isinstance(data, dict) else None
        text = data.get("message") if isinstance(data, dict) else data
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        self._error(f"pusher:error {code}: {_short(text)}")
        future = self._sub_future
        if future is not None and not future.done():
            future.set_result(f"subscription refused: pusher:error {code}: {_short(text)}")
            return None
        if code is None or not 4000 <= code <= 4299:
            log.warning("Pusher error ignored: %s", self.state.last_error)
            return None
        after = _action(code)
        with contextlib.suppress(Exception):
            await ws.close(1000, "pusher:error")
        if after is None:
            self._fatal = RealtimeRefused(code, str(text or ""))
            return _Next.STOP
        return after

    async def _handle(self, ws: ClientConnection, raw: str | bytes) -> _Next | None:
        message = self._decode(raw)
        if message is None:
            self.state.events_skipped += 1
            return None
        event = message["event"]
        channel = message.get("channel")
        if event == "pusher:ping":
            await ws.send(json.dumps({"event": "pusher:pong", "data": {}}))
            return None
        if event == "pusher:error":
            return await self._pusher_error(ws, message)
        if event in ("pusher:pong", "pusher:connection_established"):
            return None
        future = self._sub_future
        if event == "pusher_internal:subscription_succeeded" and channel == self._channel:
            if future is not None and not future.done():
                future.set_result(None)
            return None
        if event == "pusher:subscription_error" and channel in (None, self._channel):
            if future is not None and not future.done():
                future.set_result(f"subscription refused: {_short(self._data(message))}")
            return None
        if channel != self._channel or (self._events is not None and event not in self._events):
            log.debug("Pusher event %r on %r ignored", event, channel)
            return None
        await self._deliver(event, message)
        return None

    async def _deliver(self, event: str, message: dict[str, Any]) -> None:
        data = self._data(message)
        if not isinstance(data, dict | str):
            self.state.events_skipped += 1
            log.warning("Pusher event %r skipped: data is %s", event, _short(message.get("data")))
            return
        try:
            await self._on_event(event, data)
        except Exception:
            self.state.handler_errors += 1
            log.exception("handler of Pusher event %r failed", event)
        else:
            self.state.events_delivered += 1

    async def _subscribe_loop(self, ws: ClientConnection, socket_id: str) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                auth = await self._authorize(socket_id, self._channel)
            except PlatformAuthError as exc:
                self._fatal = exc
                await ws.close(1000, "not authorized")
                return
            except Exception as exc:
                error: str | None = f"authorization failed: {type(exc).__name__}: {exc}"
            else:
                future: asyncio.Future[str | None] = loop.create_future()
                self._sub_future = future
                subscribe = {"channel": self._channel, "auth": auth}
                try:
                    await ws.send(json.dumps({"event": "pusher:subscribe", "data": subscribe}))
                except ConnectionClosed:
                    return
                try:
                    error = await asyncio.wait_for(future, self._subscribe_timeout_s)
                except TimeoutError:
                    error = f"no answer to pusher:subscribe within {self._subscribe_timeout_s:g} s"
                finally:
                    self._sub_future = None
            if error is None:
                self.state.subscribed = True
                self._failures = 0
                self._immediate = 0
                log.info("Pusher channel %s subscribed", self._channel)
                return
            failures += 1
            self.state.subscription_failures += 1
            self._error(error)
            delay = self._backoff.delay(failures, self._rng)
            log.warning("%s on %s; retrying in %.2f s", error, self._channel, delay)
            await self._sleep(delay)

    # ----- decoding ------------------------------------------------------------------------------

    def _decode(self, raw: str | bytes) -> dict[str, Any] | None:
        """A frame as a message object with a string ``event``, or None (logged)."""
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            log.warning("Pusher frame skipped: not JSON: %s", _short(raw))
            return None
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            log.warning("Pusher frame skipped: no event name: %s", _short(raw))
            return None
        return message

    @staticmethod
    def _data(message: dict[str, Any]) -> Any:
        """The message's ``data``: a JSON string decoded, an object as is; None when the string
        is not JSON (logged)."""
        data = message.get("data")
        if not isinstance(data, str):
            return data
        try:
            return json.loads(data)
        except ValueError:
            log.warning("Pusher %r data is not JSON: %s", message.get("event"), _short(data))
            return None
