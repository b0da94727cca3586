"""Position sizing (functional core): fixed lots, % of equity at risk, ATR sizing, multipliers.

``riskPercentage``: the volume whose loss between entry and stop equals that percentage of equity:

    lots = equity × risk% / 100 × multiplier / (stop_distance / tick_size × tick_value)

(MT5_API.md §10.7), then rounded *down* to the volume step and capped at the maximum. A size below
the minimum volume is no trade, with the reason; it is never rounded up to the minimum. Fixed
``lotSize`` (× multiplier) is rounded down the same way.

``useATRSizing`` (STRATEGY_FORMAT.md "Risk"): the risk is measured over the stop distance
``atrMultiplier`` × ATR(``atrPeriod``), so at a fixed risk the volume is ∝ 1/ATR. Rule chosen here:
without ``riskPercentage`` ATR sizing risks :data:`DEFAULT_ATR_RISK_PERCENT` (1 %) of equity, and
``lotSize`` is not used. When the position also has a stop loss of its own, the larger of the two
distances is used, so the money at risk at the real stop never exceeds the budget.

Invariant (property-tested): ``stop_distance / tick_size × tick_value × volume`` never exceeds
``equity × risk% / 100 × multiplier``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.plan import SizingRule

#: % of equity risked by ``useATRSizing`` when ``riskPercentage`` is not given.
DEFAULT_ATR_RISK_PERCENT = 1.0


@dataclass(frozen=True, slots=True)
class Size:
    """A sizing result: ``volume`` in lots (0.0 = no trade) and ``reason`` in words."""

    volume: float
    reason: str


def atr_stop_distance(atr: float, multiplier: float) -> float:
    """The ATR-sizing stop distance ``multiplier × atr``, price units.

    Args:
        atr: ATR of the last closed bar, price units (NaN during the warm-up).
        multiplier: ``dynamicRisk.atrMultiplier`` (> 0).

    Returns:
        The distance, or NaN when the ATR is unknown (NaN, infinite or not positive).

    Raises:
        ValueError: ``multiplier`` is not a finite number > 0.
    """
    if not (math.isfinite(multiplier) and multiplier > 0):
        raise ValueError(f"atrMultiplier: found {multiplier!r}; allowed: a number > 0")
    if not (math.isfinite(atr) and atr > 0):
        return math.nan
    return multiplier * atr


def size_volume(rule: SizingRule, spec: SymbolSpec, equity: float, stop_distance: float) -> Size:
    """Lots to trade with no multiplier, no ATR and no Kelly percentage (see :func:`size_entry`).

    Args:
        rule: the plan's sizing rule.
        spec: symbol specification (tick value in account currency per tick per lot).
        equity: account equity, account currency.
        stop_distance: |entry − stop| in price units; 0.0 when there is no stop.
    """
    return size_entry(rule, spec, equity, stop_distance)


def _fixed(rule: SizingRule, spec: SymbolSpec, multiplier: float, note: str) -> Size:
    lots = rule.lot_size if rule.lot_size is not None else spec.volume_min
    scaled = lots * multiplier
    volume = spec.normalize_volume(scaled)
    times = "" if multiplier == 1.0 else f" × {multiplier:g}"
    if volume <= 0:
        return Size(
            0.0,
            f"{note}lotSize {lots}{times} = {scaled:.4f} lots is below the minimum "
            f"volume {spec.volume_min}",
        )
    return Size(volume, f"{note}fixed {lots}{times} lots -> {volume}")


def _stepped_down(spec: SymbolSpec, volume: float) -> float:
    """One volume step less, or 0.0 below the minimum."""
    return spec.normalize_volume(volume - spec.volume_step * (1 - 1e-6))


def size_entry(
    rule: SizingRule,
    spec: SymbolSpec,
    equity: float,
    stop_distance: float,
    *,
    atr: float = math.nan,
    multiplier: float = 1.0,
    kelly_percent: float | None = None,
) -> Size:
    """Lots for one entry: the single sizing entry point of the decision core.

    Order: the risk distance (the stop distance, or with ATR sizing the larger of it and
    ``rule.atr_multiplier × atr``); the risk percentage (``kelly_percent`` when given, else
    ``rule.risk_percentage``, else 1 % with ATR sizing, else fixed lots); raw lots = risk money ×
    ``multiplier`` / loss per lot; rounded down to ``volume_step``, capped at ``volume_max``;
    below ``volume_min`` -> 0.0 with the reason. With a risk percentage but no stop, fixed
    ``lotSize`` applies if set (plain riskPercentage only), else no trade.

    Args:
        rule: the plan's sizing rule.
        spec: symbol specification (tick size price units, tick value account currency per tick
            per lot, volumes lots).
        equity: account equity, account currency.
        stop_distance: |entry − stop|, price units; 0.0 when there is no stop.
        atr: ATR(``rule.atr_period``) of the last closed bar, price units (ATR sizing only).
        multiplier: product of the filters' and the volatility multipliers (> 0; 1.0 = full).
        kelly_percent: % of equity from :func:`trademaestro.risk.kelly.kelly_risk_percent`
            (None: not Kelly-sized; 0.0: no trade).

    Returns:
        A :class:`Size`; volume 0.0 means no trade and ``reason`` says why. Never raises.
    """
    if not (math.isfinite(multiplier) and multiplier > 0):
        return Size(0.0, f"size multiplier {multiplier!r}: no trade")
    if not (math.isfinite(equity) and equity > 0):
        return Size(0.0, f"equity {equity!r}: no trade")
    distance = stop_distance if math.isfinite(stop_distance) and stop_distance > 0 else 0.0
    note = ""
    atr_sizing = rule.atr_multiplier is not None
    if rule.atr_multiplier is not None:
        try:
            atr_distance = atr_stop_distance(atr, rule.atr_multiplier)
        except ValueError as exc:
            return Size(0.0, str(exc))
        if math.isnan(atr_distance):
            return Size(0.0, f"ATR sizing: ATR({rule.atr_period}) unknown ({atr!r}): no trade")
        note = f"stop {rule.atr_multiplier:g} × ATR {atr:.5g} = {atr_distance:.5g}; "
        distance = max(distance, atr_distance)
    if kelly_percent is not None:
        percent: float | None = kelly_percent
        source = "Kelly"
        if not (math.isfinite(kelly_percent) and kelly_percent > 0):
            return Size(0.0, f"Kelly risk {kelly_percent!r} %: no trade")
    elif rule.risk_percentage is not None:
        percent, source = rule.risk_percentage, "risk"
    elif atr_sizing:
        percent, source = DEFAULT_ATR_RISK_PERCENT, "ATR sizing default risk"
    else:
        return _fixed(rule, spec, multiplier, note)
    assert percent is not None
    if distance <= 0:
        if rule.lot_size is not None and kelly_percent is None and not atr_sizing:
            return _fixed(rule, spec, multiplier, "no stop loss: ")
        return Size(0.0, f"{source} {percent:g}% needs a stop loss: no trade")
    if not (spec.tick_size > 0 and math.isfinite(spec.tick_value) and spec.tick_value > 0):
        return Size(
            0.0,
            f"{spec.name}: tick value {spec.tick_value!r} per tick "
            f"{spec.tick_size!r} unknown: no trade",
        )
    budget = equity * percent / 100.0 * multiplier
    loss_per_lot = distance / spec.tick_size * spec.tick_value
    raw = budget / loss_per_lot
    volume = spec.normalize_volume(raw)
    # floor_volume forgives a millionth of a step of float noise: never let it exceed the budget.
    while volume > 0 and volume * loss_per_lot > budget:
        volume = _stepped_down(spec, volume)
    times = "" if multiplier == 1.0 else f" × {multiplier:g}"
    head = (
        f"{note}{source} {percent:g}% of {equity:.2f}{times} = {budget:.2f} over "
        f"{distance:.5g} ({loss_per_lot:.2f} per lot): {raw:.4f} lots"
    )
    if volume <= 0:
        return Size(0.0, f"{head}, below the minimum {spec.volume_min}")
    capped = " (capped at the maximum)" if raw > spec.volume_max else ""
    return Size(volume, f"{head} -> {volume}{capped}")
