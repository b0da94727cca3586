"""Shared values of the position-manager tests: the XAUUSD spec, a plan, position builders and a
small simulation that applies the manager's intents to a fake position bar by bar."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from trademaestro.brokers.port import Position
from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.intents import CloseIntent, Intent, ModifyIntent, Side
from trademaestro.execution.management import ClosedBar, PositionMemo, manage
from trademaestro.execution.management_rules import ManagementRules
from trademaestro.execution.plan import SizingRule, TradePlan

XAU = SymbolSpec(
    name="XAUUSD",
    digits=2,
    point=0.01,
    tick_size=0.01,
    tick_value=1.0,
    contract_size=100.0,
    volume_min=0.01,
    volume_max=100.0,
    volume_step=0.01,
)
PLAN = TradePlan(
    strategy_id="mgmt-test",
    symbol="XAUUSD",
    magic=4242,
    tag="3ra",
    stop=None,
    target=None,
    sizing=SizingRule(lot_size=0.23),
)
TICKET = 123456789


def memo_for(
    side: Side,
    entry: float,
    initial_sl: float,
    volume: float,
    open_time: int,
    atr_at_entry: float = math.nan,
    ticket: int = TICKET,
) -> PositionMemo:
    """A memo for a position opened at ``entry``."""
    return PositionMemo(ticket, side, entry, initial_sl, volume, open_time, atr_at_entry)


def position(memo: PositionMemo, *, volume: float, sl: float, tp: float = 0.0) -> Position:
    """The broker's view of the memo's position with the given current volume and levels."""
    return Position(memo.ticket, "XAUUSD", memo.side, volume, memo.entry_price, sl, tp,
                    memo.open_time, PLAN.magic, "tm x", 0.0, 0.0)


def bar_at(rates: np.ndarray, k: int, spec: SymbolSpec = XAU) -> ClosedBar:
    """Bar ``k`` of the rates as a closed bar (spread in price units)."""
    return ClosedBar.from_rate(rates[k], spec.point)


def quote_after(rates: np.ndarray, k: int, spec: SymbolSpec = XAU) -> tuple[int, float, float]:
    """(time, bid, ask) of the first tick after bar ``k``: bar ``k+1``'s open and spread."""
    nxt = rates[k + 1]
    bid = float(nxt["open"])
    return int(nxt["time"]), bid, round(bid + int(nxt["spread"]) * spec.point, spec.digits)


@dataclass
class SimResult:
    """What happened to the fake position: each bar's intents, the SL and volume after each
    bar, the closes, the modifies (with the SL before them) and the quote of each modify."""

    intents: list[tuple[int, tuple[Intent, ...]]] = field(default_factory=list)
    sls: list[float] = field(default_factory=list)
    volumes: list[float] = field(default_factory=list)
    closes: list[CloseIntent] = field(default_factory=list)
    modifies: list[tuple[float, ModifyIntent]] = field(default_factory=list)
    quotes: list[tuple[int, float, float]] = field(default_factory=list)
    stopped_at: int | None = None


def simulate(
    rules: ManagementRules,
    rates: np.ndarray,
    memo: PositionMemo,
    first_bar: int,
    n_bars: int,
    *,
    spec: SymbolSpec = XAU,
    atr: np.ndarray | None = None,
    tp: float = 0.0,
) -> SimResult:
    """Run the manager at the close of bars ``first_bar .. first_bar + n_bars − 1`` and apply
    its intents to a fake position (closes reduce the volume, modifies set the SL). The
    position's SL is hit when a later bar's low (buy) / high + spread (sell) reaches it."""
    out = SimResult()
    volume, sl = memo.initial_volume, memo.initial_sl
    for k in range(first_bar, min(first_bar + n_bars, len(rates) - 1)):
        bar = bar_at(rates, k, spec)
        if k > first_bar and sl > 0:
            hit = bar.low <= sl if memo.side == "buy" else bar.high + bar.spread >= sl
            if hit:
                out.stopped_at = k
                break
        now, bid, ask = quote_after(rates, k, spec)
        a = float(atr[k]) if atr is not None else math.nan
        pos = position(memo, volume=volume, sl=sl, tp=tp)
        decision = manage(rules, PLAN, pos, memo, bar, now=now, bid=bid, ask=ask, atr=a,
                          spec=spec)
        out.intents.append((k, decision.intents))
        for intent in decision.intents:
            if isinstance(intent, CloseIntent):
                assert intent.volume <= volume + 1e-9
                volume = spec.floor_volume(volume - intent.volume + 1e-9)
                out.closes.append(intent)
            elif isinstance(intent, ModifyIntent):
                out.modifies.append((sl, intent))
                out.quotes.append((k, bid, ask))
                sl = intent.sl
        out.sls.append(sl)
        out.volumes.append(volume)
        if volume <= 0:
            break
    return out
