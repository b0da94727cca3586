"""The platform's LLM supervisor as the last look before an entry (remote control).

For every entry that passed the strategy's gate, the pre-trade triggers decide whether to ask
(:func:`~trademaestro.platform.triggers.pre_trade_reasons`): the spread within 10 % of the spread
filter's maximum, the ATR within 10 % of a volatility-filter bound, the daily loss above 80 % of
its limit, or correlated exposure (net lots already open in the symbol's currencies above the
entry's own). No reason: the entry goes without a call. Otherwise the supervisor decides within
its time budget (:class:`~trademaestro.platform.supervisor.Supervisor`: cached by context, the
fallback of its mode on timeout or error, every decision recorded); an entry is blocked only
when the effective action is not ``allow`` (``enforce`` mode).

The gate runs in the pipeline's worker thread; the supervisor's call runs on the event loop
(``asyncio.run_coroutine_threadsafe``), waiting at most the time budget plus one second.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import TimeoutError as FutureTimeout

from trademaestro.platform.supervisor import (
    FiltersContext,
    PositionsContext,
    RiskContext,
    Supervisor,
    SupervisorContext,
)
from trademaestro.platform.triggers import PreTrade, pre_trade_reasons
from trademaestro.runtime.review import EntryReview

log = logging.getLogger("trademaestro.platform.pretrade")


def _currencies(symbol: str) -> set[str]:
    """The two currencies of a six-letter FX/metal symbol (``XAUUSD`` → XAU, USD)."""
    core = symbol[:6].upper()
    return {core[:3], core[3:6]} if len(core) == 6 and core.isalpha() else {symbol.upper()}


def pre_trade_facts(review: EntryReview) -> PreTrade:
    """The trigger facts of an entry (units: points, price units, %, lots)."""
    spread_max = atr_min = atr_max = None
    for f in review.filters.filters:
        if f.name == "spread":
            spread_max = float(f.max_pips) * review.spec.pip / review.spec.point  # type: ignore[attr-defined]
        elif f.name == "volatility":
            atr_min, atr_max = f.min_atr, f.max_atr  # type: ignore[attr-defined]
    mine = _currencies(review.intent.symbol)
    related = sum(p.volume for p in review.positions if _currencies(p.symbol) & mine)
    return PreTrade(
        spread=review.spread_points if spread_max is not None else None,
        max_spread=spread_max,
        atr=review.atr if atr_min is not None or atr_max is not None else None,
        atr_min=atr_min,
        atr_max=atr_max,
        daily_loss_pct=review.daily_loss_pct,
        daily_loss_limit_pct=review.daily_loss_limit_pct,
        correlated_exposure=related if related > 0 else None,
        correlated_exposure_max=review.intent.volume if related > 0 else None,
    )


def context_of(review: EntryReview) -> SupervisorContext:
    """The supervisor context of an entry: only the contract's fields (no ticket, no id)."""
    intent = review.intent
    exposure: dict[str, float] = {}
    for p in review.positions:
        signed = p.volume if p.side == "buy" else -p.volume
        exposure[p.symbol] = round(exposure.get(p.symbol, 0.0) + signed, 8)
    return SupervisorContext(
        symbol=intent.symbol,
        timeframe=review.timeframe,
        proposed_action=f"open_{intent.side}",
        risk=RiskContext(
            lot=float(intent.volume),
            sl_pips=review.pips(intent.sl),
            tp_pips=review.pips(intent.tp),
            daily_loss_pct=review.daily_loss_pct,
        ),
        filters=FiltersContext(spread=round(review.spread_points, 3), atr=review.atr),
        positions_snapshot=PositionsContext(
            count=len(review.positions), exposure_by_symbol=exposure
        ),
    )


class SupervisorGate:
    """:data:`~trademaestro.runtime.review.ReviewFn` asking the platform's supervisor.

    Args:
        supervisor: the client (mode, budget, cache, records).
        loop: the event loop the supervisor's HTTP client lives on.
    """

    def __init__(self, supervisor: Supervisor, loop: asyncio.AbstractEventLoop) -> None:
        self.supervisor = supervisor
        self.loop = loop
        self.asked = 0
        self.blocked = 0

    def __call__(self, review: EntryReview) -> str | None:
        """None to send the entry, else why not (called from a worker thread)."""
        reasons = pre_trade_reasons(pre_trade_facts(review))
        if not reasons:
            return None
        self.asked += 1
        budget = self.supervisor.settings.timeout_ms / 1000.0 + 1.0
        future = asyncio.run_coroutine_threadsafe(
            self.supervisor.decide(context_of(review), reasons), self.loop
        )
        try:
            decision = future.result(budget)
        except (FutureTimeout, Exception) as exc:  # the supervisor itself never raises
            future.cancel()
            settings = self.supervisor.settings
            if settings.mode.value == "enforce":
                self.blocked += 1
                return f"supervisor unavailable ({exc!r}); enforce mode: not sent"
            log.error("supervisor unavailable for %s: %r; entry allowed", review.intent.symbol, exc)
            return None
        if decision.action.value == "allow":
            return None
        self.blocked += 1
        return f"supervisor {decision.action.value} ({decision.mode.value}): {decision.reason}"
