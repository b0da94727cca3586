"""The LLM supervisor client: ask the platform about a borderline trade, within a time budget.

The executor never calls an LLM itself (seed 001, "LLM Supervisor"): it sends a small context to
``POST /api/executor/{id}/supervisor/evaluate`` as ``{"context", "policyVersion", "timeoutMs"}``
and gets ``{"action": "allow"|"deny"|"require_confirmation", "reason", "risks", "suggestions",
"score", "mode", "policyVersion", "ttlMs"}``.

Modes (from the platform's config; a reply's ``mode`` overrides it for that reply):

- ``off``: the platform is never called; every trade is allowed; nothing is recorded;
- ``observe``: the platform is asked and its advice recorded and logged, but the trade is
  ALWAYS allowed: a ``deny`` or ``require_confirmation`` is logged as a warning only. Observe
  mode exists to calibrate the supervisor on live traffic without letting it change trading;
- ``enforce``: the platform's action is the decision.

Time budget: ``timeoutMs`` clamped to 3000..6000 ms; the call is cut by
``asyncio.wait_for`` at that budget. On a timeout, an error or an unreadable reply: observe ->
allow with a warning; enforce -> the configured conservative policy (``require_confirmation``
or ``deny``). Such decisions have source ``fallback`` and carry the error.

Cache: a reply with ``ttlMs`` > 0 is reused for ``ttlMs`` milliseconds (on the injected
monotonic clock) for the IDENTICAL context (key: sha256 of the canonical JSON of the context,
keys sorted, no spaces) under the same policy version; the mode is applied again on each reuse.

Rate limit: when a failure carries ``retry_after_s`` (the platform client's 429 error does),
the platform is not asked again before that many seconds have passed; decisions in between are
fallbacks with the error ``rate limited by the platform``.

Every decision except mode ``off`` (platform answers, cache hits and fallbacks) is recorded in
``supervisor_decisions`` with its latency (ms), mode, policy version and trigger reasons.

The context model (:class:`SupervisorContext`) holds only the fields the contract lists and
forbids any other key at every level: credentials, tickets and order ids cannot be sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trademaestro.core.errors import ConfigError, TradeMaestroError
from trademaestro.persistence.platform_store import PlatformStore
from trademaestro.platform.outbox import describe_error

log = logging.getLogger(__name__)

TIMEOUT_MIN_MS = 3000
TIMEOUT_MAX_MS = 6000
TIMEOUT_DEFAULT_MS = 4000

EvaluateFn = Callable[[dict[str, Any], float], Awaitable[Any]]
"""``evaluate(body, timeout_seconds)`` -> the platform's reply object (raises on failure)."""


class SupervisorMode(StrEnum):
    """How the platform's advice is used (module docstring)."""

    OFF = "off"
    OBSERVE = "observe"
    ENFORCE = "enforce"


class SupervisorAction(StrEnum):
    """What the supervisor says about a trade."""

    ALLOW = "allow"
    DENY = "deny"
    REQUIRE_CONFIRMATION = "require_confirmation"


CONSERVATIVE = (SupervisorAction.REQUIRE_CONFIRMATION, SupervisorAction.DENY)


