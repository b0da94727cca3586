"""The heartbeat loop: ``POST /api/executor/{id}/heartbeat`` every interval, and the fallback
delivery path of commands (the reply's ``pendingCommands``).

A beat that fails (platform unavailable, bad reply, a snapshot or handler bug) is logged and
counted; the loop goes on. :class:`PlatformAuthError` stops the loop: :meth:`HeartbeatLoop.run`
raises it, because the credentials will not become right by retrying.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from trademaestro.core.errors import ConfigError
from trademaestro.platform.client import Sleep, sleep_unless_stopped
from trademaestro.platform.errors import PlatformAuthError, PlatformError

log = logging.getLogger(__name__)

OnCommands = Callable[[list[dict[str, Any]]], Awaitable[None]]


class HeartbeatSender(Protocol):
    """What the loop needs of :class:`~trademaestro.platform.client.PlatformClient`."""

    async def heartbeat(self, body: Mapping[str, Any]) -> list[dict[str, Any]]: ...


@dataclass
class HeartbeatState:
    """Health of the heartbeat path. ``last_ok_at``: UTC ISO time of the last accepted beat."""

    beats_ok: int = 0
    beats_failed: int = 0
    consecutive_failures: int = 0
    commands_received: int = 0
    last_ok_at: str | None = None
    last_error: str | None = None
    fatal: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy for health reports."""
        return asdict(self)


def utc_timestamp(moment: datetime) -> str:
    """``2026-11-21T10:00:00Z``: the contract's timestamp (UTC, whole seconds).

    Raises:
        ValueError: ``moment`` is naive (no time zone).
    """
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no time zone; pass an aware one")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HeartbeatLoop:
    """Posts a heartbeat every ``interval_s`` seconds and hands ``pendingCommands`` on.

    Args:
        client: a PlatformClient (or anything with its ``heartbeat`` method).
        interval_s: seconds between the end of one beat and the start of the next (> 0);
            may be changed while running (attribute ``interval_s``).
        snapshot: returns the body (account, activeStrategies, health); ``status``
            (``"online"``) and ``timestamp`` (now, UTC) are added when it has none.
        on_commands: awaited with the non-empty list of pending command objects; its errors
            are logged (the commands stay pending on the platform and come again).
        sleep: the wait between beats; now: the clock of ``timestamp`` (aware datetime).

    Raises:
        ConfigError: ``interval_s`` is not > 0.
    """

    def __init__(
        self,
        client: HeartbeatSender,
        interval_s: float,
        snapshot: Callable[[], Mapping[str, Any]],
        on_commands: OnCommands,
        *,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self.interval_s = interval_s
        self._snapshot = snapshot
        self._on_commands = on_commands
        self._sleep = sleep
        self._now = now
        self.state = HeartbeatState()

    @property
    def interval_s(self) -> float:
        """Seconds between beats."""
        return self._interval_s

    @interval_s.setter
    def interval_s(self, value: float) -> None:
        if not value > 0:
            raise ConfigError(f"heartbeat interval: found {value!r} s; allowed: > 0 seconds")
        self._interval_s = float(value)

    async def run(self, stop: asyncio.Event) -> None:
        """Beat at once, then every interval, until ``stop`` is set.

        Raises:
            PlatformAuthError: the platform refused the credentials (the loop has stopped).
        """
        while not stop.is_set():
            await self.beat()
            if await sleep_unless_stopped(self._sleep, self._interval_s, stop):
                return

    async def beat(self) -> bool:
        """One heartbeat. Returns True when the platform accepted it.

        Raises:
            PlatformAuthError: as :meth:`run`.
        """
        try:
            body = dict(self._snapshot())
            body.setdefault("status", "online")
            body.setdefault("timestamp", utc_timestamp(self._now()))
        except Exception as exc:
            log.exception("heartbeat snapshot failed")
            return self._failed(f"snapshot failed: {type(exc).__name__}: {exc}")
        try:
            commands = await self._client.heartbeat(body)
        except PlatformAuthError as exc:
            self.state.fatal = str(exc)
            self.state.last_error = str(exc)
            log.error("heartbeat stopped: %s", exc)
            raise
        except PlatformError as exc:
            log.warning("heartbeat failed: %s", exc)
            return self._failed(str(exc))
        except Exception as exc:
            log.exception("heartbeat failed")
            return self._failed(f"{type(exc).__name__}: {exc}")
        self.state.beats_ok += 1
        self.state.consecutive_failures = 0
        self.state.last_ok_at = body["timestamp"] if isinstance(body["timestamp"], str) else None
        if commands:
            self.state.commands_received += len(commands)
            log.info("heartbeat delivered %d pending command(s)", len(commands))
            try:
                await self._on_commands(commands)
            except Exception:
                log.exception("handler of pending commands failed")
        return True

    def _failed(self, reason: str) -> bool:
        self.state.beats_failed += 1
        self.state.consecutive_failures += 1
        self.state.last_error = reason
        return False
