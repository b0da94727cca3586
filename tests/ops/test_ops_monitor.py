"""The monitor: latency statistics, the health line, event-loop lag on an injected clock."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.core.errors import ConfigError
from trademaestro.runtime.monitor import (
    LatencyStats,
    Monitor,
    ProcessStats,
    nearest_rank,
    psutil_probe,
)

FIXED = ProcessStats(cpu_percent=12.5, rss_bytes=50_000_000, threads=3, open_fds=9)


def fixed_probe() -> ProcessStats:
    return FIXED


class FakeLoopTime:
    """A clock moved only by the monitor's sleeps; each sleep oversleeps by the next lag."""

    def __init__(self, lags: list[float], stop_after: int) -> None:
        self.now = 1000.0
        self.lags = list(lags)
        self.calls = 0
        self.stop_after = stop_after

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.calls += 1
        if self.calls > self.stop_after:
            raise asyncio.CancelledError
        self.now += seconds + (self.lags.pop(0) if self.lags else 0.0)


# --- LatencyStats ----------------------------------------------------------------------------


def test_latency_snapshot_of_1_to_100_ms() -> None:
    stats = LatencyStats()
    for ms in range(100, 0, -1):
        stats.record(ms / 1000.0)
    snap = stats.snapshot()
    assert snap["count"] == 100
    assert snap["p50_ms"] == pytest.approx(50.0)
    assert snap["p99_ms"] == pytest.approx(99.0)
    assert snap["max_ms"] == pytest.approx(100.0)
    assert stats.snapshot() == {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}


def test_latency_snapshot_without_reset_keeps_values() -> None:
    stats = LatencyStats()
    stats.record(0.002)
    assert stats.snapshot(reset=False)["count"] == 1
    assert stats.snapshot()["max_ms"] == pytest.approx(2.0)
    assert stats.snapshot()["count"] == 0


def test_latency_ignores_invalid_values() -> None:
    stats = LatencyStats()
    for bad in (-0.001, math.nan, math.inf):
        stats.record(bad)
    stats.record(0.004)
    assert stats.invalid == 3
    snap = stats.snapshot()
    assert (snap["count"], snap["max_ms"]) == (1, pytest.approx(4.0))


def test_latency_reservoir_keeps_exact_count_and_max() -> None:
    stats = LatencyStats(capacity=50, seed=7)
    values = [((i * 37) % 1000) / 1e4 for i in range(5000)]
    for v in values:
        stats.record(v)
    snap = stats.snapshot()
    assert snap["count"] == 5000
    assert snap["max_ms"] == pytest.approx(max(values) * 1000)
    # a uniform sample of a uniform 0..99.9 ms distribution: the median is near 50 ms
    assert 30.0 <= snap["p50_ms"] <= 70.0  # type: ignore[operator]
    again = LatencyStats(capacity=50, seed=7)
    for v in values:
        again.record(v)
    assert again.snapshot() == snap  # seeded: deterministic


def test_latency_timed_uses_the_injected_clock() -> None:
    ticks = iter([10.0, 10.25, 20.0, 20.5])
    stats = LatencyStats(clock=lambda: next(ticks))
    with stats.timed():
        pass
    with pytest.raises(RuntimeError), stats.timed():
        raise RuntimeError("stage failed")
    snap = stats.snapshot()
    assert snap == {"count": 2, "p50_ms": 250.0, "p99_ms": 500.0, "max_ms": 500.0}


def test_latency_capacity_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="found 0"):
        LatencyStats(capacity=0)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    values=st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=60)
)
def test_nearest_rank_matches_numpy_inverted_cdf(values: list[float]) -> None:
    ordered = sorted(values)
    for p in (50, 99):
        expected = float(np.percentile(values, p, method="inverted_cdf"))
        assert nearest_rank(ordered, p) == pytest.approx(expected, abs=0)
    stats = LatencyStats()
    for v in values:
        stats.record(v)
    snap = stats.snapshot()
    assert snap["p50_ms"] <= snap["p99_ms"] <= snap["max_ms"]  # type: ignore[operator]


def test_nearest_rank_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)


# --- the health line -------------------------------------------------------------------------


