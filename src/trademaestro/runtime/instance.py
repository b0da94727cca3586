"""One strategy on one symbol: signals -> decision core -> broker, shared by every driver.

Both the backtest loop and the paper/live runtime act at each closed bar while the broker's
quote is the first tick after that bar, through the same phases; that shared path is what makes
``backtest`` and ``run --speed 0`` trade identically.

At a closed bar, in order (:class:`~trademaestro.runtime.barwork.BarWork` carries the state):
1. **manage** — the instance's positions are read from the broker; positions that closed or
   shrank since the last look (SL, TP, stop-out, partial closes) are settled from their deals;
   the daily-loss guard is updated (realized today + floating); exit conditions / opposite
   signals close positions (:func:`decide_exits`) and the position manager handles the rest
   (time exits, targets, partial take-profits, break-even, trailing) unless the account is
   halted — decided, not yet sent;
2. **execute** — those intents are sent in order (an accepted close frees its slot and starts
   the cooldown);
3. **gate** — entry signals pass the risk state, the entry blockers, the filter chain (session,
   spread, volatility, correlation, news, cooldown), the volatility and Kelly sizing inputs, are
   sized (:func:`decide_entries`) and get the last look (:attr:`StrategyInstance.entry_review`);
4. **execute** — the approved entries are sent.
The paper/live pipelines run each phase in its own stage (:mod:`.actstages`); backtests run
them in a row (:meth:`StrategyInstance.on_bar`). Every decision against a trade is logged with
its reason.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from trademaestro.brokers.port import BrokerPort, OrderOutcome, Position, Quote
from trademaestro.execution.decide import (
    OPEN_GATE,
    BarInput,
    EntryGate,
    close_intent,
    decide_entries,
    decide_exits,
)
from trademaestro.execution.intents import CloseIntent, CloseReason, Intent, OpenIntent, Side
from trademaestro.execution.management import PositionMemo, manage
from trademaestro.execution.management_rules import ManagementRules
from trademaestro.execution.plan import TradePlan
from trademaestro.filters.base import EntryContext
from trademaestro.filters.chain import FilterChain
from trademaestro.indicators.keys import SeriesKey
from trademaestro.risk.account import AccountRiskState
from trademaestro.risk.kelly import KellyStats, kelly_risk_percent
from trademaestro.risk.limits import RiskLimits
from trademaestro.risk.volatility import rule_multiplier
from trademaestro.runtime.accounting import Books
from trademaestro.runtime.barstore import BarStore
from trademaestro.runtime.barwork import BarWork
from trademaestro.runtime.recording import Recorder
from trademaestro.runtime.review import EntryReview, ReviewFn
from trademaestro.runtime.signals import SignalSource, StreamingSignals
from trademaestro.strategy.rules import Condition

log = logging.getLogger("trademaestro.instance")


class StrategyInstance:
    """Acts on one strategy's signals for one symbol through the broker adapter.

    Args:
        plan: the trading plan (exits, sizing, limits, magic number).
        store: the instance's closed bars and series.
        management: position-management rules.
        filters: the entry filter chain.
        risk: the account's risk state (shared by all instances of a run); the instance's
            daily-loss guard is registered under ``key``.
        adapter: the broker.
        recorder: where orders are recorded.
        stop_atr: the ATR series an ``atr`` stop needs, if any.
        open_symbols: returns the symbols in which the account holds positions (correlation).
        key: the instance's id: the strategy id, ``<strategy id>@<symbol>`` when the strategy
            runs on several symbols.
        risk_limits: the strategy's limits (they decide which books the instance must keep).
    """

    def __init__(
        self,
        *,
        plan: TradePlan,
        store: BarStore,
        management: ManagementRules,
        filters: FilterChain,
        risk: AccountRiskState,
        adapter: BrokerPort,
        recorder: Recorder,
        stop_atr: SeriesKey | None,
        open_symbols: Callable[[], frozenset[str]],
        key: str,
        risk_limits: RiskLimits | None = None,
    ) -> None:
        self.key = key
        self.plan = plan
        self.store = store
        self.management = management
        self.filters = filters
        self.risk = risk
        self.adapter = adapter
        self.recorder = recorder
        self.stop_atr = stop_atr
        self.open_symbols = open_symbols
        risk_limits = risk_limits or RiskLimits(None, None, None)
        self.risk_limits = risk_limits
        self.books = Books()
        self.signals: SignalSource | None = None
        # The rule trees (entry by side, exit), for intrabar evaluation on a scratch store.
        self.rules: tuple[dict[Side, Condition], Condition | None] | None = None
        self._entered_bar = -1
        # The exactly-once order path (journal + safe calls) of paper/live runs; None sends
        # through the adapter directly (backtests).
        self.orders: Any = None
        # Callables returning a reason (str) while new entries must wait: the connection circuit
        # breaker, the pipeline's error escalation. Exits and management go on.
        self.entry_blockers: list[Callable[[], str | None]] = []
        self.maybe_open = False
        # The last look before an entry is sent (remote control: the platform's supervisor).
        self.entry_review: ReviewFn | None = None
        # Position management acts on every closed bar while positions are open; without it
        # the instance only needs to act on bars with a signal (closes are settled then).
        self.every_bar = management.active
        self.orders_sent = 0
        self.orders_rejected = 0
        self.first_rejection: str | None = None
        self._mgmt_atr = SeriesKey("atr", (management.atr_period,))
        self._filter_atr = {p: SeriesKey("atr", (p,)) for p in filters.atr_periods()}
        sizing = plan.sizing
        self._sizing_atr = (
            SeriesKey("atr", (sizing.atr_period,)) if sizing.atr_multiplier is not None else None
        )
        self._needs_open_symbols = any(f.name == "correlation" for f in filters.filters)
        # Nothing to check before sizing: no filter, no volatility rule, no Kelly, no ATR sizing.
        self._plain_gate = (
            not filters.filters
            and sizing.volatility_threshold is None
            and sizing.kelly is None
            and sizing.atr_multiplier is None
        )
        limits = risk_limits
        # The books (realized P/L today, closed results, last trade time) are needed by the
        # daily loss limits, the Kelly sizer and the cooldown filter; otherwise closed positions
        # are only forgotten, without reading their deals.
        self._needs_books = (
            limits.max_daily_loss is not None
            or limits.max_daily_loss_percent is not None
            or sizing.kelly is not None
            or any(f.name == "cooldown" for f in filters.filters)
        )

    # -- the bar -----------------------------------------------------------------------------
    def on_bar(self, i: int) -> None:
        """Decide and act at closed bar ``i`` (the broker's quote is the next bar's first tick)."""
        signals = self.signals
        assert signals is not None, "the driver sets the signal source"
        self._act(i, signals.entry_at(i), signals.exit_at(i), self.store)

    def act(self, i: int, entry: dict[Side, bool], exit_rule: bool) -> None:
        """Act at closed bar ``i`` on signals evaluated elsewhere (the pipeline's evaluate stage;
        same decisions as :meth:`on_bar`)."""
        self._act(i, entry, exit_rule, self.store)

    def on_intrabar(self, forming: np.ndarray) -> None:
        """Evaluate the forming bar (intrabar mode): its series come from a scratch copy of the
        bar store extended with the bar so far (``forming``: one RATES record, the broker's
        ``copy_rates_from_pos(symbol, timeframe, 0, 1)``); crosses compare the last closed bar
        with the forming one, and the position manager sees the forming bar's extremes so far.
        At most one entry per bar: the bar's close does not enter again."""
        if self.rules is None:
            raise RuntimeError("intrabar evaluation needs the instance's rules")
        scratch = self.store.with_forming(forming)
        entry_rules, exit_rules = self.rules
        signals = StreamingSignals(scratch.engine, entry_rules, exit_rules)
        b = len(scratch) - 1
        self._act(b, signals.entry_at(b), signals.exit_at(b), scratch)

    def _act(self, i: int, entry: dict[Side, bool], exit_rule: bool, store: BarStore) -> None:
        """The bar's phases in order, synchronously (backtests, intrabar, :meth:`act`)."""
        work = self.begin(i, entry, exit_rule, store)
        if work is None or not self.manage_phase(work):
            return
        if work.intents:
            self.execute_phase(work)
        if work.wants_entry:
            self.gate_phase(work)
            if work.intents:
                self.execute_phase(work)

    # -- the phases (the pipeline runs each in its own stage) ----------------------------------
    def begin(
        self, i: int, entry: dict[Side, bool], exit_rule: bool, store: BarStore | None = None
    ) -> BarWork | None:
        """The bar's work, or None when there is nothing to do at bar ``i`` (no exit or entry
        signal, and no position to manage). No broker call."""
        wants_entry = entry.get("buy", False) or entry.get("sell", False)
        if not (exit_rule or wants_entry or (self.maybe_open and self.every_bar)):
            return None
        return BarWork(i, entry, exit_rule, store or self.store, wants_entry)

    def manage_phase(self, work: BarWork) -> bool:
        """Read the broker (positions, quote, account, symbol), settle closed positions, update
        the daily-loss guard, and decide the exits and the position manager's intents (into
        ``work.intents``, not sent). False when the bar needs nothing more."""
        plan = self.plan
        adapter = self.adapter
        positions = adapter.positions(symbol=plan.symbol, magic=plan.magic)
        if self.books.volumes:
            self._settle(positions)
        self.maybe_open = bool(positions)
        if not positions and not work.wants_entry:
            return False
        quote = adapter.quote(plan.symbol)
        account = adapter.account()
        spec = adapter.symbol_spec(plan.symbol)
        if spec.currency_profit != account.currency:
            # The tick value of a symbol quoted in another currency moves with the rate.
            spec = adapter.symbol_spec(plan.symbol, refresh=True)
        if self._needs_books:
            floating = sum(p.profit + p.swap for p in positions)
            for event in self.risk.update_strategy(
                self.key, quote.time, self.books.realized(quote.time), floating
            ):
                log.warning("%s: %s", plan.strategy_id, event.reason)
        store, i = work.store, work.i
        stop_atr = store.value(self.stop_atr, i) if self.stop_atr is not None else math.nan
        bar = BarInput(
            time=quote.time,
            bid=quote.bid,
            ask=quote.ask,
            entry=work.entry,
            exit_rule=work.exit_rule,
            atr=stop_atr,
            positions=positions,
            equity=account.equity,
            spec=spec,
        )
        work.quote, work.bar = quote, bar
        closes, remaining = decide_exits(plan, bar)
        work.intents = closes
        work.frees = [False] * len(closes)
        work.open_count = len(remaining)
        if remaining and self.management.active and self.risk.can_manage(self.key):
            self._manage(work, remaining)
        bar_time = store.times[i]
        if work.wants_entry and bar_time == self._entered_bar:
            log.info("%s %s: already entered on this bar", plan.strategy_id, plan.symbol)
            work.wants_entry = False
        return bool(work.intents) or work.wants_entry

    def gate_phase(self, work: BarWork) -> None:
        """The entry gate (risk state, blockers, filters, sizing inputs), the decision core's
        entries, and the last look (:attr:`entry_review`); the approved entries go into
        ``work.intents`` (not sent)."""
        plan = self.plan
        quote, bar = work.quote, work.bar
        assert quote is not None and bar is not None, "manage_phase reads the broker first"
        gate = (
            self._gate(work.i, work.entry, quote, bar, work.store)
            if work.open_count < plan.max_positions
            else OPEN_GATE
        )
        decision = decide_entries(plan, bar, work.open_count, gate)
        for note in decision.notes:
            log.info("%s %s: %s", plan.strategy_id, plan.symbol, note)
        approved: list[Intent] = []
        for intent in decision.intents:
            if self.entry_review is not None and isinstance(intent, OpenIntent):
                why = self.entry_review(self._review(intent, quote, bar, work.store, work.i))
                if why:
                    log.warning("%s %s: entry not sent: %s", plan.strategy_id, plan.symbol, why)
                    continue
            approved.append(intent)
        work.intents, work.frees, work.entering = approved, [False] * len(approved), True

    def execute_phase(self, work: BarWork) -> None:
        """Send ``work.intents`` in order through the order path and record them; an accepted
        management close frees its ``maxPositions`` slot, an accepted entry marks the bar as
        entered. ``work.intents`` is empty afterwards."""
        quote = work.quote
        assert quote is not None, "manage_phase reads the broker first"
        intents, frees = work.intents, work.frees
        work.intents, work.frees = [], []
        for intent, frees_slot in zip(intents, frees, strict=True):
            if work.entering:
                if self.execute(intent, quote, work.i, work.store):
                    self._entered_bar = work.store.times[work.i]
            elif self.execute(intent, quote) and frees_slot:
                work.open_count -= 1

    def _manage(self, work: BarWork, positions: list[Position]) -> None:
        """Run the position manager: its intents join ``work.intents`` (a close of a whole
        position frees a slot once accepted)."""
        quote = work.quote
        assert quote is not None
        bar = work.store.closed_bar(work.i)
        atr = work.store.value(self._mgmt_atr, work.i)
        spec = self.adapter.symbol_spec(self.plan.symbol)
        for pos in positions:
            memo = self.books.memos.get(pos.ticket)
            if memo is None:
                memo = PositionMemo.from_position(pos, math.nan)
                self.books.memos[pos.ticket] = memo
                self.books.volumes.setdefault(pos.ticket, pos.volume)
            decision = manage(
                self.management,
                self.plan,
                pos,
                memo,
                bar,
                now=quote.time,
                bid=quote.bid,
                ask=quote.ask,
                atr=atr,
                spec=spec,
            )
            for note in decision.notes:
                log.info("%s %s #%d: %s", self.plan.strategy_id, pos.symbol, pos.ticket, note)
            for intent in decision.intents:
                work.intents.append(intent)
                work.frees.append(
                    isinstance(intent, CloseIntent) and intent.volume >= pos.volume - 1e-9
                )

    def _gate(
        self, i: int, entry: dict[Side, bool], quote: Quote, bar: BarInput, store: BarStore
    ) -> EntryGate:
        """Risk state, filters and sizing inputs for an entry at bar ``i``."""
        plan = self.plan
        allowed, reason = self.risk.can_enter(self.key)
        if not allowed:
            return EntryGate(False, reason)
        for blocker in self.entry_blockers:
            why = blocker()
            if why:
                return EntryGate(False, why)
        if self._plain_gate:
            return OPEN_GATE
        side: Side = "buy" if entry.get("buy", False) else "sell"
        result = self.filters.evaluate(
            EntryContext(
                strategy_id=plan.strategy_id,
                symbol=plan.symbol,
                side=side,
                time=quote.time,
                bid=quote.bid,
                ask=quote.ask,
                spec=bar.spec,
                atr={p: store.value(k, i) for p, k in self._filter_atr.items()},
                last_trade_time=self.books.last_trade_time,
                open_symbols=self.open_symbols() if self._needs_open_symbols else frozenset(),
            )
        )
        for verdict in result.verdicts:
            log.info(
                "%s %s filter %s: %s (%s)",
                plan.strategy_id,
                plan.symbol,
                verdict.name,
                "allow" if verdict.allow else "deny",
                verdict.reason,
            )
        if not result.allow:
            return EntryGate(False, result.reason)
        multiplier = result.multiplier
        sizing = plan.sizing
        if sizing.volatility_threshold is not None:
            atr_now, atr_avg = store.volatility(i)
            vol_mult, vol_reason = rule_multiplier(sizing, atr_now, atr_avg)
            multiplier *= vol_mult
            if vol_mult < 1.0:
                log.info("%s %s: %s", plan.strategy_id, plan.symbol, vol_reason)
        kelly_percent: float | None = None
        if sizing.kelly is not None:
            stats = KellyStats.from_trades(self.books.results)
            kelly_percent, kelly_reason = kelly_risk_percent(
                stats, sizing.kelly, sizing.risk_percentage
            )
            log.info("%s %s: %s", plan.strategy_id, plan.symbol, kelly_reason)
            if kelly_percent is not None and kelly_percent <= 0:
                return EntryGate(False, kelly_reason)
        sizing_atr = store.value(self._sizing_atr, i) if self._sizing_atr is not None else math.nan
        return EntryGate(True, result.reason, multiplier, kelly_percent, sizing_atr)

    def _review(
        self, intent: OpenIntent, quote: Quote, bar: BarInput, store: BarStore, i: int
    ) -> EntryReview:
        """The facts of an entry for :attr:`entry_review`."""
        atr = next((store.value(k, i) for k in self._filter_atr.values()), None)
        loss_pct: float | None = None
        limits = self.risk_limits
        equity0 = self.risk.day_start_equity
        if self._needs_books and equity0:
            floating = sum(p.profit + p.swap for p in bar.positions)
            loss_pct = -(self.books.realized(quote.time) + floating) / equity0 * 100.0
        limit_pct = limits.max_daily_loss_percent
        if limit_pct is None and limits.max_daily_loss is not None and equity0:
            limit_pct = limits.max_daily_loss / equity0 * 100.0
        return EntryReview(
            intent=intent,
            timeframe=self.store.timeframe.name,
            bid=quote.bid,
            ask=quote.ask,
            spec=bar.spec,
            atr=atr if atr is not None and math.isfinite(atr) else None,
            filters=self.filters,
            daily_loss_pct=loss_pct,
            daily_loss_limit_pct=limit_pct,
            positions=tuple(self.adapter.positions()),
        )

    def _settle(self, positions: list[Position]) -> None:
        """Settle remembered positions that closed or shrank (from their deals when the books
        are needed, else just forget the closed ones)."""
        if not self._needs_books:
            self.books.forget_closed(positions)
            return
        for ticket in self.books.changed(positions):
            deals = self.adapter.position_deals(ticket)
            if self.books.settle(ticket, deals, positions):
                close_time = max((int(d["time"]) for d in deals), default=0)
                self.recorder.position_closed(ticket, close_time)

    # -- orders ------------------------------------------------------------------------------
    def execute(
        self,
        intent: Intent,
        quote: Quote,
        bar_index: int | None = None,
        store: BarStore | None = None,
    ) -> bool:
        """Send one intent, record it; returns True when the broker accepted it."""
        outcome = send_intent(intent, self.orders, self.adapter)
        self.orders_sent += 1
        self.recorder.order(intent, outcome, quote.time)
        if outcome.ok:
            if isinstance(intent, OpenIntent):
                self._opened(
                    intent, outcome.order, outcome.price, outcome.volume, quote, bar_index, store
                )
            elif isinstance(intent, CloseIntent):
                self.books.last_trade_time = quote.time
            return True
        self.orders_rejected += 1
        what = (
            f"retcode {outcome.retcode} ({outcome.comment})"
            if outcome.retcode is not None
            else f"no result, last_error {outcome.error}"
        )
        message = (
            f"{intent.strategy_id}: {type(intent).__name__} {intent.client_id} on "
            f"{intent.symbol} rejected by the broker: {what}; request {outcome.request}"
        )
        if self.first_rejection is None:
            self.first_rejection = message
        log.warning("%s", message)
        return False

    def _opened(
        self,
        intent: OpenIntent,
        ticket: int,
        price: float,
        volume: float,
        quote: Quote,
        bar_index: int | None,
        store: BarStore | None,
    ) -> None:
        atr = math.nan
        if bar_index is not None and self.management.active:
            atr = (store or self.store).value(self._mgmt_atr, bar_index)
        memo = PositionMemo(ticket, intent.side, price, intent.sl, volume, quote.time, atr)
        self.books.opened(memo)
        self.maybe_open = True

    def close_all(self, reason: str, time: int) -> list[int]:
        """Close every open position of the instance (end of data, emergency stop, stop);
        returns the tickets the broker closed."""
        plan = self.plan
        quote = self.adapter.quote(plan.symbol)
        kind = {"end": "e", "risk": "r"}.get(reason, "x")
        why: CloseReason = "end" if reason == "end" else "risk" if reason == "risk" else "manual"
        positions = self.adapter.positions(symbol=plan.symbol, magic=plan.magic)
        return [
            pos.ticket
            for n, pos in enumerate(positions)
            if self.execute(close_intent(plan, time, pos, why, n, kind), quote)
        ]


def send_intent(intent: Intent, orders: Any, broker: BrokerPort) -> OrderOutcome:
    """Send one intent through the exactly-once executor ``orders`` (paper/live) or, when it is
    None, straight to ``broker`` (backtests)."""
    if orders is not None:
        if isinstance(intent, OpenIntent):
            return cast(OrderOutcome, orders.open(intent))
        if isinstance(intent, CloseIntent):
            return cast(OrderOutcome, orders.close(intent))
        return cast(OrderOutcome, orders.modify(intent))
    if isinstance(intent, OpenIntent):
        return broker.open_market(intent)
    if isinstance(intent, CloseIntent):
        return broker.close_position(intent)
    return broker.modify_sltp(intent)
