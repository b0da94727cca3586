"""The monitor: one structured health line every few seconds (issue 4 item 9, seed 000 §5).

Every ``interval`` seconds (default 5) :class:`Monitor` logs ONE line on logger
``trademaestro.monitor`` whose message is a JSON object (also in ``record.monitor``)::

    {"cpu_percent": 3.0,          # process CPU since the previous line, % of one core (can be >100)
     "rss_bytes": 81234944,       # resident set size
     "threads": 4,                # OS threads of the process
     "open_fds": 17,              # open file descriptors (Windows: open handles)
     "loop_lag_ms": {"last": 0.4, "max": 12.1, "samples": 20},
     "latency": {"evaluate": {"count": 12, "p50_ms": 1.2, "p99_ms": 8.0, "max_ms": 8.0}},
     "sources": {"queues": {"bars": {"depth": 0, ...}}, ...}}

* **event-loop lag**: the monitor sleeps ``lag_probe`` seconds at a time and measures how late it
  woke up (actual minus scheduled wake-up time, clamped at 0). A callback that blocks the loop
  (e.g. a hung MetaTrader5 call, which never releases the GIL) shows up here. ``last`` is the
  newest probe, ``max`` the worst over the interval.
* **latency**: one :class:`LatencyStats` per stage; p50/p99/max over the interval, then reset.
* **sources**: callables returning a mapping (queue depths, counters); called once per line. A
  source that raises is reported as ``{"error": "..."}`` and logged; the monitor goes on.

The clock and the sleep are injectable, so tests drive the monitor without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from trademaestro.core.errors import ConfigError
from trademaestro.runtime.background import BackgroundTask

log = logging.getLogger("trademaestro.monitor")

Source = Callable[[], Mapping[str, Any]]
Clock = Callable[[], float]
AsyncSleep = Callable[[float], Awaitable[None]]


def nearest_rank(sorted_values: list[float], percent: float) -> float:
    """The ``percent``-th percentile of ascending ``sorted_values`` by the nearest-rank method:
    the value at 1-based rank ``ceil(percent / 100 * n)`` (at least 1). Same as NumPy's
    ``percentile(..., method="inverted_cdf")`` (Hyndman & Fan 1996, definition 1).

    Raises:
        ValueError: ``sorted_values`` is empty.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(percent / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class LatencyStats:
    """Latencies of one stage over a reporting interval.

    :meth:`record` takes seconds; :meth:`snapshot` returns milliseconds. The count and the
    maximum are exact; percentiles come from a uniform reservoir sample of at most ``capacity``
    values (Vitter's algorithm R, seeded: deterministic), exact while fewer values were recorded.
    Thread-safe (a stage may record from a worker thread).
    """

    def __init__(self, capacity: int = 4096, *, seed: int = 0, clock: Clock = time.perf_counter):
        if capacity < 1:
            raise ConfigError(f"latency capacity: found {capacity}; allowed: >= 1")
        self.capacity = capacity
        self._clock = clock
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._samples: list[float] = []
        self._count = 0
        self._max = 0.0
        self.invalid = 0

    def record(self, seconds: float) -> None:
        """Add one latency in seconds. A negative or non-finite value is not recorded; it is
        counted in :attr:`invalid` (monitoring never raises into a stage)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            self.invalid += 1
            return
        with self._lock:
            self._count += 1
            self._max = max(self._max, seconds)
            if len(self._samples) < self.capacity:
                self._samples.append(seconds)
            else:
                slot = self._random.randrange(self._count)
                if slot < self.capacity:
                    self._samples[slot] = seconds

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        """Record the duration of the ``with`` block (also when it raises)."""
        start = self._clock()
        try:
            yield
        finally:
            self.record(self._clock() - start)

    def snapshot(self, reset: bool = True) -> dict[str, float | int | None]:
        """``{"count", "p50_ms", "p99_ms", "max_ms"}`` since the last reset (ms rounded to
        0.001; None when nothing was recorded); resets unless ``reset`` is False."""
        with self._lock:
            values = sorted(self._samples)
            count, peak = self._count, self._max
            if reset:
                self._samples = []
                self._count = 0
                self._max = 0.0
        if not values:
            return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
        return {
            "count": count,
            "p50_ms": _ms(nearest_rank(values, 50)),
            "p99_ms": _ms(nearest_rank(values, 99)),
            "max_ms": _ms(peak),
        }


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


@dataclass(frozen=True)
class ProcessStats:
    """Process health: ``cpu_percent`` since the previous probe (% of one core), ``rss_bytes``,
    OS ``threads``, ``open_fds`` (Windows: handles; None when the OS does not say)."""

    cpu_percent: float
    rss_bytes: int
    threads: int
    open_fds: int | None


def psutil_probe(process: psutil.Process | None = None) -> Callable[[], ProcessStats]:
    """A probe of this process (or ``process``) through psutil. The CPU counter is primed here,
    so the first probe reports the CPU used since this call."""
    proc = process or psutil.Process()
    proc.cpu_percent(None)

    def probe() -> ProcessStats:
        with proc.oneshot():
            fds: int | None
            try:
                if sys.platform == "win32":
                    fds = proc.num_handles()
                else:
                    fds = proc.num_fds()
            except (psutil.Error, OSError):
                fds = None
            return ProcessStats(
                cpu_percent=round(proc.cpu_percent(None), 1),
                rss_bytes=int(proc.memory_info().rss),
                threads=proc.num_threads(),
                open_fds=fds,
            )

    return probe


class Monitor(BackgroundTask):
    """Logs one health line every ``interval`` seconds while :meth:`run` runs (module docstring).

    Args:
        interval: seconds between lines (> 0).
        sources: named callables returning a mapping (queue depths, counters).
        lag_probe: seconds between event-loop lag probes (> 0, at most ``interval``).
        clock: monotonic seconds (default ``time.monotonic``, asyncio's clock).
        sleep: the coroutine that waits (default ``asyncio.sleep``).
        probe: the process probe (default :func:`psutil_probe`).

    Raises:
        ConfigError: a non-positive interval or lag probe, or a duplicate source name.
    """

    task_name = "monitor"

    def __init__(
        self,
        interval: float = 5.0,
        sources: Mapping[str, Source] | None = None,
        *,
        lag_probe: float = 0.25,
        clock: Clock = time.monotonic,
        sleep: AsyncSleep = asyncio.sleep,
        probe: Callable[[], ProcessStats] | None = None,
    ) -> None:
        if not interval > 0:
            raise ConfigError(f"monitor interval: found {interval}; allowed: > 0 s")
        if not lag_probe > 0:
            raise ConfigError(f"monitor lag probe: found {lag_probe}; allowed: > 0 s")
        self.interval = interval
        self.lag_probe = min(lag_probe, interval)
        self._clock = clock
        self._sleep = sleep
        self._probe = probe or psutil_probe()
        self._sources: dict[str, Source] = {}
        self._latency: dict[str, LatencyStats] = {}
        self._lag_last: float | None = None
        self._lag_max = 0.0
        self._lag_samples = 0
        self.source_errors: dict[str, int] = {}
        self.lines = 0
        self._task: asyncio.Task[None] | None = None
        for name, source in (sources or {}).items():
            self.add_source(name, source)

    def add_source(self, name: str, source: Source) -> None:
        """Report ``source()`` under ``sources.<name>`` in every line.

        Raises:
            ConfigError: ``name`` is already registered.
        """
        if name in self._sources:
            raise ConfigError(f"monitor source {name!r}: found a duplicate; allowed: unique names")
        self._sources[name] = source

    def latency(self, stage: str) -> LatencyStats:
        """The :class:`LatencyStats` of ``stage`` (created on first use), reported under
        ``latency.<stage>`` and reset at every line."""
        stats = self._latency.get(stage)
        if stats is None:
            stats = self._latency[stage] = LatencyStats()
        return stats

    def add_latency(self, stage: str, stats: LatencyStats) -> None:
        """Report an existing :class:`LatencyStats` under ``latency.<stage>``."""
        self._latency[stage] = stats

    def record_lag(self, seconds: float) -> None:
        """Add one event-loop lag measurement in seconds (called by :meth:`run`)."""
        lag = max(0.0, seconds)
        self._lag_last = lag
        self._lag_max = max(self._lag_max, lag)
        self._lag_samples += 1

    def sample(self) -> dict[str, Any]:
        """The health record of the interval that just ended; resets the interval's lag and
        latency statistics."""
        proc = self._probe()
        record: dict[str, Any] = {
            "cpu_percent": proc.cpu_percent,
            "rss_bytes": proc.rss_bytes,
            "threads": proc.threads,
            "open_fds": proc.open_fds,
            "loop_lag_ms": {
                "last": None if self._lag_last is None else _ms(self._lag_last),
                "max": _ms(self._lag_max),
                "samples": self._lag_samples,
            },
            "latency": {name: stats.snapshot() for name, stats in self._latency.items()},
            "sources": {name: self._read(name, source) for name, source in self._sources.items()},
        }
        self._lag_max = 0.0
        self._lag_samples = 0
        return record

    def _read(self, name: str, source: Source) -> Mapping[str, Any]:
        try:
            value = source()
            if not isinstance(value, Mapping):
                raise TypeError(f"returned {type(value).__name__}, not a mapping")
            return dict(value)
        except Exception as exc:
            failures = self.source_errors[name] = self.source_errors.get(name, 0) + 1
            if failures == 1:
                log.exception("monitor source %r failed (reported as an error from now on)", name)
            return {"error": f"{type(exc).__name__}: {exc}"}

    def emit(self) -> dict[str, Any]:
        """Log one health line now and return its record."""
        record = self.sample()
        log.info("%s", json.dumps(record, sort_keys=True, default=str), extra={"monitor": record})
        self.lines += 1
        return record

    async def run(self) -> None:
        """Probe the loop lag every ``lag_probe`` s and emit a line every ``interval`` s, until
        cancelled. A failure to build a line is logged and the monitor goes on."""
        next_line = self._clock() + self.interval
        while True:
            scheduled = self._clock() + self.lag_probe
            await self._sleep(self.lag_probe)
            now = self._clock()
            self.record_lag(now - scheduled)
            if now >= next_line:
                try:
                    self.emit()
                except Exception:
                    log.exception("monitor line failed")
                next_line += self.interval
                if next_line <= now:  # the loop was blocked for more than an interval
                    next_line = now + self.interval
