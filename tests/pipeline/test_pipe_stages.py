"""The act stages (manage → execute → gate → execute) on real XAUUSD M15 bars: the paper pipeline
runs the very phase sequence the backtest runs, one unit in flight; each stage records its own
latency and errors; a failed gate costs that entry only; a stage cancelled mid-unit (the
watchdog's restart) gives the turn back and the run goes on."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.barwork import BarWork
from trademaestro.runtime.instance import StrategyInstance
from trademaestro.runtime.paper import run_paper
from trademaestro.runtime.settings import RunSettings

from .helpers import EXAMPLES, xau_pipeline

Trace = list[tuple[str, int, str, int]]


def _trace_phases(monkeypatch: pytest.MonkeyPatch) -> Trace:
    """Record every phase call: (instance key, bar, phase, intents in hand afterwards/sent)."""
    trace: Trace = []
    manage, gate, execute = (
        StrategyInstance.manage_phase,
        StrategyInstance.gate_phase,
        StrategyInstance.execute_phase,
    )

    def managed(self: StrategyInstance, work: BarWork) -> bool:
        more = manage(self, work)
        trace.append((self.key, work.i, "manage", len(work.intents)))
        return more

    def gated(self: StrategyInstance, work: BarWork) -> None:
        gate(self, work)
        trace.append((self.key, work.i, "gate", len(work.intents)))

    def executed(self: StrategyInstance, work: BarWork) -> None:
        trace.append((self.key, work.i, "execute", len(work.intents)))
        execute(self, work)

    monkeypatch.setattr(StrategyInstance, "manage_phase", managed)
    monkeypatch.setattr(StrategyInstance, "gate_phase", gated)
    monkeypatch.setattr(StrategyInstance, "execute_phase", executed)
    return trace


def test_paper_runs_the_backtests_phase_sequence(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = _trace_phases(monkeypatch)
    common: dict[str, Any] = {
        "strategy": [
            str(EXAMPLES / "xauusd_m15_managed_exits.json"),
            str(EXAMPLES / "xauusd_m15_rsi_reversion.json"),
        ],
        "data": str(shared_data / "XAUUSD_M15_2024Q1.csv"),
    }
    bt = run_backtest(RunSettings(**common, db_path=tmp_path / "bt.sqlite"))
    backtest_trace = list(trace)
    trace.clear()
    paper = run_paper(RunSettings(**common, db_path=tmp_path / "p.sqlite"))
    assert paper.status == "completed"
    assert trace == backtest_trace
    assert [r["trades"] for r in paper.reports] == [r["trades"] for r in bt.reports]
    phases = Counter(phase for _, _, phase, _ in trace)
    assert phases["manage"] > 0 and phases["gate"] > 0 and phases["execute"] > 0
    assert {key for key, *_ in trace} == {"xauusd-m15-managed-exits", "xauusd-m15-rsi-reversion"}
    # Units where management or an exit sent orders and then the same bar's entry was gated:
    # the gate saw the executed closes (the order the phases depend on).
    both = [
        n
        for n in range(len(trace) - 2)
        if [p for _, _, p, _ in trace[n : n + 3]] == ["manage", "execute", "gate"]
        and len({(k, i) for k, i, _, _ in trace[n : n + 3]}) == 1
    ]
    assert both


_pipeline = xau_pipeline


def test_each_stage_records_its_latency(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = _trace_phases(monkeypatch)
    latencies: Counter[str] = Counter()
    pipeline = _pipeline(shared_data, on_latency=lambda stage, s: latencies.update([stage]))
    asyncio.run(pipeline.run(0.0, asyncio.Event()))
    phases = Counter(phase for _, _, phase, _ in trace)
    n = len(pipeline.replayer)
    assert latencies["evaluate"] == n
    assert latencies["manage"] == n - 1  # every closed bar's unit, idle ones included
    assert latencies["gate"] == phases["gate"] > 0
    assert latencies["execute"] == phases["execute"] > 0
    assert pipeline.acts.units["started"] == phases["manage"]
    assert pipeline.acts.units["failed"] == 0


def test_a_failed_gate_costs_that_entry_only(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    trace = _trace_phases(monkeypatch)
    clean = _pipeline(shared_data)
    asyncio.run(clean.run(0.0, asyncio.Event()))
    entries = [i for _, i, phase, sent in trace if phase == "gate" and sent]
    assert len(entries) > 2
    target = entries[1]
    trace.clear()

    pipeline = _pipeline(shared_data)
    instance = pipeline.session.slots[0].instance
    real_gate = instance.gate_phase

    def broken(work: BarWork) -> None:
        if work.i == target:
            raise RuntimeError("filter data unreadable")
        real_gate(work)

    instance.gate_phase = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="trademaestro.pipeline"):
        assert asyncio.run(pipeline.run(0.0, asyncio.Event()))
    gate = pipeline.health.stages["gate"]
    assert gate.errors == 1 and "filter data unreadable" in gate.last_error
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.levelno == logging.ERROR] == [
        f"gate stage failed on xauusd-m15-ema-cross bar {target} (XAUUSD)"
    ]
    # That bar sent no entry (no execute after a gate); the entry before it was sent.
    entered = [
        i
        for (_, i, phase, _), (_, _, before, _) in zip(trace[1:], trace, strict=False)
        if phase == "execute" and before == "gate"
    ]
    assert target not in entered and entries[0] in entered
    assert pipeline.acts.units["failed"] == 1


class _Restarts:
    """A watchdog stand-in that keeps the stages' restart callbacks for the test to call."""

    def __init__(self) -> None:
        self.restart: dict[str, Callable[[], Awaitable[None]]] = {}

    def register(self, name: str, restart: Callable[[], Awaitable[None]]) -> None:
        self.restart[name] = restart

    def beat(self, name: str) -> None:
        pass

    def set_busy(self, name: str, busy: bool) -> None:
        pass


def test_a_stage_restarted_mid_unit_gives_the_turn_back(shared_data: Path) -> None:
    restarts = _Restarts()
    pipeline = _pipeline(shared_data, threaded=True, watchdog=restarts)  # type: ignore[arg-type]
    instance = pipeline.session.slots[0].instance
    real_gate = instance.gate_phase
    release = threading.Event()
    hung: list[int] = []

    async def scenario() -> bool:
        loop = asyncio.get_running_loop()
        in_gate = asyncio.Event()

        def hanging(work: BarWork) -> None:
            if not hung:  # the first gate hangs, like a terminal that stopped answering
                hung.append(work.i)
                loop.call_soon_threadsafe(in_gate.set)
                release.wait(30)
            real_gate(work)

        instance.gate_phase = hanging  # type: ignore[method-assign]
        run = asyncio.create_task(pipeline.run(0.0, asyncio.Event()))
        await in_gate.wait()
        await restarts.restart["gate"]()  # what the watchdog does past the deadline
        release.set()
        return await run

    assert asyncio.run(scenario())
    assert len(hung) == 1
    assert pipeline.acts.units["failed"] == 1  # the lost unit, finished as failed
    units = pipeline.acts.units
    assert units["finished"] + units["failed"] == len(pipeline.replayer) - 1
