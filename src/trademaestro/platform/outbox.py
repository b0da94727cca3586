"""The report outbox: command status reports kept in SQLite and sent strictly in order.

Every report (``PATCH /api/executor/{id}/command`` with ``{commandId, status, result}``) is
first a row of the ``platform_outbox`` table (queued by the store in the same transaction as
the status change it announces). :meth:`Outbox.flush` sends the pending rows oldest first and
stops at the first failure, keeping that row and every later one: a later status of a command
is therefore never sent before an earlier one (and the global order is kept too). Rows left
pending by a previous process are sent first when the outbox starts again.

A failed send is classified by two callables given by the wiring (the platform client's
errors are its business):

- ``is_fatal(exc)``: retrying cannot help until a human acts (e.g. 401/403: wrong
  credentials). The row is kept, the retry loop stops and :attr:`Outbox.fatal` holds the error;
- ``is_permanent(exc)``: the platform refuses this report for good (e.g. 404: a command id it
  does not know, such as one from the local CLI). The row is marked ``dropped`` with the error
  and the flush goes on; without this a single such report would block every later one;
- anything else is retried: the loop waits ``min(base * 2**n, cap)`` seconds after the n-th
  consecutive failed flush (n from 0), or until stopped.

Delivery is at least once: a report whose send succeeded but whose ``sent`` mark was lost (a
crash in between) is sent again at the next start; the platform's PATCH is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from trademaestro.persistence.platform_store import PlatformStore

log = logging.getLogger(__name__)

SendFn = Callable[[str, str, dict[str, Any] | None], Awaitable[None]]
"""``send(command_id, status, result)``: one report; raises on failure."""
ErrorTest = Callable[[Exception], bool]


def _never(_exc: Exception) -> bool:
    return False


def describe_error(exc: BaseException) -> str:
    """``"<ExceptionClass>: <message>"`` (the message alone when it is empty: the class)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Outbox:
    """Sends the stored reports of ``store`` through ``send``, in order.

    Args:
        store: where the reports are kept.
        send: the platform client's ``report_command(command_id, status, result)``.
        is_fatal: True for an error that stops the retry loop (module docstring).
        is_permanent: True for an error that drops this one report.
        backoff: (base, cap) of the wait between failed flushes, in seconds (>= 0).
        batch: how many rows one flush reads at a time.
    """

    def __init__(
        self,
        store: PlatformStore,
        send: SendFn,
        *,
        is_fatal: ErrorTest = _never,
        is_permanent: ErrorTest = _never,
        backoff: tuple[float, float] = (1.0, 60.0),
        batch: int = 100,
    ) -> None:
        base, cap = backoff
        if not (0 <= base <= cap) or batch < 1:
            raise ValueError(
                f"backoff {backoff!r}, batch {batch}; allowed: 0 <= base <= cap, batch >= 1"
            )
        self.store = store
        self._send = send
        self._is_fatal = is_fatal
        self._is_permanent = is_permanent
        self._base, self._cap = base, cap
        self._batch = batch
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self.fatal: Exception | None = None
        """The error that stopped the retry loop, or None."""
        self.failures = 0
        """Consecutive failed flushes (0 after a complete flush)."""

    def enqueue(
        self, command_id: str, status: str, result: Mapping[str, Any] | None = None
    ) -> int:
        """Store a report and wake the sending loop; returns the report id (its send order).

        Raises:
            PlatformStoreError: an unknown status.
        """
        report_id = self.store.enqueue_report(command_id, status, result)
        self.wake()
        return report_id

    def wake(self) -> None:
        """Tell the loop that new reports are stored (the store queued them itself)."""
        self._wake.set()

    async def flush(self) -> bool:
        """Send pending reports oldest first until none is left or one fails.

        Returns:
            True when nothing is left pending; False when a send failed (that report and every
            later one stay pending) or the outbox is stopped by a fatal error.
        """
        async with self._lock:
            if self.fatal is not None:
                return False
            while True:
                rows = self.store.pending_reports(self._batch)
                if not rows:
                    return True
                for row in rows:
                    try:
                        await self._send(row.command_id, row.status, row.result)
                    except Exception as exc:  # every failure is classified
                        error = describe_error(exc)
                        if self._is_permanent(exc) and not self._is_fatal(exc):
                            self.store.mark_report(row.id, "dropped", error)
                            log.warning("report %s %s of %s dropped: %s", row.id, row.status,
                                        row.command_id, error)
                            continue
                        self.store.mark_report(row.id, "pending", error)
                        if self._is_fatal(exc):
                            self.fatal = exc
                            log.error("reports stopped: %s (fix and restart; %s kept)", error,
                                      "the pending reports are")
                        else:
                            log.warning("report %s %s of %s not sent (kept, retried): %s",
                                        row.id, row.status, row.command_id, error)
                        return False
                    self.store.mark_report(row.id, "sent")

    def delay(self) -> float:
        """Seconds to wait after the current run of failures (0 when none)."""
        if self.failures == 0:
            return 0.0
        return float(min(self._base * 2 ** (self.failures - 1), self._cap))

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set: first every report left pending (also by an earlier
        process), then each new one as it is woken; after a failure wait :meth:`delay`
        (new reports do not cut the wait short). Returns early on a fatal error."""
        while not stop.is_set():
            self._wake.clear()
            ok = await self.flush()
            if self.fatal is not None:
                return
            if ok:
                self.failures = 0
                await _first(stop, self._wake, timeout=None)
            else:
                self.failures += 1
                await _first(stop, None, timeout=self.delay())


async def _first(
    stop: asyncio.Event, other: asyncio.Event | None, *, timeout: float | None
) -> None:
    """Wait until ``stop`` or ``other`` is set, or ``timeout`` seconds pass."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waiters.append(asyncio.ensure_future(other.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        for waiter in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
