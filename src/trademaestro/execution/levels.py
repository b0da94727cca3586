"""Stop loss and take profit prices from a plan's rules (functional core, no I/O).

Prices are in price units and rounded to the symbol's tick size and digits. A stop or target
nearer to the market than the symbol's stops level (``trade_stops_level`` points, MT5_API.md §7.2)
is moved out to that level plus one point, because the broker would refuse it (retcode 10016);
the adjustment is reported in the result's ``notes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.intents import Side
from trademaestro.execution.plan import StopRule, TargetRule


@dataclass(frozen=True, slots=True)
class Levels:
    """Computed levels: ``sl``/``tp`` prices (0.0 = none), ``stop_distance`` in price units
    (0.0 without a stop) and human-readable ``notes`` on adjustments or problems."""

    sl: float
    tp: float
    stop_distance: float
    notes: tuple[str, ...] = ()
    ok: bool = True


def distance_of(rule: StopRule | TargetRule, entry: float, spec: SymbolSpec, atr: float) -> float:
    """A rule's distance from ``entry`` in price units (NaN when ATR is needed but unknown)."""
    if rule.kind == "pips":
        return rule.value * spec.pip
    if rule.kind == "percentage":
        return entry * rule.value / 100.0
    if rule.kind == "fixed":
        return rule.value
    if rule.kind == "atr":
        return rule.value * atr if math.isfinite(atr) and atr > 0 else math.nan
    raise ValueError(f"distance_of: {rule.kind!r} has no distance of its own")


def compute_levels(
    side: Side,
    entry: float,
    bid: float,
    ask: float,
    spec: SymbolSpec,
    stop: StopRule | None,
    target: TargetRule | None,
    atr: float = math.nan,
) -> Levels:
    """SL and TP prices for a new position.

    Args:
        side: the position's side.
        entry: expected fill price (ask for buy, bid for sell), price units.
        bid, ask: current quotes, for the stops-level check.
        spec: symbol specification.
        stop, target: the plan's rules.
        atr: ATR of the last closed bar (price units) for ``atr`` stops.

    Returns:
        Levels; ``ok`` is False (and ``notes`` says why) when a needed value is unknown, e.g.
        an ATR stop during the ATR warm-up or an ``rr_ratio`` target without a stop.
    """
    sign = 1.0 if side == "buy" else -1.0
    notes: list[str] = []
    min_gap = (spec.stops_level + 1) * spec.point if spec.stops_level > 0 else spec.point
    # The side of the quote the levels are checked against (buy: bid; sell: ask).
    ref = bid if side == "buy" else ask

    sl = 0.0
    stop_distance = 0.0
    if stop is not None:
        stop_distance = distance_of(stop, entry, spec, atr)
        if not math.isfinite(stop_distance) or stop_distance <= 0:
            return Levels(0.0, 0.0, 0.0, (f"stop distance unknown ({stop.kind})",), ok=False)
        sl = entry - sign * stop_distance
        if sign * (ref - sl) < min_gap:
            sl = ref - sign * min_gap
            notes.append(f"stop moved to the stops level ({spec.stops_level} points)")
        sl = _round_away(spec, sl, -sign)
        if sl <= 0:
            return Levels(0.0, 0.0, 0.0, ("stop loss at or below zero",), ok=False)
        stop_distance = abs(entry - sl)

    tp = 0.0
    if target is not None:
        if target.kind == "rr_ratio":
            if stop is None:
                return Levels(sl, 0.0, stop_distance, ("rr_ratio target needs a stop",), ok=False)
            tp_distance = target.value * stop_distance
        else:
            tp_distance = distance_of(target, entry, spec, atr)
        tp = entry + sign * tp_distance
        if sign * (tp - ref) < min_gap:
            tp = ref + sign * min_gap
            notes.append(f"target moved to the stops level ({spec.stops_level} points)")
        tp = _round_away(spec, tp, sign)
        if tp <= 0:
            tp = 0.0
            notes.append("target at or below zero: no take profit")
    return Levels(sl, tp, stop_distance, tuple(notes))


def _round_away(spec: SymbolSpec, price: float, direction: float) -> float:
    """Round to the tick grid, never toward the market: ``direction`` +1 rounds up, -1 down.

    Rounding toward the market could put a level inside the stops level again."""
    ticks = price / spec.tick_size
    n = math.ceil(ticks - 1e-9) if direction > 0 else math.floor(ticks + 1e-9)
    return round(n * spec.tick_size, spec.digits)
