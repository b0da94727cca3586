"""The decision core for one strategy on one symbol at one closed bar: signals in, intents out.

Pure: no I/O, no clock. The shell gathers the inputs (signals of the last closed bar, the current
quote, the strategy's open positions, equity, the symbol spec) and executes what comes out, in
order: closes first, then opens.

Order of decisions at a closed bar:
1. exit ``conditions`` hold -> close every open position of the strategy (reason ``rule``);
2. otherwise, with ``closeOnOppositeSignal``, an entry signal in the other direction closes the
   positions of the opposite side (reason ``signal``);
3. (the shell runs the position manager on the positions left open, see
   :mod:`trademaestro.execution.management`)
4. an entry signal opens a position when fewer than ``max_positions`` remain open and the
   :class:`EntryGate` (risk state, filters) allows it, sized by
   :func:`trademaestro.risk.sizing.size_entry`; buy and sell signals on the same bar cancel out
   (no trade, noted).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from trademaestro.brokers.port import Position
from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.intents import CloseIntent, CloseReason, Intent, OpenIntent, Side
from trademaestro.execution.levels import compute_levels
from trademaestro.execution.plan import TradePlan
from trademaestro.risk.sizing import size_entry

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(n: int) -> str:
    """Non-negative integer in base 36 (lower case)."""
    if n < 0:
        raise ValueError("base36 of a negative number")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


def client_id(plan: TradePlan, time: int, kind: str, n: int) -> str:
    """Deterministic client id ``<tag>.<time b36>.<kind><n>`` (at most 24 characters).

    The same decision at the same bar always yields the same id, which is what lets a restarted
    executor recognise an order it already sent."""
    return f"{plan.tag}.{base36(time)}.{kind}{n}"


@dataclass(frozen=True, slots=True)
class BarInput:
    """What the core sees at a closed bar.

    Attributes:
        time: decision time (server seconds: the first tick after the bar closed).
        bid, ask: current quote, price units.
        entry: entry signal per side on the last closed bar.
        exit_rule: the exit conditions hold on the last closed bar.
        atr: ATR of the stop rule's period on the last closed bar (NaN if not needed/unknown).
        positions: the strategy's open positions on this symbol.
        equity: account equity, account currency.
        spec: symbol specification (tick value current).
    """

    time: int
    bid: float
    ask: float
    entry: Mapping[Side, bool]
    exit_rule: bool
    atr: float
    positions: Sequence[Position]
    equity: float
    spec: SymbolSpec


@dataclass(frozen=True, slots=True)
class EntryGate:
    """What the shell decided about entries before sizing (risk state, filters, sizing inputs).

    Attributes:
        allowed: False when the risk state or a filter forbids new entries.
        reason: why not (or the filters' reasons), for the log.
        multiplier: size multiplier in (0, 1] from the filters and the volatility rule.
        kelly_percent: risk % from the Kelly sizer, None to use the configured sizing.
        sizing_atr: ATR(``atr_period``) of the last closed bar for ATR sizing (NaN if unused).
    """

    allowed: bool = True
    reason: str = ""
    multiplier: float = 1.0
    kelly_percent: float | None = None
    sizing_atr: float = math.nan


OPEN_GATE = EntryGate()


@dataclass(frozen=True, slots=True)
class Decision:
    """Intents to execute in order, and notes on what was decided against and why."""

    intents: tuple[Intent, ...] = ()
    notes: tuple[str, ...] = field(default=())


def decide_exits(plan: TradePlan, bar: BarInput) -> tuple[list[Intent], list[Position]]:
    """Rule and opposite-signal closes; returns the close intents and the positions left open."""
    intents: list[Intent] = []
    if not bar.positions:
        return intents, []
    if bar.exit_rule:
        for pos in bar.positions:
            intents.append(close_intent(plan, bar.time, pos, "rule", len(intents)))
        return intents, []
    if not plan.close_on_opposite:
        return intents, list(bar.positions)
    keep = []
    for pos in bar.positions:
        opposite: Side = "sell" if pos.side == "buy" else "buy"
        if bar.entry.get(opposite, False):
            intents.append(close_intent(plan, bar.time, pos, "signal", len(intents)))
        else:
            keep.append(pos)
    return intents, keep


def decide_entries(
    plan: TradePlan, bar: BarInput, open_count: int, gate: EntryGate = OPEN_GATE
) -> Decision:
    """Entry intents for the bar's signals, given how many positions remain open."""
    intents: list[Intent] = []
    notes: list[str] = []
    sides: tuple[Side, Side] = ("buy", "sell")
    wanted = [side for side in sides if bar.entry.get(side, False)]
    if len(wanted) == 2:
        return Decision((), ("buy and sell signals on the same bar: no entry",))
    for side in wanted:
        if open_count >= plan.max_positions:
            notes.append(f"{side} signal skipped: maxPositions {plan.max_positions} reached")
            continue
        if not gate.allowed:
            notes.append(f"{side} signal skipped: {gate.reason}")
            continue
        entry = bar.ask if side == "buy" else bar.bid
        levels = compute_levels(
            side, entry, bar.bid, bar.ask, bar.spec, plan.stop, plan.target, bar.atr
        )
        if not levels.ok:
            notes.append(f"{side} signal skipped: {'; '.join(levels.notes)}")
            continue
        notes.extend(levels.notes)
        size = size_entry(
            plan.sizing,
            bar.spec,
            bar.equity,
            levels.stop_distance,
            atr=gate.sizing_atr,
            multiplier=gate.multiplier,
            kelly_percent=gate.kelly_percent,
        )
        if size.volume <= 0 or not math.isfinite(size.volume):
            notes.append(f"{side} signal skipped: {size.reason}")
            continue
        intents.append(
            OpenIntent(
                strategy_id=plan.strategy_id,
                symbol=plan.symbol,
                side=side,
                volume=size.volume,
                sl=levels.sl,
                tp=levels.tp,
                magic=plan.magic,
                client_id=client_id(plan, bar.time, "o", len(intents)),
                price=entry,
                reason=f"{side} signal; {size.reason}",
            )
        )
        open_count += 1
    return Decision(tuple(intents), tuple(notes))


def decide(plan: TradePlan, bar: BarInput, gate: EntryGate = OPEN_GATE) -> Decision:
    """Rule/opposite closes then entries for one closed bar (see the module docstring)."""
    closes, remaining = decide_exits(plan, bar)
    entries = decide_entries(plan, bar, len(remaining), gate)
    return Decision((*closes, *entries.intents), entries.notes)


def close_intent(
    plan: TradePlan, time: int, pos: Position, reason: CloseReason, n: int, kind: str = "c"
) -> CloseIntent:
    """The intent closing all of ``pos`` for ``reason``; client id ``<tag>.<time>.<kind><n>``."""
    return CloseIntent(
        strategy_id=plan.strategy_id,
        symbol=plan.symbol,
        ticket=pos.ticket,
        side=pos.side,
        volume=pos.volume,
        magic=plan.magic,
        client_id=client_id(plan, time, kind, n),
        reason=reason,
    )
