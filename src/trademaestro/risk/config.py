"""From the validated ``riskManagement`` and ``dynamicRisk`` blocks to the core's rule values.

Mapping (STRATEGY_FORMAT.md "Risk"): ``lotSize`` -> ``lot_size``; ``riskPercentage`` ->
``risk_percentage``; ``useATRSizing`` -> ``atr_multiplier`` = ``atrMultiplier`` (None when off);
``reduceInHighVolatility`` -> ``volatility_threshold`` = ``volatilityThreshold`` (None when off);
an enabled ``kelly`` -> :class:`KellyRule`; the three account limits -> :class:`RiskLimits`.
"""

from __future__ import annotations

from trademaestro.core.errors import StrategyError
from trademaestro.execution.plan import KellyRule, SizingRule
from trademaestro.risk.limits import RiskLimits
from trademaestro.strategy.limits import DynamicRisk, RiskManagement


def sizing_rule_of(
    risk: RiskManagement | None, dyn: DynamicRisk | None, *, path: str = "dynamicRisk"
) -> SizingRule:
    """The :class:`SizingRule` of a strategy's blocks (either may be absent).

    Raises:
        StrategyError: ``reduceInHighVolatility`` without ``volatilityThreshold`` (at
            ``<path>.volatilityThreshold``).
    """
    lot_size = float(risk.lotSize) if risk is not None and risk.lotSize is not None else None
    if dyn is None:
        return SizingRule(lot_size=lot_size)
    threshold: float | None = None
    if dyn.reduceInHighVolatility:
        if dyn.volatilityThreshold is None:
            raise StrategyError(
                f"{path}.volatilityThreshold",
                "missing",
                "a ratio > 0 (ATR / its average) with reduceInHighVolatility",
            )
        threshold = float(dyn.volatilityThreshold)
    kelly = None
    if dyn.kelly is not None and dyn.kelly.enabled:
        kelly = KellyRule(
            float(dyn.kelly.fraction), float(dyn.kelly.maxRiskPercent), int(dyn.kelly.minTrades)
        )
    return SizingRule(
        lot_size=lot_size,
        risk_percentage=float(dyn.riskPercentage) if dyn.riskPercentage is not None else None,
        atr_multiplier=float(dyn.atrMultiplier)
        if dyn.useATRSizing and dyn.atrMultiplier is not None
        else None,
        atr_period=int(dyn.atrPeriod),
        volatility_threshold=threshold,
        volatility_lookback=int(dyn.volatilityLookback),
        kelly=kelly,
    )


def risk_limits_of(risk: RiskManagement | None) -> RiskLimits:
    """The account limits of a strategy's ``riskManagement`` block (all None when absent)."""
    if risk is None:
        return RiskLimits()

    def num(value: float | None) -> float | None:
        return float(value) if value is not None else None

    return RiskLimits(
        num(risk.maxDailyLoss), num(risk.maxDailyLossPercent), num(risk.maxDrawdownPercent)
    )
