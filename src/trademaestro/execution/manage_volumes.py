"""Partial take-profit volumes: the schedule of a position's levels and the volume due at a bar.

Pure functions. Volumes in lots, prices in price units.

The schedule is computed from the position's INITIAL volume, so it is the same at every bar and
after a restart, and which levels are done is derived from the volume closed so far
(``initial − current``): no extra state is kept.

Rules, in this order (see :func:`partial_schedule`):

1. Each level's price is entry ± ``value`` × initial risk (``rr``) or ± ``value`` pips, rounded to
   the tick grid away from the entry; levels are taken in order of distance from the entry.
2. Each level's volume is ``initial × percentage / 100`` rounded DOWN to the volume step; when the
   percentages sum to 100, the last level takes what the others leave, so the position closes
   completely.
3. A level whose volume is below ``volume_min`` is merged into the next level (closed there); a
   remainder that no later level can absorb is never closed by the partial levels.
4. The volume left open after a level never falls below ``volume_min`` (it is 0 or at least the
   minimum): the level is first trimmed so that exactly ``volume_min`` stays open (the trimmed
   lots move to the next level) when the trimmed level is still a valid volume; otherwise it
   closes everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.manage_stops import reached, round_away
from trademaestro.execution.management_rules import PartialRule, sums_to_hundred


@dataclass(frozen=True, slots=True)
class LevelPlan:
    """One scheduled partial close.

    Attributes:
        price: trigger price, price units (reached when the bar's best price gets there).
        volume: lots closed at this level (0.0 when merged into the next level).
        cumulative: lots closed in total once this level is done (from the initial volume).
        rule: the level as written.
    """

    price: float
    volume: float
    cumulative: float
    rule: PartialRule


@dataclass(frozen=True, slots=True)
class Schedule:
    """The levels of one position, nearest first, and notes on adjustments."""

    levels: tuple[LevelPlan, ...]
    notes: tuple[str, ...]

    @property
    def total(self) -> float:
        """Lots the partial levels close in all (never more than the initial volume)."""
        return self.levels[-1].cumulative if self.levels else 0.0


def partial_schedule(
    partials: tuple[PartialRule, ...],
    *,
    sign: float,
    entry: float,
    risk: float,
    initial_volume: float,
    spec: SymbolSpec,
) -> Schedule:
    """The partial-close schedule of a position (rules in the module docstring).

    Args:
        partials: the levels as written.
        sign: +1 for a buy, −1 for a sell.
        entry: open price, price units.
        risk: initial risk ``|entry − initial SL|``, price units (``rr`` levels are skipped,
            with a note, when it is 0).
        initial_volume: the position's volume when opened, lots.
        spec: the symbol (pip, tick grid, volume step and minimum).
    """
    notes: list[str] = []
    usable: list[tuple[float, int, PartialRule]] = []
    for i, rule in enumerate(partials):
        if rule.kind == "rr":
            if risk <= 0:
                notes.append(f"partial level {i} (atRR {rule.value:g}) skipped: no initial stop")
                continue
            distance = rule.value * risk
        else:
            distance = rule.value * spec.pip
        usable.append((distance, i, rule))
    usable.sort(key=lambda item: (item[0], item[1]))
    if not usable:
        return Schedule((), tuple(notes))

    tol = spec.volume_step * 1e-6
    initial = spec.floor_volume(initial_volume)
    rules = tuple(rule for _, _, rule in usable)
    raw = [spec.floor_volume(initial * rule.percentage / 100.0) for rule in rules]
    if sums_to_hundred(rules):
        raw[-1] = spec.floor_volume(max(0.0, initial - sum(raw[:-1])))

    volumes: list[float] = []
    carry = 0.0
    closed = 0.0
    for i, share in enumerate(raw):
        v = spec.floor_volume(share + carry)
        carry = 0.0
        left = spec.floor_volume(initial - closed)
        v = min(v, left)
        if v < spec.volume_min - tol:
            carry, v = v, 0.0
        elif tol < left - v < spec.volume_min - tol:
            trimmed = spec.floor_volume(left - spec.volume_min)
            if trimmed >= spec.volume_min - tol:
                carry = spec.floor_volume(v - trimmed)
                v = trimmed
            else:
                v = spec.floor_volume(left)
            notes.append(
                f"partial level {i} set to {v:g} lots so that the position keeps 0 or at "
                f"least {spec.volume_min:g} lots"
            )
        closed = spec.floor_volume(closed + v)
        volumes.append(v)
    if carry > tol:
        notes.append(f"{carry:g} lots of the partial levels are below the minimum volume "
                     f"({spec.volume_min:g}) and stay open")

    levels: list[LevelPlan] = []
    cumulative = 0.0
    for (distance, _, rule), v in zip(usable, volumes, strict=True):
        cumulative = spec.floor_volume(cumulative + v)
        price = round_away(spec, entry + sign * distance, sign)
        levels.append(LevelPlan(price, v, cumulative, rule))
    return Schedule(tuple(levels), tuple(notes))


@dataclass(frozen=True, slots=True)
class PartialDue:
    """The partial close due at a bar: ``volume`` lots (0.0 for none), the level indices
    reached now, and notes."""

    volume: float
    levels: tuple[int, ...]
    notes: tuple[str, ...]


def partial_due(
    schedule: Schedule,
    *,
    sign: float,
    extreme: float,
    initial_volume: float,
    current_volume: float,
    spec: SymbolSpec,
) -> PartialDue:
    """Lots to close now: every level not yet done whose price ``extreme`` reached.

    A level is done when the volume closed so far (``initial − current``) covers its
    ``cumulative`` volume; all levels reached at once are closed by ONE deal (their sum). The
    volume is capped at the current volume; if it would leave less than ``volume_min`` open, the
    whole position is closed; if it is itself below ``volume_min`` (the position's volume no
    longer matches the schedule, e.g. after a manual partial close) the levels are skipped with
    a note.
    """
    tol = spec.volume_step * 1e-6
    closed = spec.floor_volume(max(0.0, initial_volume - current_volume))
    due_to = -1
    for i, level in enumerate(schedule.levels):
        if level.cumulative <= closed + tol or level.volume <= tol:
            continue
        if reached(sign, extreme, level.price, spec):
            due_to = i
    if due_to < 0:
        return PartialDue(0.0, (), ())
    indices = tuple(
        i for i in range(due_to + 1)
        if schedule.levels[i].cumulative > closed + tol and schedule.levels[i].volume > tol
    )
    volume = spec.floor_volume(min(schedule.levels[due_to].cumulative - closed, current_volume))
    left = current_volume - volume
    if tol < left < spec.volume_min - tol:
        volume = spec.floor_volume(current_volume)
    if volume < spec.volume_min - tol:
        return PartialDue(
            0.0, (), (f"partial levels {list(indices)} skipped: {volume:g} lots is below the "
                      f"minimum volume ({spec.volume_min:g})",)
        )
    return PartialDue(volume, indices, ())