@dataclass(frozen=True, slots=True)
class SupervisorSettings:
    """The ``supervisor`` object of ``GET /api/executor/config``.

    Attributes:
        mode: off | observe | enforce.
        policy_version: sent with every request and recorded with every decision.
        timeout_ms: the time budget, clamped to 3000..6000 ms.
        conservative_policy: the enforce-mode fallback (require_confirmation or deny).
    """

    mode: SupervisorMode = SupervisorMode.OFF
    policy_version: str = "v1"
    timeout_ms: int = TIMEOUT_DEFAULT_MS
    conservative_policy: SupervisorAction = SupervisorAction.REQUIRE_CONFIRMATION

    def __post_init__(self) -> None:
        clamped = min(max(int(self.timeout_ms), TIMEOUT_MIN_MS), TIMEOUT_MAX_MS)
        object.__setattr__(self, "timeout_ms", clamped)
        if self.conservative_policy not in CONSERVATIVE:
            raise ConfigError(
                f"supervisor.conservativePolicy: found {self.conservative_policy!r}; allowed: "
                "require_confirmation, deny"
            )

    @classmethod
    def from_wire(cls, obj: Any, path: str = "supervisor") -> SupervisorSettings:
        """Read the contract's ``{"mode", "policyVersion", "timeoutMs", "conservativePolicy"}``
        (every key optional: off, "v1", 4000, require_confirmation).

        Raises:
            ConfigError: a value of the wrong kind, naming ``path.key``, what was found and
                what is allowed.
        """
        if obj is None:
            return cls()
        if not isinstance(obj, Mapping):
            raise ConfigError(f"{path}: found {obj!r}; allowed: a JSON object")
        mode = _enum(obj, "mode", SupervisorMode, SupervisorMode.OFF, path)
        policy = _enum(obj, "conservativePolicy", SupervisorAction,
                       SupervisorAction.REQUIRE_CONFIRMATION, path)
        version = obj.get("policyVersion", "v1")
        if not isinstance(version, str) or not version or len(version) > 64:
            raise ConfigError(f"{path}.policyVersion: found {version!r}; allowed: text of "
                              "1..64 characters")
        timeout = obj.get("timeoutMs", TIMEOUT_DEFAULT_MS)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or \
                not math.isfinite(timeout):
            raise ConfigError(f"{path}.timeoutMs: found {timeout!r}; allowed: milliseconds "
                              f"(clamped to {TIMEOUT_MIN_MS}..{TIMEOUT_MAX_MS})")
        return cls(mode, version, int(timeout), policy)


