"""When to ask the LLM supervisor: pure functions returning the reasons (empty: do not ask).

Seed 001 "LLM Supervisor" -> "Triggers": pre-trade, before an OPEN, when conditions are
borderline (spread or ATR at the edge of its bound), the ML score is low (< 0.6), the daily loss
is close to its limit (> 80 %) or the correlated exposure is high; post-trade on slippage,
latency or spread outliers (and a high reject rate).

Units: spread and slippage in points of the symbol; ATR in price units; daily loss and its limit
in percent of the day-start equity; exposure in lots; latency in milliseconds; rates as
fractions 0..1. The caller's thresholds must be finite numbers > 0 (else ``ConfigError``); an
observed value that is not finite (NaN, inf) is itself a reason to ask, never a silent pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trademaestro.core.errors import ConfigError

NEAR_BOUND = 0.10
"""A value within 10 % of its bound is "near" it."""
ML_SCORE_MIN = 0.6
DAILY_LOSS_FRACTION = 0.8


def _limit(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}: found {value!r}; allowed: a finite number > 0, or None")
    return float(value)


def _bad(name: str, value: float | None) -> str | None:
    if value is not None and not math.isfinite(value):
        return f"{name} is not a finite number ({value!r})"
    return None


def spread_near_max(spread: float | None, max_spread: float | None,
                    near: float = NEAR_BOUND) -> list[str]:
    """A reason when ``spread >= max_spread * (1 - near)`` (points)."""
    top = _limit("max_spread", max_spread)
    if spread is None or top is None:
        return []
    if (bad := _bad("spread", spread)) is not None:
        return [bad]
    if spread >= top * (1 - near):
        return [f"spread {spread:g} within {near:.0%} of its max {top:g} points"]
    return []


def atr_near_bounds(atr: float | None, atr_min: float | None, atr_max: float | None,
                    near: float = NEAR_BOUND) -> list[str]:
    """A reason when the ATR is within ``near`` of the volatility filter's lower bound
    (``atr <= atr_min * (1 + near)``) or upper bound (``atr >= atr_max * (1 - near)``)."""
    low, high = _limit("atr_min", atr_min), _limit("atr_max", atr_max)
    if atr is None or (low is None and high is None):
        return []
    if (bad := _bad("atr", atr)) is not None:
        return [bad]
    reasons = []
    if low is not None and atr <= low * (1 + near):
        reasons.append(f"ATR {atr:g} within {near:.0%} of its minimum {low:g}")
    if high is not None and atr >= high * (1 - near):
        reasons.append(f"ATR {atr:g} within {near:.0%} of its maximum {high:g}")
    return reasons


def ml_score_low(score: float | None, threshold: float = ML_SCORE_MIN) -> list[str]:
    """A reason when the ML signal score (0..1) is below ``threshold`` (0.6)."""
    if score is None:
        return []
    if (bad := _bad("ML signal score", score)) is not None:
        return [bad]
    return [f"ML signal score {score:g} below {threshold:g}"] if score < threshold else []


def daily_loss_near_limit(loss_pct: float | None, limit_pct: float | None,
                          fraction: float = DAILY_LOSS_FRACTION) -> list[str]:
    """A reason when today's loss (percent, positive = loss) exceeds ``fraction`` (80 %) of
    the daily loss limit (percent)."""
    limit = _limit("daily loss limit", limit_pct)
    if loss_pct is None or limit is None:
        return []
    if (bad := _bad("daily loss", loss_pct)) is not None:
        return [bad]
    if loss_pct > limit * fraction:
        return [f"daily loss {loss_pct:g}% above {fraction:.0%} of its limit {limit:g}%"]
    return []


def correlated_exposure_high(exposure: float | None, threshold: float | None) -> list[str]:
    """A reason when the exposure (lots, same direction, in symbols correlated with the one
    traded, including it) exceeds ``threshold`` lots."""
    top = _limit("correlated exposure threshold", threshold)
    if exposure is None or top is None:
        return []
    if (bad := _bad("correlated exposure", exposure)) is not None:
        return [bad]
    if exposure > top:
        return [f"correlated exposure {exposure:g} lots above {top:g}"]
    return []


def outlier(name: str, value: float | None, threshold: float | None, unit: str) -> list[str]:
    """A reason when ``value`` exceeds ``threshold`` (e.g. a p99 of recent values)."""
    top = _limit(f"{name} threshold", threshold)
    if value is None or top is None:
        return []
    if (bad := _bad(name, value)) is not None:
        return [bad]
    return [f"{name} {value:g}{unit} above its threshold {top:g}{unit}"] if value > top else []


@dataclass(frozen=True, slots=True)
class PreTrade:
    """What is known before an OPEN (units in the module docstring); None: not known/no bound."""

    spread: float | None = None
    max_spread: float | None = None
    atr: float | None = None
    atr_min: float | None = None
    atr_max: float | None = None
    ml_score: float | None = None
    daily_loss_pct: float | None = None
    daily_loss_limit_pct: float | None = None
    correlated_exposure: float | None = None
    correlated_exposure_max: float | None = None


def pre_trade_reasons(facts: PreTrade, near: float = NEAR_BOUND) -> list[str]:
    """Every pre-trade reason to ask the supervisor (empty: trade without asking).

    Raises:
        ConfigError: a threshold that is not a finite number > 0.
    """
    return [
        *spread_near_max(facts.spread, facts.max_spread, near),
        *atr_near_bounds(facts.atr, facts.atr_min, facts.atr_max, near),
        *ml_score_low(facts.ml_score),
        *daily_loss_near_limit(facts.daily_loss_pct, facts.daily_loss_limit_pct),
        *correlated_exposure_high(facts.correlated_exposure, facts.correlated_exposure_max),
    ]


@dataclass(frozen=True, slots=True)
class PostTrade:
    """What is known after a fill, with the outlier thresholds (e.g. p99 of recent fills)."""

    slippage_points: float | None = None
    slippage_max: float | None = None
    latency_ms: float | None = None
    latency_max_ms: float | None = None
    spread: float | None = None
    spread_max: float | None = None
    reject_rate: float | None = None
    reject_rate_max: float | None = None


def post_trade_reasons(facts: PostTrade) -> list[str]:
    """Every post-trade/anomaly reason to ask the supervisor (slippage uses its magnitude).

    Raises:
        ConfigError: a threshold that is not a finite number > 0.
    """
    slip = None if facts.slippage_points is None else abs(facts.slippage_points)
    return [
        *outlier("slippage", slip, facts.slippage_max, " points"),
        *outlier("latency", facts.latency_ms, facts.latency_max_ms, " ms"),
        *outlier("spread", facts.spread, facts.spread_max, " points"),
        *outlier("reject rate", facts.reject_rate, facts.reject_rate_max, ""),
    ]
