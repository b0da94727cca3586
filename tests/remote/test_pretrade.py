"""The platform's supervisor as the last look before an entry, against the platform simulator
over loopback: asked only when a trigger fires, the context carries only the contract's fields,
``enforce`` blocks a deny, ``observe`` logs it and lets the entry go. Quotes from real XAUUSD M15
bars."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import load_bars
from trademaestro.execution.intents import OpenIntent
from trademaestro.filters.chain import FilterChain
from trademaestro.filters.spread import SpreadFilter
from trademaestro.persistence.platform_store import PlatformStore
from trademaestro.platform.client import PlatformClient
from trademaestro.platform.credentials import Credentials
from trademaestro.platform.pretrade import SupervisorGate, context_of, pre_trade_facts
from trademaestro.platform.sim.config import (
    ExecutorCredentials,
    SimulatorConfig,
    SupervisorPolicy,
)
from trademaestro.platform.sim.runner import RunningSimulator, run_simulator
from trademaestro.platform.supervisor import Supervisor, SupervisorSettings
from trademaestro.runtime.review import EntryReview

KEY, SECRET = "pt-key-0001abcd", "pt-secret-never-logged"
ALLOWED = {"symbol", "timeframe", "proposed_action", "risk", "filters", "ml",
           "positions_snapshot"}


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(executors=(ExecutorCredentials("exec-1", KEY, SECRET),))
    with run_simulator(config) as running:
        yield running


def _review(shared_data: Path, max_spread_pips: float) -> EntryReview:
    """A buy of 0.5 lots on XAUUSD at bar 1000's close, ask = close + the bar's spread."""
    rates = load_bars(shared_data / "XAUUSD_M15.csv").rates
    emu = MT5Emulator(EmulatorConfig())
    emu.replay.load_rates("XAUUSD", Timeframe.M15, rates[:1200], has_spread=True)
    adapter = MT5Adapter(emu)
    adapter.connect()
    spec = adapter.symbol_spec("XAUUSD")
    bar = rates[1000]
    bid = float(bar["close"])
    ask = round(bid + int(bar["spread"]) * spec.point, spec.digits)
    intent = OpenIntent(strategy_id="s", symbol="XAUUSD", side="buy", volume=0.5,
                        sl=round(ask - 5.0, 2), tp=round(ask + 10.0, 2), magic=7,
                        client_id="tag.x.o0", price=ask)
    return EntryReview(intent=intent, timeframe="M15", bid=bid, ask=ask, spec=spec, atr=None,
                       filters=FilterChain([SpreadFilter(max_spread_pips)]),
                       daily_loss_pct=None, daily_loss_limit_pct=None, positions=())


async def _gate(sim: RunningSimulator, tmp_path: Path, review: EntryReview, mode: str,
                behaviour: str) -> tuple[str | None, SupervisorGate]:
    sim.simulator.state.set_supervisor_policy(
        SupervisorPolicy(behaviour=behaviour, mode=mode)  # type: ignore[arg-type]
    )
    async with PlatformClient(f"http://127.0.0.1:{sim.port}", Credentials(KEY, SECRET),
                              executor_id="exec-1") as client:
        store = PlatformStore(tmp_path / "p.db")
        settings = SupervisorSettings.from_wire({"mode": mode, "timeoutMs": 3000})
        gate = SupervisorGate(Supervisor(client.supervisor_evaluate, store, settings),
                              asyncio.get_running_loop())
        verdict = await asyncio.to_thread(gate, review)
        store.close()
    return verdict, gate


def test_no_trigger_no_call(sim: RunningSimulator, shared_data: Path, tmp_path: Path) -> None:
    review = _review(shared_data, max_spread_pips=1000.0)
    assert pre_trade_facts(review).max_spread == pytest.approx(1000.0 * 10)  # points
    verdict, gate = asyncio.run(_gate(sim, tmp_path, review, "enforce", "deny"))
    assert verdict is None and gate.asked == 0
    assert sim.simulator.state.supervisor_requests() == []


@pytest.mark.parametrize(("mode", "behaviour", "blocked"), [
    ("enforce", "deny", True),
    ("enforce", "require_confirmation", True),
    ("enforce", "allow", False),
    ("observe", "deny", False),
])
def test_a_spread_near_its_bound_asks_the_supervisor(
    sim: RunningSimulator, shared_data: Path, tmp_path: Path, mode: str, behaviour: str,
    blocked: bool,
) -> None:
    base = _review(shared_data, 1000.0)
    pips = base.spread_points * base.spec.point / base.spec.pip
    review = _review(shared_data, max_spread_pips=pips * 1.05)  # within 10 % of the maximum
    verdict, gate = asyncio.run(_gate(sim, tmp_path, review, mode, behaviour))
    assert gate.asked == 1
    assert (verdict is not None) is blocked
    if blocked:
        assert verdict is not None and behaviour in verdict
    (request,) = sim.simulator.state.supervisor_requests()
    context = request.context
    assert set(context) <= ALLOWED
    assert context["symbol"] == "XAUUSD" and context["proposed_action"] == "open_buy"
    assert context["risk"]["lot"] == pytest.approx(0.5)
    assert context["risk"]["sl_pips"] == pytest.approx(5.0 / review.spec.pip)
    text = json.dumps(context)
    assert "tag.x.o0" not in text and SECRET not in text and KEY not in text
    assert context == context_of(review).wire()