def _enum(obj: Mapping[str, Any], key: str, kind: type[StrEnum], default: Any, path: str) -> Any:
    value = obj.get(key, default)
    try:
        return kind(value.lower() if isinstance(value, str) else value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ConfigError(f"{path}.{key}: found {value!r}; allowed: {allowed}") from None


# -- the context ------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              populate_by_name=True)


class RiskContext(_Strict):
    """``lot``: volume in lots; ``sl_pips``/``tp_pips``: stop/target distance in pips;
    ``daily_loss_pct``: today's loss in percent of the day-start equity (positive = loss)."""

    lot: float = Field(ge=0)
    sl_pips: float | None = Field(default=None, ge=0)
    tp_pips: float | None = Field(default=None, ge=0)
    daily_loss_pct: float | None = None


class FiltersContext(_Strict):
    """``spread`` in points; ``session`` the trading session name; ``atr`` in price units."""

    spread: float | None = Field(default=None, ge=0)
    session: str | None = Field(default=None, max_length=64)
    atr: float | None = Field(default=None, ge=0)


class MlContext(_Strict):
    """ML summary: ``signal_score`` 0..1, ``regime`` (trend/range/high-vol), ``anomaly``."""

    signal_score: float | None = Field(default=None, ge=0, le=1)
    regime: str | None = Field(default=None, max_length=64)
    anomaly: bool | None = None


class PositionsContext(_Strict):
    """Open positions of ours: ``count`` and net lots per symbol (``exposureBySymbol``)."""

    count: int = Field(ge=0)
    exposure_by_symbol: dict[str, float] = Field(default_factory=dict, alias="exposureBySymbol")


class SupervisorContext(_Strict):
    """The only data sent to the supervisor (contract item 7); any other key is refused.

    Raises (on construction): ``pydantic.ValidationError`` naming the extra or bad key.
    """

    symbol: str = Field(min_length=1, max_length=64)
    timeframe: str = Field(min_length=1, max_length=16)
    proposed_action: str = Field(min_length=1, max_length=64)
    risk: RiskContext
    filters: FiltersContext = Field(default_factory=FiltersContext)
    ml: MlContext = Field(default_factory=MlContext)
    positions_snapshot: PositionsContext = Field(
        default_factory=lambda: PositionsContext(count=0)
    )

    def wire(self) -> dict[str, Any]:
        """The context as sent (JSON types, contract key spelling, None values kept)."""
        return self.model_dump(mode="json", by_alias=True)


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys and no spaces (the cache-key form)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def context_hash(context: SupervisorContext) -> str:
    """sha256 hex of the canonical JSON of ``context.wire()``."""
    return _hash(context.wire())


def _hash(wire: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(wire).encode("utf-8")).hexdigest()


# -- replies and decisions ---------------------------------------------------------------------
class SupervisorReplyError(TradeMaestroError):
    """A reply that is not the contract's shape (naming the key, found and allowed)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The platform's answer, validated."""

    action: SupervisorAction
    reason: str
    mode: SupervisorMode | None
    policy_version: str | None
    ttl_ms: int | None
    risks: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()


def parse_reply(obj: Any) -> Reply:
    """Validate a supervisor reply.

    Raises:
        SupervisorReplyError: not an object, or a bad ``action``/``mode``/``ttlMs``.
    """
    if not isinstance(obj, Mapping):
        raise SupervisorReplyError(f"reply: found {obj!r:.200}; allowed: a JSON object")
    try:
        action = SupervisorAction(str(obj.get("action")))
    except ValueError:
        raise SupervisorReplyError(f"reply.action: found {obj.get('action')!r:.100}; allowed: "
                                   "allow, deny, require_confirmation") from None
    mode = None
    if obj.get("mode") is not None:
        try:
            mode = SupervisorMode(obj["mode"])
        except ValueError:
            raise SupervisorReplyError(f"reply.mode: found {obj['mode']!r:.100}; allowed: off, "
                                       "observe, enforce") from None
    ttl = obj.get("ttlMs")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float)
                            or not math.isfinite(ttl) or ttl < 0):
        raise SupervisorReplyError(f"reply.ttlMs: found {ttl!r:.100}; allowed: milliseconds >= 0")
    version = obj.get("policyVersion")
    return Reply(
        action=action, reason=str(obj.get("reason") or "")[:2000], mode=mode,
        policy_version=version if isinstance(version, str) else None,
        ttl_ms=None if ttl is None else int(ttl),
        risks=_texts(obj.get("risks")), suggestions=_texts(obj.get("suggestions")),
    )


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(str(v)[:500] for v in value[:50]) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with the trade.

    Attributes:
        action: the effective action (always ``allow`` in observe/off mode).
        reason: the platform's reason, or why a fallback was taken.
        mode: the mode applied.
        policy_version: the policy version of the answer (or of the settings).
        source: ``platform`` | ``cache`` | ``fallback`` | ``off``.
        latency_ms: time spent in :meth:`Supervisor.decide` (ms, on the injected clock).
        advice: the platform's own action (None for a fallback or mode off).
        error: why the platform's answer is missing (fallback), else None.
    """

    action: SupervisorAction
    reason: str
    mode: SupervisorMode
    policy_version: str
    source: str
    latency_ms: float
    advice: SupervisorAction | None = None
    error: str | None = None
    risks: tuple[str, ...] = field(default=())
    suggestions: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        """True when the trade may go ahead."""
        return self.action is SupervisorAction.ALLOW


@dataclass(slots=True)
class _Cached:
    reply: Reply
    expires: float
    policy_version: str


class Supervisor:
    """The supervisor client (module docstring).

    Args:
        evaluate: ``evaluate(body, timeout_seconds)``: posts the body to the platform and
            returns the decoded reply; raises on any failure (HTTP 504/429/5xx, network).
        store: where decisions are recorded.
        settings: mode, policy version, time budget, conservative policy.
        clock: monotonic seconds (TTL and latency).
    """

    def __init__(
        self,
        evaluate: EvaluateFn,
        store: PlatformStore,
        settings: SupervisorSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._evaluate = evaluate
        self.store = store
        self.settings = settings
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._quiet_until = -math.inf

    async def decide(
        self, context: SupervisorContext, trigger_reasons: Sequence[str] = ()
    ) -> Decision:
        """Decide about one trade; never raises on a platform failure (fallback instead).

        Args:
            context: what is sent (only the contract's fields).
            trigger_reasons: why the caller asks (from :mod:`.triggers`); recorded, not sent.
        """
        settings = self.settings
        if settings.mode is SupervisorMode.OFF:
            return Decision(SupervisorAction.ALLOW, "supervisor off", SupervisorMode.OFF,
                            settings.policy_version, "off", 0.0)
        wire = context.wire()
        key = _hash(wire)
        start = self._clock()
        cached = self._cache.get(key)
        reply: Reply | None = None
        error: str | None = None
        if cached and cached.expires > start and cached.policy_version == settings.policy_version:
            reply, source = cached.reply, "cache"
        elif start < self._quiet_until:
            source = "fallback"
            error = f"rate limited by the platform ({self._quiet_until - start:.1f} s left)"
        else:
            self._expire(start)
            source = "platform"
            try:
                reply = await self._ask(wire)
            except TimeoutError:
                error = f"no answer within {settings.timeout_ms} ms"
            except Exception as exc:  # every failure degrades to the fallback
                error = describe_error(exc)
                retry_after = getattr(exc, "retry_after_s", None)
                if isinstance(retry_after, int | float) and retry_after > 0:
                    self._quiet_until = self._clock() + float(retry_after)
            if reply is not None and reply.ttl_ms:
                self._cache[key] = _Cached(reply, self._clock() + reply.ttl_ms / 1000,
                                           settings.policy_version)
        latency_ms = (self._clock() - start) * 1000
        decision = (self._apply(reply, source, latency_ms) if reply is not None
                    else self._fallback(error or "no answer", latency_ms))
        self._record(key, wire, trigger_reasons, decision, reply)
        return decision

    async def _ask(self, wire: dict[str, Any]) -> Reply:
        budget = self.settings.timeout_ms / 1000
        body = {"context": wire, "policyVersion": self.settings.policy_version,
                "timeoutMs": self.settings.timeout_ms}
        raw = await asyncio.wait_for(self._evaluate(body, budget), budget)
        return parse_reply(raw)

    def _apply(self, reply: Reply, source: str, latency_ms: float) -> Decision:
        mode = reply.mode or self.settings.mode
        version = reply.policy_version or self.settings.policy_version
        action = reply.action if mode is SupervisorMode.ENFORCE else SupervisorAction.ALLOW
        if mode is SupervisorMode.OBSERVE and reply.action is not SupervisorAction.ALLOW:
            log.warning("supervisor (observe) advised %s: %s; allowed (observe mode)",
                        reply.action.value, reply.reason)
        return Decision(action, reply.reason, mode, version, source, latency_ms, reply.action,
                        None, reply.risks, reply.suggestions)

    def _fallback(self, error: str, latency_ms: float) -> Decision:
        mode = self.settings.mode
        if mode is SupervisorMode.ENFORCE:
            action = self.settings.conservative_policy
            reason = f"supervisor unavailable ({error}): conservative policy {action.value}"
        else:
            action = SupervisorAction.ALLOW
            reason = f"supervisor unavailable ({error}): allowed ({mode.value} mode)"
        log.warning("%s", reason)
        return Decision(action, reason, mode, self.settings.policy_version, "fallback",
                        latency_ms, None, error)

    def _expire(self, now: float) -> None:
        for key in [k for k, c in self._cache.items() if c.expires <= now]:
            del self._cache[key]

    def _record(self, key: str, wire: dict[str, Any], triggers: Sequence[str],
                decision: Decision, reply: Reply | None) -> None:
        try:
            self.store.record_decision(
                context_hash=key, context=wire, triggers=list(triggers),
                action=decision.action.value,
                advice=None if decision.advice is None else decision.advice.value,
                reason=decision.reason, mode=decision.mode.value,
                policy_version=decision.policy_version, latency_ms=decision.latency_ms,
                source=decision.source, ttl_ms=None if reply is None else reply.ttl_ms,
                error=decision.error,
            )
        except Exception:  # the decision stands even if the audit row cannot be written
            log.exception("supervisor decision could not be recorded")
