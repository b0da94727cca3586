"""The ``exit`` block: stop loss, take profit, trailing, break-even, smart exit, exit rules.

Units (STRATEGY_FORMAT.md "Exit"): ``pips`` are the symbol's pips (XAUUSD 0.10, 5-digit FX
0.0001); ``percentage`` is % of the entry price; ``fixed`` is a distance in price units; ``atr``
is ``multiplier`` × ATR(``period``) in price units; ``rr_ratio`` is ``ratio`` × the stop distance.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from trademaestro.strategy._base import (
    MISSING,
    NonNegative,
    Percent,
    Period,
    Positive,
    StrategyModel,
    fail,
)
from trademaestro.strategy.conditions import ConditionNode

StopType = Literal["pips", "percentage", "atr", "fixed"]
TakeProfitType = Literal["pips", "percentage", "rr_ratio", "fixed", "partial"]
_SUM_TOLERANCE = 1e-9


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class StopLoss(StrategyModel):
    """``{"type": pips|percentage|atr|fixed, ...}``: ``value`` for pips/percentage/fixed,
    ``multiplier`` (and ``period``, default 14) for atr. ``enabled: false`` means no stop."""

    enabled: bool = True
    type: StopType
    value: Positive | None = None
    multiplier: Positive | None = None
    period: Period = 14

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        return _lower(value)

    @model_validator(mode="after")
    def _check(self) -> StopLoss:
        if not self.enabled:
            return self
        if self.type == "atr":
            if self.multiplier is None:
                fail(MISSING, "a number > 0 (stop = multiplier × ATR) for type atr", "multiplier")
        elif self.value is None:
            fail(MISSING, f"a number > 0 for type {self.type}", "value")
        if self.type == "percentage" and self.value is not None and self.value > 100:
            fail(self.value, "a percentage in (0, 100]", "value")
        return self


class PartialLevel(StrategyModel):
    """One partial take-profit: at ``atRR`` × initial risk or ``pips``, close ``percentage`` %."""

    atRR: Positive | None = None  # noqa: N815 - the format's key
    pips: Positive | None = None
    percentage: Percent

    @model_validator(mode="after")
    def _check(self) -> PartialLevel:
        if (self.atRR is None) == (self.pips is None):
            fail(MISSING if self.atRR is None else {"atRR": self.atRR, "pips": self.pips},
                 "exactly one of atRR or pips", "atRR")
        return self


class TakeProfit(StrategyModel):
    """``{"type": pips|percentage|rr_ratio|fixed|partial, ...}``: ``value`` for pips/percentage/
    fixed, ``ratio`` for rr_ratio, ``levels`` for partial (percentages summing to at most 100)."""

    enabled: bool = True
    type: TakeProfitType
    value: Positive | None = None
    ratio: Positive | None = None
    levels: list[PartialLevel] | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        return _lower(value)

    @model_validator(mode="after")
    def _check(self) -> TakeProfit:
        if not self.enabled:
            return self
        if self.type == "rr_ratio":
            if self.ratio is None:
                fail(MISSING, "a number > 0 (target = ratio × stop distance) for type rr_ratio",
                     "ratio")
        elif self.type == "partial":
            if not self.levels:
                fail(self.levels if self.levels is not None else MISSING,
                     "a non-empty list of {atRR | pips, percentage}", "levels")
            total = sum(level.percentage for level in self.levels)
            if total > 100 + _SUM_TOLERANCE:
                fail(total, "percentages summing to at most 100", "levels")
        elif self.value is None:
            fail(MISSING, f"a number > 0 for type {self.type}", "value")
        if self.type == "percentage" and self.value is not None and self.value > 100:
            fail(self.value, "a percentage in (0, 100]", "value")
        return self

    @property
    def needs_stop(self) -> bool:
        """True when the target is expressed in multiples of the stop distance."""
        return self.type == "rr_ratio" or (
            self.type == "partial" and any(lv.atRR is not None for lv in self.levels or [])
        )


class Trailing(StrategyModel):
    """Trailing stop: ``distance`` (pips) or ``atrMult``; starts at ``activation`` pips of profit
    or ``activationRR`` × initial risk (immediately when neither is given)."""

    enabled: bool = True
    distance: Positive | None = None
    atrMult: Positive | None = None  # noqa: N815 - the format's key
    activation: NonNegative | None = None
    activationRR: NonNegative | None = None  # noqa: N815 - the format's key

    @model_validator(mode="after")
    def _check(self) -> Trailing:
        if not self.enabled:
            return self
        if self.distance is None and self.atrMult is None:
            fail(MISSING, "distance (pips) or atrMult", "distance")
        if self.distance is not None and self.atrMult is not None:
            fail({"distance": self.distance, "atrMult": self.atrMult},
                 "distance or atrMult, not both", "atrMult")
        if self.activation is not None and self.activationRR is not None:
            fail({"activation": self.activation, "activationRR": self.activationRR},
                 "activation or activationRR, not both", "activationRR")
        return self


class BreakEven(StrategyModel):
    """Move the stop to entry ± ``offset`` pips once profit reaches ``atRR`` × initial risk."""

    enabled: bool = True
    atRR: Positive | None = None  # noqa: N815 - the format's key
    offset: NonNegative = 0.0

    @model_validator(mode="after")
    def _check(self) -> BreakEven:
        if self.enabled and self.atRR is None:
            fail(MISSING, "a number > 0 (multiple of the initial risk)", "atRR")
        return self


class SmartExit(StrategyModel):
    """``maxHoldingHours`` plus any of ``rrTarget``, ``atrTarget``, ``partial`` levels."""

    enabled: bool = True
    maxHoldingHours: Positive | None = None  # noqa: N815 - the format's key
    rrTarget: Positive | None = None  # noqa: N815 - the format's key
    atrTarget: Positive | None = None  # noqa: N815 - the format's key
    partial: list[PartialLevel] | None = None

    @model_validator(mode="after")
    def _check(self) -> SmartExit:
        if self.partial:
            total = sum(level.percentage for level in self.partial)
            if total > 100 + _SUM_TOLERANCE:
                fail(total, "percentages summing to at most 100", "partial")
        return self


class ExitSpec(StrategyModel):
    """The ``exit`` block. ``conditions`` is a group ``{logic, conditions}``, a single condition,
    or a list (AND-ed)."""

    list_as_group = ("conditions",)

    stopLoss: StopLoss | None = None  # noqa: N815 - the format's key
    takeProfit: TakeProfit | None = None  # noqa: N815 - the format's key
    trailing: Trailing | None = None
    breakEven: BreakEven | None = None  # noqa: N815 - the format's key
    smartExit: SmartExit | None = None  # noqa: N815 - the format's key
    conditions: ConditionNode | None = None
    closeOnOppositeSignal: bool | None = Field(default=None)  # noqa: N815 - the format's key

    @property
    def stop(self) -> StopLoss | None:
        """The stop loss when present and enabled."""
        return self.stopLoss if self.stopLoss is not None and self.stopLoss.enabled else None

    @property
    def target(self) -> TakeProfit | None:
        """The take profit when present and enabled."""
        tp = self.takeProfit
        return tp if tp is not None and tp.enabled else None

    @model_validator(mode="after")
    def _check(self) -> ExitSpec:
        if self.target is not None and self.target.needs_stop and self.stop is None:
            fail(self.target.type, "a stopLoss (the target is a multiple of the stop distance)",
                 "takeProfit.type")
        return self
