"""The ``riskManagement``, ``dynamicRisk``, ``filters`` and ``options`` blocks.

Units (STRATEGY_FORMAT.md "Risk", "Filters"): ``lotSize`` in lots; ``maxDailyLoss`` in the account
currency; percentages in (0, 100]; ``maxSpread`` in pips; ATR bounds in price units; session names
are the format's (``Sydney Asia Tokyo London NewYork``), evaluated in their own time zones.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from trademaestro.strategy._base import (
    MISSING,
    NonNegative,
    Percent,
    Period,
    Positive,
    StrategyModel,
    fail,
)

SESSIONS = ("Sydney", "Asia", "Tokyo", "London", "NewYork")
_SESSION_SPELLINGS = {s.lower(): s for s in SESSIONS}
IMPACTS = ("low", "medium", "high")


def _canon(value: Any, table: dict[str, str], allowed: str) -> str:
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "").replace("_", "").replace("-", "")
        if key in table:
            return table[key]
    fail(value, allowed)


class RiskManagement(StrategyModel):
    """Fixed sizing and account limits: ``lotSize`` (lots), ``maxPositions`` (per strategy and
    symbol), ``maxDailyLoss`` (account currency), ``maxDailyLossPercent``,
    ``maxDrawdownPercent``."""

    lotSize: Positive | None = None  # noqa: N815 - the format's key
    maxPositions: Period | None = None  # noqa: N815 - the format's key
    maxDailyLoss: Positive | None = None  # noqa: N815 - the format's key
    maxDailyLossPercent: Percent | None = None  # noqa: N815 - the format's key
    maxDrawdownPercent: Percent | None = None  # noqa: N815 - the format's key


class Kelly(StrategyModel):
    """Fractional Kelly sizing from the strategy's own closed trades (an extension of the format).

    ``fraction`` of the Kelly fraction ``W - (1 - W) / R`` (W win rate, R payoff ratio) is risked,
    capped at ``maxRiskPercent`` % of equity; until ``minTrades`` trades have closed, the
    configured ``riskPercentage`` applies."""

    enabled: bool = True
    fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    maxRiskPercent: Percent = 2.0  # noqa: N815 - the format's style
    minTrades: Period = 30  # noqa: N815 - the format's style


class DynamicRisk(StrategyModel):
    """Risk-based sizing: ``riskPercentage`` of equity between entry and stop; ATR sizing
    (stop at ``atrMultiplier`` × ATR(``atrPeriod``)); ``reduceInHighVolatility`` when ATR exceeds
    ``volatilityThreshold`` × its own ``volatilityLookback``-bar average; ``kelly``."""

    riskPercentage: Percent | None = None  # noqa: N815 - the format's key
    useATRSizing: bool = False  # noqa: N815 - the format's key
    atrMultiplier: Positive | None = None  # noqa: N815 - the format's key
    atrPeriod: Period = 14  # noqa: N815 - the format's style
    volatilityThreshold: Positive | None = None  # noqa: N815 - the format's key
    volatilityLookback: Period = 50  # noqa: N815 - the format's style
    reduceInHighVolatility: bool = False  # noqa: N815 - the format's key
    kelly: Kelly | None = None

    @model_validator(mode="after")
    def _check(self) -> DynamicRisk:
        if self.reduceInHighVolatility and self.volatilityThreshold is None:
            fail(MISSING, "a number > 0 (ATR / its average) with reduceInHighVolatility",
                 "volatilityThreshold")
        if self.useATRSizing and self.atrMultiplier is None:
            fail(MISSING, "a number > 0 (stop = atrMultiplier × ATR) with useATRSizing",
                 "atrMultiplier")
        return self


class SessionFilter(StrategyModel):
    """Trade only in ``allowedSessions``; ``action`` ``disable`` skips, ``scale`` multiplies the
    size by ``riskMultiplier``."""

    enabled: bool = True
    allowedSessions: list[str] = []  # noqa: N815, RUF012 - the format's key; frozen model
    action: Literal["disable", "scale"] = "disable"
    riskMultiplier: Positive | None = None  # noqa: N815 - the format's key

    @field_validator("allowedSessions", mode="before")
    @classmethod
    def _sessions(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        allowed = ", ".join(SESSIONS)
        out = []
        for i, name in enumerate(value):
            try:
                out.append(_canon(name, _SESSION_SPELLINGS, allowed))
            except PydanticCustomError:
                fail(name, allowed, f"[{i}]")
        return out

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> SessionFilter:
        if self.enabled and not self.allowedSessions:
            fail(self.allowedSessions if self.has("allowedSessions") else MISSING,
                 "a non-empty list of " + ", ".join(SESSIONS), "allowedSessions")
        if self.action == "scale" and self.riskMultiplier is None:
            fail(MISSING, "a number > 0 with action scale", "riskMultiplier")
        if self.riskMultiplier is not None and self.riskMultiplier > 1:
            fail(self.riskMultiplier, "a size multiplier in (0, 1]", "riskMultiplier")
        return self


class SpreadFilter(StrategyModel):
    """Skip (``SKIP``) or shrink (``REDUCE_SIZE`` × ``multiplier``) when the spread exceeds
    ``maxSpread`` pips."""

    enabled: bool = True
    maxSpread: Positive | None = None  # noqa: N815 - the format's key
    action: Literal["SKIP", "REDUCE_SIZE"] = "SKIP"
    multiplier: Positive | None = None

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> SpreadFilter:
        if self.enabled and self.maxSpread is None:
            fail(MISSING, "a number > 0 (pips)", "maxSpread")
        if self.action == "REDUCE_SIZE" and self.multiplier is None:
            fail(MISSING, "a number > 0 with action REDUCE_SIZE", "multiplier")
        if self.multiplier is not None and self.multiplier > 1:
            fail(self.multiplier, "a size multiplier in (0, 1]", "multiplier")
        return self


class VolatilityFilter(StrategyModel):
    """Trade only while ATR(``period``) is within [``minATR``, ``maxATR``] (price units).

    Outside the bounds: ``SKIP`` skips, ``REDUCE_SIZE`` trades × ``multiplier``, ``NORMAL`` trades
    at normal size (the decision is still logged). A number as the action (``"action": 0.5``) means
    ``REDUCE_SIZE`` with that multiplier."""

    enabled: bool = True
    minATR: NonNegative | None = None  # noqa: N815 - the format's key
    maxATR: Positive | None = None  # noqa: N815 - the format's key
    period: Period = 14
    action: Literal["SKIP", "REDUCE_SIZE", "NORMAL"] = "SKIP"
    multiplier: Positive | None = None

    @model_validator(mode="before")
    @classmethod
    def _numeric_action(cls, data: Any) -> Any:
        if isinstance(data, dict):
            action = data.get("action")
            if isinstance(action, int | float) and not isinstance(action, bool):
                if "multiplier" in data:
                    fail(data, "either a numeric action or a multiplier, not both", "action")
                return {**data, "action": "REDUCE_SIZE", "multiplier": action}
        return data

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> VolatilityFilter:
        if self.enabled and self.minATR is None and self.maxATR is None:
            fail(MISSING, "minATR and/or maxATR (price units)", "minATR")
        if self.minATR is not None and self.maxATR is not None and self.minATR > self.maxATR:
            fail({"minATR": self.minATR, "maxATR": self.maxATR}, "minATR <= maxATR", "minATR")
        if self.action == "REDUCE_SIZE" and self.multiplier is None:
            fail(MISSING, "a number > 0 with action REDUCE_SIZE", "multiplier")
        if self.multiplier is not None and self.multiplier > 1:
            fail(self.multiplier, "a size multiplier in (0, 1]", "multiplier")
        return self


class CorrelationFilter(StrategyModel):
    """Skip an entry whose returns correlate above ``threshold`` (absolute) over ``lookbackDays``
    with a symbol held by the account."""

    enabled: bool = True
    threshold: Positive = 0.8
    lookbackDays: Period = 30  # noqa: N815 - the format's key

    @model_validator(mode="after")
    def _check(self) -> CorrelationFilter:
        if self.threshold > 1:
            fail(self.threshold, "a correlation in (0, 1]", "threshold")
        return self


class NewsFilter(StrategyModel):
    """Hook: no entries from ``minutesBefore`` to ``minutesAfter`` around events of ``impact``."""

    enabled: bool = True
    minutesBefore: NonNegative = 30  # noqa: N815 - the format's key
    minutesAfter: NonNegative = 30  # noqa: N815 - the format's key
    impact: list[Literal["low", "medium", "high"]] = ["high"]  # noqa: RUF012 - frozen model

    @field_validator("impact", mode="before")
    @classmethod
    def _impact(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [v.strip().lower() if isinstance(v, str) else v for v in value]
        return value


class Filters(StrategyModel):
    """The ``filters`` block."""

    sessionFilter: SessionFilter | None = None  # noqa: N815 - the format's key
    spreadFilter: SpreadFilter | None = None  # noqa: N815 - the format's key
    volatilityFilter: VolatilityFilter | None = None  # noqa: N815 - the format's key
    correlationFilter: CorrelationFilter | None = None  # noqa: N815 - the format's key
    newsFilter: NewsFilter | None = None  # noqa: N815 - the format's key


class Intrabar(StrategyModel):
    """Evaluate the forming bar every ``intervalSeconds`` (paper/live; backtests need ticks)."""

    enabled: bool = True
    intervalSeconds: Positive = 5.0  # noqa: N815 - the format's style


class Options(StrategyModel):
    """The ``options`` block (``closeOnOppositeSignal`` may stand here or in ``exit``).

    Extensions of the format: ``cooldownMinutes`` (no entry until that many minutes after the
    strategy's last trade on the symbol), ``confirmationBars`` (the entry signal must hold on that
    many consecutive closed bars; 1 = no confirmation), ``intrabar`` and ``magicNumber`` (the
    strategy's magic number; default crc32 of ``strategyId``)."""

    closeOnOppositeSignal: bool | None = None  # noqa: N815 - the format's key
    cooldownMinutes: NonNegative | None = None  # noqa: N815 - the format's style
    confirmationBars: Period | None = None  # noqa: N815 - the format's style
    intrabar: Intrabar | None = None
    magicNumber: Annotated[int, Field(ge=0, lt=2**63)] | None = None  # noqa: N815

    @field_validator("intrabar", mode="before")
    @classmethod
    def _intrabar_flag(cls, value: Any) -> Any:
        """``"intrabar": true`` means the defaults (every 5 s); ``false`` means off."""
        if isinstance(value, bool):
            return {"enabled": value}
        return value
