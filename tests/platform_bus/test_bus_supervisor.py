"""Supervisor client: each reply in each mode, fallbacks, the TTL cache, the context model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from trademaestro.core.errors import ConfigError
from trademaestro.persistence.platform_store import PlatformStore
from trademaestro.platform.supervisor import (
    Decision,
    Supervisor,
    SupervisorAction,
    SupervisorContext,
    SupervisorMode,
    SupervisorSettings,
    context_hash,
)

A = SupervisorAction
CONTEXT = {
    "symbol": "XAUUSD", "timeframe": "M15", "proposed_action": "open_buy",
    "risk": {"lot": 0.1, "sl_pips": 150.0, "tp_pips": 300.0, "daily_loss_pct": 1.7},
    "filters": {"spread": 27.0, "session": "london", "atr": 3.2},
    "ml": {"signal_score": 0.55, "regime": "trend", "anomaly": False},
    "positions_snapshot": {"count": 2, "exposureBySymbol": {"XAUUSD": 0.2, "EURUSD": -0.1}},
}


@dataclass
class Clock:
    t: float = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class FakePlatform:
    """The evaluate endpoint: answers ``reply`` (or raises ``error``) after ``cost`` seconds of
    the fake clock; records every body and time budget."""

    clock: Clock
    reply: Any = None
    error: Exception | None = None
    cost: float = 0.25
    hang: bool = False
    calls: list[tuple[dict[str, Any], float]] = field(default_factory=list)

    async def __call__(self, body: dict[str, Any], budget: float) -> Any:
        self.calls.append((body, budget))
        self.clock.t += self.cost
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error
        return self.reply


def reply(action: str, ttl: int | None = None, mode: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"action": action, "reason": f"llm says {action}", "risks": ["r"],
                           "suggestions": ["s"], "score": 0.7, "policyVersion": "v2"}
    if ttl is not None:
        out["ttlMs"] = ttl
    if mode is not None:
        out["mode"] = mode
    return out


def decide(tmp_path: Path, mode: str, platform_reply: Any = None, error: Exception | None = None,
           conservative: str = "require_confirmation") -> tuple[Decision, FakePlatform, Any]:
    clock = Clock()
    platform = FakePlatform(clock, platform_reply, error)
    settings = SupervisorSettings.from_wire({"mode": mode, "policyVersion": "v2",
                                             "timeoutMs": 4000,
                                             "conservativePolicy": conservative})
    with PlatformStore(tmp_path / f"s-{mode}-{conservative}.sqlite") as store:
        supervisor = Supervisor(platform, store, settings, clock)
        decision = asyncio.run(supervisor.decide(SupervisorContext.model_validate(CONTEXT),
                                                 ["ML signal score 0.55 below 0.6"]))
        return decision, platform, store.decisions()


@pytest.mark.parametrize(
    ("mode", "advice", "expected"),
    [
        ("observe", "allow", A.ALLOW), ("observe", "deny", A.ALLOW),
        ("observe", "require_confirmation", A.ALLOW),
        ("enforce", "allow", A.ALLOW), ("enforce", "deny", A.DENY),
        ("enforce", "require_confirmation", A.REQUIRE_CONFIRMATION),
    ],
)
def test_platform_answer_in_each_mode(tmp_path: Path, mode: str, advice: str,
                                      expected: SupervisorAction,
                                      caplog: pytest.LogCaptureFixture) -> None:
    decision, platform, records = decide(tmp_path, mode, reply(advice))
    overruled = mode == "observe" and advice != "allow"
    assert (f"advised {advice}" in caplog.text) is overruled
    assert (decision.action, decision.advice, decision.source) == (expected, A(advice), "platform")
    assert decision.mode is SupervisorMode(mode)
    assert decision.reason == f"llm says {advice}"
    assert decision.latency_ms == pytest.approx(250.0)
    (body, budget), = platform.calls
    assert body == {"context": CONTEXT, "policyVersion": "v2", "timeoutMs": 4000}
    assert budget == pytest.approx(4.0)
    (record,) = records
    assert (record.action, record.advice, record.mode, record.policy_version, record.source,
            record.error) == (expected.value, advice, mode, "v2", "platform", None)
    assert record.latency_ms == pytest.approx(250.0)
    assert record.context == CONTEXT
    assert record.context_hash == context_hash(SupervisorContext.model_validate(CONTEXT))
    assert record.triggers == ["ML signal score 0.55 below 0.6"]


def test_off_never_calls(tmp_path: Path) -> None:
    decision, platform, records = decide(tmp_path, "off", reply("deny"))
    assert (decision.action, decision.source, decision.mode) == (A.ALLOW, "off",
                                                                 SupervisorMode.OFF)
    assert platform.calls == [] and records == []


@pytest.mark.parametrize(
    ("mode", "conservative", "expected"),
    [("observe", "deny", A.ALLOW), ("enforce", "require_confirmation", A.REQUIRE_CONFIRMATION),
     ("enforce", "deny", A.DENY)],
)
@pytest.mark.parametrize(
    ("error", "bad_reply", "error_text"),
    [(TimeoutError(), None, "no answer within 4000 ms"),
     (RuntimeError("HTTP 504"), None, "RuntimeError: HTTP 504"),
     (None, {"action": "maybe"}, "SupervisorReplyError: reply.action: found 'maybe'"),
     (None, ["allow"], "SupervisorReplyError: reply: found ['allow']")],
)
def test_fallback_in_each_mode(tmp_path: Path, mode: str, conservative: str,
                               expected: SupervisorAction, error: Exception | None,
                               bad_reply: Any, error_text: str,
                               caplog: pytest.LogCaptureFixture) -> None:
    decision, _, records = decide(tmp_path, mode, bad_reply, error, conservative)
    assert (decision.action, decision.source, decision.advice) == (expected, "fallback", None)
    assert decision.error is not None and decision.error.startswith(error_text)
    assert records[0].source == "fallback" and records[0].action == expected.value
    assert records[0].error == decision.error
    assert "supervisor unavailable" in caplog.text


def test_real_time_budget_cuts_a_hung_platform(tmp_path: Path) -> None:
    clock = Clock()
    platform = FakePlatform(clock, cost=0.0, hang=True)
    settings = SupervisorSettings(SupervisorMode.ENFORCE, "v1", 10,  # clamped up to 3000 ms
                                  SupervisorAction.DENY)
    assert settings.timeout_ms == 3000
    with PlatformStore(tmp_path / "s.sqlite") as store:
        supervisor = Supervisor(platform, store, settings, clock)
        decision = asyncio.run(supervisor.decide(SupervisorContext.model_validate(CONTEXT)))
    assert (decision.action, decision.error) == (A.DENY, "no answer within 3000 ms")


def test_ttl_cache_with_injected_clock(tmp_path: Path) -> None:
    async def scenario() -> list[Decision]:
        clock = Clock()
        platform = FakePlatform(clock, reply("deny", ttl=60_000), cost=0.0)
        settings = SupervisorSettings(SupervisorMode.ENFORCE, "v2")
        with PlatformStore(tmp_path / "s.sqlite") as store:
            supervisor = Supervisor(platform, store, settings, clock)
            ctx = SupervisorContext.model_validate(CONTEXT)
            other = SupervisorContext.model_validate({**CONTEXT, "symbol": "EURUSD"})
            out = [await supervisor.decide(ctx)]             # asks (t=1000)
            clock.t += 59.999
            out.append(await supervisor.decide(ctx))          # cache
            out.append(await supervisor.decide(other))        # another context: asks
            supervisor.settings = SupervisorSettings(SupervisorMode.OBSERVE, "v2")
            out.append(await supervisor.decide(ctx))          # cache, observe applied again
            clock.t += 0.001
            out.append(await supervisor.decide(ctx))          # expired at t=1060: asks
            supervisor.settings = SupervisorSettings(SupervisorMode.OBSERVE, "v3")
            out.append(await supervisor.decide(ctx))          # cached under v2 only: asks
            assert len(platform.calls) == 4
            assert [r.source for r in store.decisions()] == [d.source for d in out]
            return out

    decisions = asyncio.run(scenario())
    assert [d.source for d in decisions] == ["platform", "cache", "platform", "cache",
                                             "platform", "platform"]
    assert [d.action for d in decisions] == [A.DENY, A.DENY, A.DENY, A.ALLOW, A.ALLOW, A.ALLOW]
    assert all(d.advice is A.DENY for d in decisions)


def test_no_ttl_means_no_cache_and_reply_mode_wins(tmp_path: Path) -> None:
    async def scenario() -> list[Decision]:
        clock = Clock()
        platform = FakePlatform(clock, reply("deny", mode="observe"), cost=0.0)
        with PlatformStore(tmp_path / "s.sqlite") as store:
            supervisor = Supervisor(platform, store,
                                    SupervisorSettings(SupervisorMode.ENFORCE), clock)
            ctx = SupervisorContext.model_validate(CONTEXT)
            return [await supervisor.decide(ctx), await supervisor.decide(ctx)]

    decisions = asyncio.run(scenario())
    assert [(d.source, d.action, d.mode) for d in decisions] == [
        ("platform", A.ALLOW, SupervisorMode.OBSERVE)] * 2


@pytest.mark.parametrize(
    ("patch", "where"),
    [({"apiSecret": "x"}, ("apiSecret",)),
     ({"risk": {**CONTEXT["risk"], "ticket": 123}}, ("risk", "ticket")),
     ({"positions_snapshot": {"count": 1, "exposureBySymbol": {}, "tickets": [1]}},
      ("positions_snapshot", "tickets")),
     ({"ml": {"signal_score": 1.5}}, ("ml", "signal_score")),
     ({"risk": {"lot": True}}, ("risk", "lot"))],
)
def test_context_refuses_extra_and_bad_keys(patch: dict[str, Any], where: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        SupervisorContext.model_validate({**CONTEXT, **patch})
    assert info.value.errors()[0]["loc"] == where


def test_settings_from_wire() -> None:
    s = SupervisorSettings.from_wire({"mode": "ENFORCE", "timeoutMs": 9000,
                                      "conservativePolicy": "deny"})
    assert (s.mode, s.timeout_ms, s.conservative_policy, s.policy_version) == (
        SupervisorMode.ENFORCE, 6000, A.DENY, "v1")
    assert SupervisorSettings.from_wire(None) == SupervisorSettings()
    for bad, message in (({"mode": "loud"}, "supervisor.mode: found 'loud'"),
                         ({"conservativePolicy": "allow"}, "supervisor.conservativePolicy"),
                         ({"timeoutMs": "4s"}, "supervisor.timeoutMs: found '4s'"),
                         ([], r"supervisor: found \[\]")):
        with pytest.raises(ConfigError, match=message):
            SupervisorSettings.from_wire(bad)


def test_rate_limit_honours_retry_after(tmp_path: Path) -> None:
    class RateLimited(Exception):
        retry_after_s = 30.0

    async def scenario() -> list[Decision]:
        clock = Clock()
        platform = FakePlatform(clock, error=RateLimited("429"), cost=0.0)
        with PlatformStore(tmp_path / "s.sqlite") as store:
            supervisor = Supervisor(platform, store, SupervisorSettings(SupervisorMode.ENFORCE),
                                    clock)
            ctx = SupervisorContext.model_validate(CONTEXT)
            out = [await supervisor.decide(ctx)]
            clock.t += 29.9
            out.append(await supervisor.decide(ctx))  # not asked: still quiet
            platform.error, platform.reply = None, reply("allow")
            clock.t += 0.1
            out.append(await supervisor.decide(ctx))  # asked again
            assert len(platform.calls) == 2
            return out

    decisions = asyncio.run(scenario())
    assert [(d.source, d.action) for d in decisions] == [
        ("fallback", A.REQUIRE_CONFIRMATION), ("fallback", A.REQUIRE_CONFIRMATION),
        ("platform", A.ALLOW)]
    assert decisions[1].error == "rate limited by the platform (0.1 s left)"
