"""The position manager: partial take-profits, break-even, trailing stop and smart exits.

Pure functional core: no I/O, no clock. The shell calls :func:`manage` once per open position of
a strategy at each CLOSED bar of the strategy's timeframe ("bar-close management"), with the
quote of the first tick after that bar, and executes the intents in order (closes, then the
modify). Backtest, paper and live mode therefore manage positions identically.

Prices seen (the defined intrabar order of events)
    Bars are bid bars. A level is checked against the closed bar's best price for the trade on
    the side the position closes on: a buy's on the bid, so the bar's ``high``; a sell's on the
    ask, so the bar's ``low + spread`` (:attr:`ClosedBar.spread`, the bar's spread in price
    units; with 0 a sell is measured on the bid). The RR and ATR targets use the bar's
    ``close`` the same way (sell: ``close + spread``). Nothing that happened inside the bar is
    ordered: the bar counts as having reached its best price, and the SL/TP already at the
    broker are the broker's (or the emulator's) business; what is decided here takes effect from
    the next tick on.

Order of decisions within one call (the first that closes the position ends the call)
    1. Time exit: ``now − open_time >= maxHoldingHours × 3600`` → close everything (``time``).
    2. Targets: the bar's close reached entry ± ``rrTarget`` × initial risk, or entry ±
       ``atrTarget`` × the ATR at entry → close everything (``target``).
    3. Partial levels: every level not yet done whose price the bar's best price reached →
       ONE close of their summed volume (``partial``); volumes and the "done" rule in
       :mod:`trademaestro.execution.manage_volumes`.
    4. Break-even: once the best price reached entry ± ``atRR`` × initial risk, the SL goes to
       entry ± ``offset`` pips.
    5. Trailing: once the profit at the best price reached the activation (``activation`` pips
       or ``activationRR`` × initial risk; immediately when neither), the SL goes to best price ∓
       distance (``distance`` pips, or ``atrMult`` × ATR of the closed bar).
    Break-even and trailing combine to the tighter stop; the stop only ever moves in the trade's
    favour. At most one modify is sent, with the current TP (MT5 clears a TP left out).

Broker constraints (MT5_API.md §7.2)
    - Freeze level: when the position's SL or TP lies within ``freeze_level`` points of the
      market, the broker refuses to modify or close it (10029): nothing is sent (noted); the
      time exit and targets are retried at the next bar, partial levels when price gets there
      again.
    - Stops level: a new stop keeps ``stops_level + 1`` points from the quote (buy: bid − SL;
      sell: SL − ask; one point without a stops level), the same margin as
      :mod:`trademaestro.execution.levels`; a nearer one is clamped to the nearest allowed
      price when that still tightens the stop, else nothing is sent.
    - No no-op modifies (10025 NO_CHANGES): stops are compared after rounding to the tick grid,
      with a tolerance of half a point.

Client ids: :func:`trademaestro.execution.decide.client_id` with the kind ``p`` (partial), ``t``
(time), ``g`` (target) or ``m`` (modify) followed by the position ticket in base 36, so that two
positions of one strategy managed at the same bar never share an id:
``<tag>.<now b36>.<kind><ticket b36>0`` (at most 24 characters for tickets below 36**7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trademaestro.brokers.port import Position
from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.decide import base36, client_id
from trademaestro.execution.intents import CloseIntent, CloseReason, Intent, ModifyIntent, Side
from trademaestro.execution.manage_stops import (
    broker_stop,
    frozen,
    reached,
    round_away,
    side_sign,
    wanted_stop,
)
from trademaestro.execution.manage_volumes import partial_due, partial_schedule
from trademaestro.execution.management_rules import ManagementRules
from trademaestro.execution.plan import TradePlan


@dataclass(frozen=True, slots=True)
class ClosedBar:
    """The last closed bar: open ``time`` (server seconds), bid prices ``open``/``high``/``low``/
    ``close`` and the bar's ``spread`` in PRICE UNITS (MT5 rates give points: × point; 0.0 when
    unknown, which measures sells on the bid)."""

    time: int
    open: float
    high: float
    low: float
    close: float
    spread: float = 0.0

    @classmethod
    def from_rate(cls, rate: Any, point: float) -> ClosedBar:
        """From one record of MT5's rates array (:data:`trademaestro.core.bars.RATES_DTYPE`);
        ``point`` converts its ``spread`` column from points to price units."""
        return cls(
            int(rate["time"]),
            float(rate["open"]),
            float(rate["high"]),
            float(rate["low"]),
            float(rate["close"]),
            float(rate["spread"]) * point,
        )


@dataclass(frozen=True, slots=True)
class PositionMemo:
    """What the executor remembers of a position it opened (persist it with the position).

    Attributes:
        ticket: position ticket.
        side: ``buy`` or ``sell``.
        entry_price: fill price, price units.
        initial_sl: the SL set at open, price units (0.0 = none).
        initial_volume: lots at open.
        open_time: server seconds of the fill.
        atr_at_entry: ATR(rules.atr_period) of the last closed bar before the entry, price
            units (NaN when unknown or not needed).

    Raises:
        ValueError: a side other than buy/sell, a non-positive or non-finite entry price or
            initial volume, a negative or non-finite initial SL.
    """

    ticket: int
    side: Side
    entry_price: float
    initial_sl: float
    initial_volume: float
    open_time: int
    atr_at_entry: float = math.nan

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"position memo {self.ticket}: side {self.side!r}; allowed buy/sell")
        for name in ("entry_price", "initial_volume"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"position memo {self.ticket}: {name} {value!r}; allowed a number > 0"
                )
        if not math.isfinite(self.initial_sl) or self.initial_sl < 0:
            raise ValueError(
                f"position memo {self.ticket}: initial_sl {self.initial_sl!r}; "
                "allowed 0 (none) or a price > 0"
            )

    @property
    def initial_risk(self) -> float:
        """``|entry − initial SL|`` in price units; 0.0 without an initial SL."""
        return abs(self.entry_price - self.initial_sl) if self.initial_sl > 0 else 0.0

    @classmethod
    def from_position(cls, pos: Position, atr_at_entry: float = math.nan) -> PositionMemo:
        """The memo of a position as the broker reports it right after the open."""
        return cls(pos.ticket, pos.side, pos.price_open, pos.sl, pos.volume, pos.time,
                   atr_at_entry)


@dataclass(frozen=True, slots=True)
class ManagementDecision:
    """Intents to execute in order (closes first, then at most one modify) and notes on what was
    decided against and why."""

    intents: tuple[Intent, ...] = ()
    notes: tuple[str, ...] = ()


def manage(
    rules: ManagementRules,
    plan: TradePlan,
    pos: Position,
    memo: PositionMemo,
    bar: ClosedBar,
    *,
    now: int,
    bid: float,
    ask: float,
    atr: float,
    spec: SymbolSpec,
) -> ManagementDecision:
    """Manage one open position at a closed bar (semantics in the module docstring).

    Args:
        rules: the strategy's management rules.
        plan: the strategy's trade plan (ids, symbol, magic).
        pos: the position as the broker reports it now (current volume, SL, TP).
        memo: what was remembered at open (entry, initial SL and volume, open time).
        bar: the last closed bar (bid prices).
        now: server seconds of the current quote (first tick after the bar).
        bid, ask: the current quote, price units.
        atr: ATR(``rules.atr_period``) of the closed bar, price units (NaN when unknown).
        spec: the symbol specification.

    Returns:
        The intents and notes. An unusable quote (non-finite, bid <= 0 or ask < bid) gives no
        intent and a note.

    Raises:
        ValueError: the memo does not belong to the position (ticket or side differ).
    """
    if memo.ticket != pos.ticket or memo.side != pos.side:
        raise ValueError(
            f"position {pos.ticket} ({pos.side}) managed with the memo of position "
            f"{memo.ticket} ({memo.side})"
        )
    if not rules.active or pos.volume <= 0:
        return ManagementDecision()
    if not (math.isfinite(bid) and math.isfinite(ask) and bid > 0 and ask >= bid):
        return ManagementDecision((), (f"position {pos.ticket}: no usable quote ({bid}/{ask})",))
    if frozen(pos.side, pos.sl, pos.tp, bid, ask, spec):
        return ManagementDecision(
            (), (f"position {pos.ticket}: SL/TP within the freeze level "
                 f"({spec.freeze_level} points): not managed at this bar",)
        )

    sign = side_sign(pos.side)
    entry = memo.entry_price
    risk = memo.initial_risk
    extreme = bar.high if sign > 0 else bar.low + bar.spread
    close_price = bar.close if sign > 0 else bar.close + bar.spread
    notes: list[str] = []

    def close(volume: float, reason: CloseReason, kind: str) -> CloseIntent:
        return CloseIntent(
            strategy_id=plan.strategy_id,
            symbol=plan.symbol,
            ticket=pos.ticket,
            side=pos.side,
            volume=volume,
            magic=plan.magic,
            client_id=_id(plan, now, kind, pos.ticket),
            reason=reason,
        )

    # 1. time exit
    held = now - memo.open_time
    if rules.max_holding_seconds is not None and held >= rules.max_holding_seconds:
        notes.append(f"held {held} s >= maxHoldingHours ({rules.max_holding_seconds} s)")
        return ManagementDecision((close(pos.volume, "time", "t"),), tuple(notes))

    # 2. rr / atr targets on the bar's close
    hit = _target_hit(rules, sign, entry, risk, memo.atr_at_entry, close_price, spec, notes)
    if hit:
        notes.append(hit)
        return ManagementDecision((close(pos.volume, "target", "g"),), tuple(notes))

    intents: list[Intent] = []
    volume = pos.volume
    # 3. partial levels
    if rules.partials:
        schedule = partial_schedule(
            rules.partials, sign=sign, entry=entry, risk=risk,
            initial_volume=memo.initial_volume, spec=spec,
        )
        notes.extend(schedule.notes)
        due = partial_due(
            schedule, sign=sign, extreme=extreme, initial_volume=memo.initial_volume,
            current_volume=volume, spec=spec,
        )
        notes.extend(due.notes)
        if due.volume > 0:
            intents.append(close(due.volume, "partial", "p"))
            notes.append(f"partial levels {list(due.levels)} reached: close {due.volume:g} lots")
            volume = spec.floor_volume(max(0.0, volume - due.volume))
            if volume <= 0:
                return ManagementDecision(tuple(intents), tuple(notes))

    # 4 + 5. break-even and trailing
    if rules.break_even is not None or rules.trailing is not None:
        wanted = wanted_stop(rules, pos.side, entry, risk, extreme, atr, spec)
        notes.extend(wanted.notes)
        change = broker_stop(pos.side, wanted.sl, pos.sl, pos.tp, bid, ask, spec)
        notes.extend(change.notes)
        if not math.isnan(change.sl):
            intents.append(
                ModifyIntent(
                    strategy_id=plan.strategy_id,
                    symbol=plan.symbol,
                    ticket=pos.ticket,
                    sl=change.sl,
                    tp=pos.tp,
                    magic=plan.magic,
                    client_id=_id(plan, now, "m", pos.ticket),
                    reason="+".join(wanted.why) or "modify",
                )
            )
    return ManagementDecision(tuple(intents), tuple(notes))


def _target_hit(
    rules: ManagementRules,
    sign: float,
    entry: float,
    risk: float,
    atr_at_entry: float,
    close_price: float,
    spec: SymbolSpec,
    notes: list[str],
) -> str:
    """Why the rr/atr target closes the position now ("" when it does not)."""
    if rules.rr_target is not None:
        if risk > 0:
            level = round_away(spec, entry + sign * rules.rr_target * risk, sign)
            if reached(sign, close_price, level, spec):
                return f"rrTarget {rules.rr_target:g} reached: close {close_price} vs {level}"
        else:
            notes.append("rrTarget skipped: the position had no initial stop loss")
    if rules.atr_target is not None:
        if math.isfinite(atr_at_entry) and atr_at_entry > 0:
            level = round_away(spec, entry + sign * rules.atr_target * atr_at_entry, sign)
            if reached(sign, close_price, level, spec):
                return f"atrTarget {rules.atr_target:g} reached: close {close_price} vs {level}"
        else:
            notes.append("atrTarget skipped: ATR at entry unknown")
    return ""


def _id(plan: TradePlan, now: int, kind: str, ticket: int) -> str:
    """Client id of a management intent (form in the module docstring)."""
    return client_id(plan, now, f"{kind}{base36(ticket)}", 0)