def test_sample_has_process_lag_latency_and_sources() -> None:
    depth = {"bars": 2}
    monitor = Monitor(interval=5.0, sources={"queues": lambda: depth}, probe=fixed_probe)
    monitor.add_source("orders", lambda: {"sent": 4, "rejected": 1})
    monitor.latency("evaluate").record(0.003)
    monitor.latency("evaluate").record(0.001)
    monitor.record_lag(0.002)
    monitor.record_lag(0.010)
    monitor.record_lag(-0.5)  # woke early: clamped to 0
    record = monitor.sample()
    assert record == {
        "cpu_percent": 12.5,
        "rss_bytes": 50_000_000,
        "threads": 3,
        "open_fds": 9,
        "loop_lag_ms": {"last": 0.0, "max": 10.0, "samples": 3},
        "latency": {"evaluate": {"count": 2, "p50_ms": 1.0, "p99_ms": 3.0, "max_ms": 3.0}},
        "sources": {"queues": {"bars": 2}, "orders": {"sent": 4, "rejected": 1}},
    }
    again = monitor.sample()
    assert again["loop_lag_ms"] == {"last": 0.0, "max": 0.0, "samples": 0}
    assert again["latency"]["evaluate"]["count"] == 0


def test_failing_source_is_reported_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Mapping[str, Any]:
        raise RuntimeError("queue gone")

    monitor = Monitor(sources={"bad": broken, "odd": lambda: 5}, probe=fixed_probe)  # type: ignore[dict-item]
    with caplog.at_level(logging.INFO, logger="trademaestro.monitor"):
        first = monitor.sample()
        monitor.sample()
    assert first["sources"] == {
        "bad": {"error": "RuntimeError: queue gone"},
        "odd": {"error": "TypeError: returned int, not a mapping"},
    }
    assert monitor.source_errors == {"bad": 2, "odd": 2}
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 2  # once per source


def test_duplicate_source_and_bad_interval_are_refused() -> None:
    monitor = Monitor(probe=fixed_probe)
    monitor.add_source("q", dict)
    with pytest.raises(ConfigError, match="duplicate"):
        monitor.add_source("q", dict)
    with pytest.raises(ConfigError, match="interval: found 0"):
        Monitor(interval=0, probe=fixed_probe)
    with pytest.raises(ConfigError, match="lag probe: found -1"):
        Monitor(lag_probe=-1, probe=fixed_probe)


def test_run_logs_one_json_line_per_interval_with_measured_lag(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 20 probes of 0.25 s per 5 s line; the 3rd probe wakes 0.120 s late (a blocked loop)
    fake = FakeLoopTime(lags=[0.0, 0.0, 0.120] + [0.0] * 37, stop_after=40)
    monitor = Monitor(
        interval=5.0,
        lag_probe=0.25,
        clock=fake.clock,
        sleep=fake.sleep,
        probe=fixed_probe,
        sources={"queues": lambda: {"bars": 0}},
    )
    with (
        caplog.at_level(logging.INFO, logger="trademaestro.monitor"),
        pytest.raises(asyncio.CancelledError),
    ):
        asyncio.run(monitor.run())
    lines = [r for r in caplog.records if r.name == "trademaestro.monitor"]
    # 40 probes = 10.12 s of fake time: lines at 5.12 s and 10.12 s
    assert len(lines) == 2 == monitor.lines
    first, second = (json.loads(r.getMessage()) for r in lines)
    assert first["loop_lag_ms"] == {"last": 0.0, "max": 120.0, "samples": 20}
    assert second["loop_lag_ms"] == {"last": 0.0, "max": 0.0, "samples": 20}
    assert first["sources"] == {"queues": {"bars": 0}}
    assert lines[0].monitor == first  # type: ignore[attr-defined]


def test_run_after_a_long_block_does_not_burst_lines(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeLoopTime(lags=[12.0], stop_after=21)  # first wake-up 12 s late
    monitor = Monitor(
        interval=5.0, lag_probe=0.25, clock=fake.clock, sleep=fake.sleep, probe=fixed_probe
    )
    with (
        caplog.at_level(logging.INFO, logger="trademaestro.monitor"),
        pytest.raises(asyncio.CancelledError),
    ):
        asyncio.run(monitor.run())
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    # one line at 12.25 s (lag 12 000 ms), the next 5 s later, at 17.25 s (probe 21)
    assert [line["loop_lag_ms"]["max"] for line in lines] == [12000.0, 0.0]


def test_start_and_stop_on_a_real_loop() -> None:
    async def main() -> tuple[bool, bool]:
        monitor = Monitor(interval=3600.0, probe=fixed_probe)
        task = monitor.start()
        assert monitor.start() is task
        await asyncio.sleep(0)
        await monitor.stop()
        return task.cancelled(), task.done()

    assert asyncio.run(main()) == (True, True)


def test_psutil_probe_reads_this_process() -> None:
    stats = psutil_probe()()
    assert stats.rss_bytes > 1_000_000
    assert stats.threads >= 1
    assert stats.cpu_percent >= 0.0
    if os.name != "nt":
        assert stats.open_fds is not None and stats.open_fds >= 3
