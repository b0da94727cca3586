"""Error policy of the pipeline on real XAUUSD bars: a failing phase is logged with its context,
counted, and the run goes on; repeated failures of a stage halt new entries until it recovers."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from trademaestro.execution.intents import Side
from trademaestro.runtime.barwork import BarWork
from trademaestro.runtime.pipeline import BarPipeline

from .helpers import xau_pipeline


def _pipeline(shared_data: Path, escalate_after: int) -> tuple[BarPipeline, list[float]]:
    latencies: list[float] = []
    pipeline = xau_pipeline(
        shared_data,
        escalate_after=escalate_after,
        on_latency=lambda stage, s: latencies.append(s),
    )
    return pipeline, latencies


def test_failures_are_counted_escalated_and_recovered(
    shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, latencies = _pipeline(shared_data, escalate_after=3)
    instance = pipeline.session.slots[0].instance
    real_begin = instance.begin
    calls = {"n": 0}
    blocked: list[str | None] = []

    def flaky(i: int, entry: dict[Side, bool], exit_rule: bool) -> BarWork | None:
        calls["n"] += 1
        if 100 <= calls["n"] < 104:  # four failures in a row
            raise RuntimeError(f"broken reply at call {calls['n']}")
        blocked.append(pipeline.health.entry_blocker())
        return real_begin(i, entry, exit_rule)

    instance.begin = flaky  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="trademaestro.pipeline"):
        completed = asyncio.run(pipeline.run(0.0, asyncio.Event()))
    assert completed
    manage = pipeline.health.stages["manage"]
    assert manage.errors == 4 and manage.consecutive == 0
    assert "broken reply at call 103" in manage.last_error
    assert pipeline.health.escalated is None  # recovered after the next success
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sum("manage stage failed on xauusd-m15-ema-cross bar" in m for m in errors) == 4
    assert any(r.levelno == logging.CRITICAL and "new entries halted" in r.getMessage()
               for r in caplog.records)
    # Exactly one unit started while entries were halted: the first success after the
    # failures saw the escalation (the success then cleared it).
    assert sum(b is not None for b in blocked) == 1
    units = pipeline.acts.units
    n = len(pipeline.replayer)
    assert calls["n"] == n - 1  # one unit per closed bar: none skipped
    assert units["idle"] + units["started"] == n - 1 - 4
    assert units["failed"] == 4 and units["finished"] == n - 1 - 4
    assert len(latencies) >= 2 * (n - 1)


def test_queues_report_depths_and_never_drop(shared_data: Path) -> None:
    pipeline, _ = _pipeline(shared_data, escalate_after=5)
    asyncio.run(pipeline.run(0.0, asyncio.Event()))
    stats = pipeline.queues()
    n = len(pipeline.replayer)
    assert stats["bars"]["put"] == n
    assert stats["manage"]["put"] == n - 1  # every closed bar's signals reached manage
    assert stats["manage"]["max_depth"] <= 64
    # One unit in flight: the queues behind manage never hold more than it.
    assert stats["gate"]["max_depth"] == 1 and stats["execute"]["max_depth"] == 1
    assert stats["gate"]["put"] > 0 and stats["execute"]["put"] > 0
