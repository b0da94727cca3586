"""The simulated LLM supervisor: each policy (allow, deny, require_confirmation, slow, error),
what it records, and contract checks on the request."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.platform_sim.helpers import EXEC1, NO_TLS, headers
from trademaestro.platform.sim import RunningSimulator, SupervisorPolicy

URL = "/api/executor/exec-1/supervisor/evaluate"
CONTEXT: dict[str, Any] = {
    "symbol": "XAUUSD", "timeframe": "M15", "proposed_action": "buy",
    "risk": {"lot": 0.1, "sl_pips": 150, "tp_pips": 300, "daily_loss_pct": 1.2},
    "filters": {"spread": 25, "session": "london", "atr": 3.1},
    "ml": {"signal_score": 0.55, "regime": "trend", "anomaly": False},
    "positions_snapshot": {"count": 1, "exposureBySymbol": {"XAUUSD": 0.1}},
}


def evaluate(sim: RunningSimulator, timeout_ms: int = 4000, context: Any = None,
             client_timeout: float = 5.0) -> httpx.Response:
    with httpx.Client(base_url=sim.base_url, timeout=client_timeout, **NO_TLS) as client:
        return client.post(URL, headers=headers(), json={
            "context": CONTEXT if context is None else context, "policyVersion": "v1",
            "timeoutMs": timeout_ms})


@pytest.mark.parametrize("action", ["allow", "deny", "require_confirmation"])
def test_decisions(sim: RunningSimulator, action: str) -> None:
    sim.set_supervisor_policy(SupervisorPolicy(
        behaviour=action, mode="enforce", policy_version="v7", ttl_ms=1500,  # type: ignore[arg-type]
        reason="spread wide", risks=("spread",), suggestions=("wait",), score=0.42))
    answer = evaluate(sim)
    assert answer.status_code == 200
    assert answer.json() == {"action": action, "reason": "spread wide", "risks": ["spread"],
                             "suggestions": ["wait"], "score": 0.42, "mode": "enforce",
                             "policyVersion": "v7", "ttlMs": 1500}
    (request,) = sim.state.supervisor_requests()
    assert request.context == CONTEXT and request.timeout_ms == 4000
    assert request.policy_version == "v1" and request.problems == ()


def test_slow_answers_after_the_callers_timeout(sim: RunningSimulator) -> None:
    sim.set_supervisor_policy(SupervisorPolicy(behaviour="slow", slow_action="deny"))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        evaluate(sim, timeout_ms=200, client_timeout=0.2)
    sim.state.wait_for_supervisor_requests(1, timeout=1)
    sim.set_supervisor_policy(SupervisorPolicy(behaviour="slow", slow_action="deny",
                                               slow_seconds=0.3))
    answer = evaluate(sim, timeout_ms=200)
    assert time.monotonic() - started >= 0.5
    assert answer.status_code == 200 and answer.json()["action"] == "deny"
    assert [r.behaviour for r in sim.state.supervisor_requests()] == ["slow", "slow"]


@pytest.mark.parametrize("status", [500, 504, 429])
def test_errors(sim: RunningSimulator, status: int) -> None:
    sim.set_supervisor_policy(SupervisorPolicy(behaviour="error", error_status=status,
                                               retry_after_s=3))
    answer = evaluate(sim)
    assert answer.status_code == status
    assert answer.json() == {"error": f"simulated supervisor error {status}"}
    assert answer.headers.get("retry-after") == ("3" if status == 429 else None)


def test_policy_over_http_and_validation(sim: RunningSimulator) -> None:
    with httpx.Client(base_url=sim.base_url, **NO_TLS) as client:
        updated = client.post("/sim/supervisor", json={"behaviour": "deny", "mode": "off",
                                                       "ttlMs": 10})
        bad = client.post("/sim/supervisor", json={"behaviour": "maybe"})
        unknown = client.post("/sim/supervisor", json={"colour": "red"})
        config = client.get("/api/executor/config", headers=headers()).json()
    assert updated.status_code == 200
    assert (updated.json()["behaviour"], updated.json()["mode"], updated.json()["ttlMs"]) == (
        "deny", "off", 10)
    assert bad.status_code == 400 and bad.json()["error"] == (
        "supervisor.behaviour: found 'maybe'; allowed: "
        "allow, deny, require_confirmation, slow, error")
    assert unknown.status_code == 400 and "colour" in unknown.json()["error"]
    assert config["supervisor"]["mode"] == "off"
    assert sim.state.supervisor_policy.behaviour == "deny"


def test_context_departures_are_recorded(sim: RunningSimulator) -> None:
    leaky = {**CONTEXT, "account": "x",
             "positions_snapshot": {"count": 1, "tickets": [1, 2]},
             "ml": {"note": f"key {EXEC1.api_secret}"}}
    answer = evaluate(sim, context=leaky, timeout_ms=0)
    assert answer.status_code == 200
    (request,) = sim.state.supervisor_requests()
    assert set(request.problems) == {
        "context.account: key not allowed",
        "context.positions_snapshot.tickets: forbidden key",
        "context.ml.note: holds a credential",
        "timeoutMs: found 0; allowed: a number > 0 (ms)",
    }
