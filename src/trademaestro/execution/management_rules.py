"""The position-management rules of a strategy, normalised from its ``exit`` block.

:class:`ManagementRules` is what :func:`trademaestro.execution.management.manage` reads: partial
take-profit levels, trailing stop, break-even and smart exit (time, RR and ATR targets), in the
decision core's own units (pips, multiples of the initial risk, seconds). It is built once per
strategy, at load, by :meth:`ManagementRules.from_exit`, which also rejects the contradictory
settings the ``exit`` model alone cannot see.

Units: ``pips`` are the symbol's pips (:attr:`trademaestro.core.symbols.SymbolSpec.pip`; XAUUSD
0.10); ``rr`` values are multiples of the position's initial risk ``|entry − initial SL|`` (price
units); ATR multiples are multiples of ATR(``atr_period``) in price units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from trademaestro.core.errors import StrategyError
from trademaestro.strategy._base import join
from trademaestro.strategy.exits import ExitSpec, PartialLevel

LevelKind = Literal["rr", "pips"]
DEFAULT_ATR_PERIOD = 14
_SUM_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class PartialRule:
    """One partial take-profit level: close ``percentage`` % of the INITIAL volume once the price
    reaches ``value`` × initial risk (``kind`` ``rr``) or ``value`` pips (``kind`` ``pips``) of
    profit."""

    kind: LevelKind
    value: float
    percentage: float


@dataclass(frozen=True, slots=True)
class TrailingRule:
    """Trailing stop: the SL follows the best price of each closed bar at ``distance_pips`` pips
    or ``atr_mult`` × ATR (exactly one is set), once the profit there reaches
    ``activation_pips`` pips or ``activation_rr`` × initial risk (neither: from the first bar)."""

    distance_pips: float | None = None
    atr_mult: float | None = None
    activation_pips: float | None = None
    activation_rr: float | None = None


@dataclass(frozen=True, slots=True)
class BreakEvenRule:
    """Move the SL to entry ± ``offset_pips`` pips (in the trade's favour) once the profit
    reaches ``at_rr`` × initial risk."""

    at_rr: float
    offset_pips: float = 0.0


@dataclass(frozen=True, slots=True)
class ManagementRules:
    """Normalised position-management rules (all optional; the default manages nothing).

    Attributes:
        partials: partial take-profit levels, in the order written (sorted by distance per
            position, because ``rr`` and ``pips`` levels only compare once the risk is known).
        trailing: the trailing stop, or None.
        break_even: the break-even move, or None.
        max_holding_seconds: close the position once it has been open this long (server
            seconds; ``smartExit.maxHoldingHours`` × 3600 rounded to the second), or None.
        rr_target: close once a closed bar's close reaches entry ± this × initial risk, or None.
        atr_target: close once a closed bar's close reaches entry ± this × the ATR at entry.
        atr_period: the ATR period of ``trailing.atrMult`` and ``smartExit.atrTarget``.
    """

    partials: tuple[PartialRule, ...] = ()
    trailing: TrailingRule | None = None
    break_even: BreakEvenRule | None = None
    max_holding_seconds: int | None = None
    rr_target: float | None = None
    atr_target: float | None = None
    atr_period: int = DEFAULT_ATR_PERIOD

    @property
    def active(self) -> bool:
        """True when at least one rule manages open positions."""
        return bool(
            self.partials
            or self.trailing is not None
            or self.break_even is not None
            or self.max_holding_seconds is not None
            or self.rr_target is not None
            or self.atr_target is not None
        )

    @property
    def needs_risk(self) -> bool:
        """True when a rule is a multiple of the initial risk (the position needs an SL)."""
        return bool(
            any(p.kind == "rr" for p in self.partials)
            or self.break_even is not None
            or (self.trailing is not None and self.trailing.activation_rr is not None)
            or self.rr_target is not None
        )

    def atr_periods(self) -> tuple[int, ...]:
        """ATR periods the rules need: ``(atr_period,)`` for an ``atrMult`` trailing stop (ATR of
        each closed bar) or an ``atrTarget`` (ATR at entry, kept in the position memo), else
        ``()``."""
        uses_atr = self.atr_target is not None or (
            self.trailing is not None and self.trailing.atr_mult is not None
        )
        return (self.atr_period,) if uses_atr else ()

    @classmethod
    def from_exit(
        cls,
        exit_spec: ExitSpec | None,
        *,
        atr_period: int | None = None,
        path: str = "rules.exit",
    ) -> ManagementRules:
        """Normalise the management parts of an ``exit`` block.

        Args:
            exit_spec: the validated ``exit`` block (None: no management).
            atr_period: ATR period for ``trailing.atrMult`` and ``smartExit.atrTarget``; None
                takes the stop loss's ``period`` when the stop is of type ``atr``, else 14.
            path: JSON path of the ``exit`` block, for error messages.

        Raises:
            StrategyError: contradictory settings, with the JSON path: partial levels given both
                in ``takeProfit`` (type ``partial``) and in ``smartExit.partial``; a rule
                expressed in multiples of the initial risk (``atRR``, ``activationRR``,
                ``rrTarget``) without an enabled ``stopLoss``; an ``atr_period`` below 1.
        """
        period = _atr_period(exit_spec, atr_period)
        if exit_spec is None:
            return cls(atr_period=period)
        tp = exit_spec.target
        smart = exit_spec.smartExit
        if smart is not None and not smart.enabled:
            smart = None
        tp_levels = tp.levels if tp is not None and tp.type == "partial" and tp.levels else None
        smart_levels = smart.partial if smart is not None and smart.partial else None
        tp_path = join(join(path, exit_spec.key_of("takeProfit")), "levels")
        smart_path = join(path, exit_spec.key_of("smartExit"))
        if tp_levels is not None and smart_levels is not None:
            raise StrategyError(
                join(smart_path, "partial"),
                [lv.model_dump(exclude_none=True) for lv in smart_levels],
                "partial levels in takeProfit (type partial) or in smartExit.partial, not both",
            )
        levels, levels_path = (
            (tp_levels, tp_path) if tp_levels is not None
            else (smart_levels, join(smart_path, "partial"))
        )
        trailing = exit_spec.trailing
        trailing_rule = None
        if trailing is not None and trailing.enabled:
            trailing_rule = TrailingRule(
                distance_pips=trailing.distance,
                atr_mult=trailing.atrMult,
                activation_pips=trailing.activation,
                activation_rr=trailing.activationRR,
            )
        be = exit_spec.breakEven
        be_rule = None
        if be is not None and be.enabled and be.atRR is not None:
            be_rule = BreakEvenRule(at_rr=be.atRR, offset_pips=be.offset)
        rules = cls(
            partials=tuple(_partial(lv) for lv in levels or ()),
            trailing=trailing_rule,
            break_even=be_rule,
            max_holding_seconds=(
                _seconds(smart.maxHoldingHours)
                if smart is not None and smart.maxHoldingHours is not None else None
            ),
            rr_target=smart.rrTarget if smart is not None else None,
            atr_target=smart.atrTarget if smart is not None else None,
            atr_period=period,
        )
        if exit_spec.stop is None:
            _require_stop(rules, path, exit_spec, levels_path, smart_path)
        return rules


def _atr_period(exit_spec: ExitSpec | None, given: int | None) -> int:
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise StrategyError("atr_period", given, "an integer >= 1")
        return given
    stop = exit_spec.stop if exit_spec is not None else None
    if stop is not None and stop.type == "atr":
        return int(stop.period)
    return DEFAULT_ATR_PERIOD


def _partial(level: PartialLevel) -> PartialRule:
    if level.atRR is not None:
        return PartialRule("rr", float(level.atRR), float(level.percentage))
    return PartialRule("pips", float(level.pips or 0.0), float(level.percentage))


def _seconds(hours: float) -> int:
    """Hours to whole seconds (at least one)."""
    return max(1, round(hours * 3600.0))


def _require_stop(
    rules: ManagementRules, path: str, exit_spec: ExitSpec, levels_path: str, smart_path: str
) -> None:
    """Raise when a rule is a multiple of the initial risk but the strategy has no stop."""
    allowed = "an enabled stopLoss (this is a multiple of the initial risk)"
    for i, p in enumerate(rules.partials):
        if p.kind == "rr":
            raise StrategyError(join(join(levels_path, i), "atRR"), p.value, allowed)
    if rules.break_even is not None:
        raise StrategyError(
            join(join(path, exit_spec.key_of("breakEven")), "atRR"), rules.break_even.at_rr, allowed
        )
    if rules.trailing is not None and rules.trailing.activation_rr is not None:
        raise StrategyError(
            join(join(path, exit_spec.key_of("trailing")), "activationRR"),
            rules.trailing.activation_rr,
            allowed,
        )
    if rules.rr_target is not None:
        raise StrategyError(join(smart_path, "rrTarget"), rules.rr_target, allowed)


def percent_total(partials: tuple[PartialRule, ...]) -> float:
    """Sum of the levels' percentages (0 for none)."""
    return math.fsum(p.percentage for p in partials)


def sums_to_hundred(partials: tuple[PartialRule, ...]) -> bool:
    """True when the levels' percentages add up to 100 (within 1e-9)."""
    return bool(partials) and abs(percent_total(partials) - 100.0) <= _SUM_TOLERANCE
