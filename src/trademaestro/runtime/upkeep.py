"""The background services every staged run keeps beside its pipeline: the monitor (with the
gateway's health when the broker lives in a gateway process), the watchdog and, once the
strategies may trade, the periodic reconciliation with the broker.

    async with Upkeep(session, monitor, watchdog) as upkeep:
        ...  # recovery, start-up reconciliation
        upkeep.reconcile_periodically()
        await pipeline.run(...)
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from trademaestro.runtime.monitor import Monitor
from trademaestro.runtime.recovery import reconcile_every
from trademaestro.runtime.session import Session
from trademaestro.runtime.watchdog import Watchdog


class Upkeep:
    """Starts the monitor and the watchdog on entry; cancels every service it started on exit.

    Args:
        session: the run (its broker's ``health()`` joins the monitor when it has one; its
            settings give the reconciliation period).
        monitor, watchdog: the run's own, with their sources and stages registered.
    """

    def __init__(self, session: Session, monitor: Monitor, watchdog: Watchdog) -> None:
        self.session = session
        self.monitor = monitor
        self.watchdog = watchdog
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Upkeep:
        health = getattr(self.session.emulator, "health", None)
        if callable(health):
            self.monitor.add_source("gateway", health)
        self.tasks = [self.monitor.start(), self.watchdog.start()]
        return self

    def reconcile_periodically(self) -> None:
        """Reconcile every ``reconcile_seconds`` from now on (when the run has its safety layer:
        the journal and the safe calls)."""
        session = self.session
        if session.safety is not None:
            self.tasks.append(
                asyncio.create_task(
                    reconcile_every(session, session.settings.reconcile_seconds),
                    name="reconcile",
                )
            )

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
