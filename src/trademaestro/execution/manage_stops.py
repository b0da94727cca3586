"""Stop-loss arithmetic of the position manager: break-even and trailing levels, and the broker's
constraints on a new stop (stops level, freeze level, no-op modifies).

Pure functions; prices in price units, distances in price units unless named ``pips`` or
``points``. ``sign`` is +1 for a buy and −1 for a sell, so ``sign × (a − b) > 0`` reads "``a`` is
better for the trade than ``b``". Floats are compared with a tolerance of half a point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.intents import Side
from trademaestro.execution.management_rules import ManagementRules


def side_sign(side: Side) -> float:
    """+1.0 for a buy, −1.0 for a sell."""
    return 1.0 if side == "buy" else -1.0


def round_away(spec: SymbolSpec, price: float, direction: float) -> float:
    """Round ``price`` to the tick grid and to ``digits``: up when ``direction`` > 0, down when
    < 0. A value within 1e-9 tick of a grid price counts as that price (float noise)."""
    ticks = price / spec.tick_size
    n = math.ceil(ticks - 1e-9) if direction > 0 else math.floor(ticks + 1e-9)
    return round(n * spec.tick_size, spec.digits)


def reached(sign: float, seen: float, level: float, spec: SymbolSpec) -> bool:
    """True when the price ``seen`` is at or beyond ``level`` in the trade's favour (within half
    a point)."""
    return sign * (seen - level) >= -spec.point / 2


def stop_gap(spec: SymbolSpec) -> float:
    """Minimal distance between the market and a NEW stop, price units: the stops level plus one
    point (the margin :mod:`trademaestro.execution.levels` also keeps), or one point when the
    symbol has no stops level (the stop must lie on the right side of the quote)."""
    return (spec.stops_level + 1) * spec.point if spec.stops_level > 0 else spec.point


def frozen(side: Side, sl: float, tp: float, bid: float, ask: float, spec: SymbolSpec) -> bool:
    """True when the position's SL or TP lies within ``freeze_level`` points of the market (bid
    for a buy, ask for a sell): the broker then refuses to modify or close it (retcode 10029,
    MT5_API.md §7.2)."""
    if spec.freeze_level <= 0:
        return False
    ref = bid if side == "buy" else ask
    limit = spec.freeze_level * spec.point + spec.point / 2
    return any(level > 0.0 and abs(ref - level) <= limit for level in (sl, tp))


@dataclass(frozen=True, slots=True)
class WantedStop:
    """The stop the rules ask for: ``sl`` (price units, NaN for none), the rules that asked
    (``break-even``, ``trailing``) and notes on rules that could not be evaluated."""

    sl: float
    why: tuple[str, ...]
    notes: tuple[str, ...]


def wanted_stop(
    rules: ManagementRules,
    side: Side,
    entry: float,
    risk: float,
    extreme: float,
    atr: float,
    spec: SymbolSpec,
) -> WantedStop:
    """The tightest stop that break-even and trailing ask for after a closed bar.

    Args:
        rules: the management rules.
        side: the position's side.
        entry: the position's open price.
        risk: initial risk ``|entry − initial SL|`` (0 when the position had no SL).
        extreme: the bar's most favourable price for the trade (see ``management``).
        atr: ATR(``rules.atr_period``) of the closed bar, price units (NaN if unknown).
        spec: the symbol.

    Break-even: once ``extreme`` reaches entry ± ``at_rr`` × risk, SL = entry ± ``offset_pips``.
    Trailing: once the profit at ``extreme`` reaches the activation, SL = extreme ∓ distance.
    Both are rounded to the tick grid away from the market (a buy's SL down, a sell's up); the
    tighter of the two wins. Neither the current SL nor the stops level is considered here.
    """
    sign = side_sign(side)
    candidates: list[tuple[float, str]] = []
    notes: list[str] = []
    be = rules.break_even
    if be is not None:
        if risk > 0:
            trigger = round_away(spec, entry + sign * be.at_rr * risk, sign)
            if reached(sign, extreme, trigger, spec):
                sl = round_away(spec, entry + sign * be.offset_pips * spec.pip, -sign)
                candidates.append((sl, "break-even"))
        else:
            notes.append("break-even skipped: the position had no initial stop loss")
    tr = rules.trailing
    if tr is not None:
        distance = _trail_distance(tr.distance_pips, tr.atr_mult, atr, spec)
        activation = _activation(tr.activation_pips, tr.activation_rr, risk, spec)
        if math.isnan(distance):
            notes.append(f"trailing skipped: ATR({rules.atr_period}) unknown")
        elif math.isnan(activation):
            notes.append("trailing skipped: activationRR needs an initial stop loss")
        elif sign * (extreme - entry) >= activation - spec.point / 2:
            sl = round_away(spec, extreme - sign * distance, -sign)
            if sl > 0:
                candidates.append((sl, "trailing"))
    if not candidates:
        return WantedStop(math.nan, (), tuple(notes))
    best = max(c[0] for c in candidates) if sign > 0 else min(c[0] for c in candidates)
    why = tuple(name for sl, name in candidates if abs(sl - best) < spec.point / 2)
    return WantedStop(best, why, tuple(notes))


def _trail_distance(
    pips: float | None, atr_mult: float | None, atr: float, spec: SymbolSpec
) -> float:
    if pips is not None:
        return pips * spec.pip
    if atr_mult is not None and math.isfinite(atr) and atr > 0:
        return atr_mult * atr
    return math.nan


def _activation(
    pips: float | None, rr: float | None, risk: float, spec: SymbolSpec
) -> float:
    if pips is not None:
        return pips * spec.pip
    if rr is not None:
        return rr * risk if risk > 0 else math.nan
    return -math.inf


def improves(sign: float, new: float, current: float, spec: SymbolSpec) -> bool:
    """True when ``new`` is a tighter stop than ``current`` (0.0 = no stop) by at least half a
    point."""
    if current <= 0.0:
        return new > 0.0
    return sign * (new - current) > spec.point / 2


@dataclass(frozen=True, slots=True)
class StopChange:
    """A stop the broker will accept (``sl``, NaN for "send nothing") and notes on why it was
    clamped or dropped."""

    sl: float
    notes: tuple[str, ...]


def broker_stop(
    side: Side,
    wanted: float,
    current_sl: float,
    current_tp: float,
    bid: float,
    ask: float,
    spec: SymbolSpec,
) -> StopChange:
    """Fit a wanted stop to the broker's rules against the current quote (MT5_API.md §7.2).

    - Only a tighter stop than ``current_sl`` is sent (the stop never loosens), and never one
      equal to it after rounding (retcode 10025 NO_CHANGES).
    - The new stop keeps :func:`stop_gap` from the quote (buy: bid − SL; sell: SL − ask); a stop
      nearer than that is clamped to the nearest allowed price when that still tightens the
      stop, otherwise nothing is sent.
    - The modify also sends the current TP (MT5 clears a TP left out): when that TP is now
      nearer to the market than the stops level, the broker would refuse the request (10016),
      so nothing is sent.

    The freeze level is checked by the caller (it also blocks closes).
    """
    sign = side_sign(side)
    notes: list[str] = []
    if math.isnan(wanted) or not improves(sign, wanted, current_sl, spec):
        return StopChange(math.nan, ())
    ref = bid if side == "buy" else ask
    limit = ref - sign * stop_gap(spec)
    sl = wanted
    if sign * (sl - limit) > spec.point / 2:  # nearer to the market than allowed
        clamped = round_away(spec, limit, -sign)
        if clamped > 0 and improves(sign, clamped, current_sl, spec):
            notes.append(
                f"stop {wanted:.{spec.digits}f} inside the stops level "
                f"({spec.stops_level} points): clamped to {clamped:.{spec.digits}f}"
            )
            sl = clamped
        else:
            notes.append(
                f"stop {wanted:.{spec.digits}f} inside the stops level "
                f"({spec.stops_level} points) and no tighter allowed stop: no modify"
            )
            return StopChange(math.nan, tuple(notes))
    if current_tp > 0.0:
        tp_room = sign * (current_tp - ref)
        if tp_room <= spec.point / 2 or tp_room < spec.stops_level * spec.point - spec.point / 2:
            notes.append(
                f"take profit {current_tp:.{spec.digits}f} within the stops level of the market: "
                "a modify would be refused (10016); no modify"
            )
            return StopChange(math.nan, tuple(notes))
    return StopChange(sl, tuple(notes))
