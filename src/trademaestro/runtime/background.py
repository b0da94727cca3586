"""Shared pieces of the runtime's background services (monitor, watchdog, supervisor).

* :class:`BackgroundTask` — a service whose ``run()`` coroutine is started once as an asyncio task
  and stopped (cancelled and awaited) on demand.
* :func:`log_event` — one structured log line: ``<event> <json fields>``, the fields also attached
  to the record (``record.event``, ``record.fields``) for log processors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any


class BackgroundTask:
    """Mixin: :meth:`start` runs ``self.run()`` as a named task (idempotent); :meth:`stop` cancels
    it and waits for it. Subclasses define ``run`` and ``task_name``."""

    task_name = "background"
    _task: asyncio.Task[None] | None = None

    async def run(self) -> None:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def start(self) -> asyncio.Task[None]:
        """Start :meth:`run` as a task of the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name=self.task_name)
        return self._task

    async def stop(self) -> None:
        """Cancel the task started by :meth:`start` and wait for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def log_event(log: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log ``event`` with ``fields`` as one structured line (see the module docstring)."""
    log.log(
        level,
        "%s %s",
        event,
        json.dumps(fields, sort_keys=True, default=str),
        extra={"event": event, "fields": fields},
    )
