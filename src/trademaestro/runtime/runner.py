"""One strategy on one symbol: signals -> decision core -> broker, shared by every driver.

Both the backtest loop and the paper/live runtime call :meth:`StrategyRunner.on_bar` at each
closed bar while the broker's quote is the first tick after that bar; that shared path is what
makes ``backtest`` and ``run --speed 0`` trade identically.
"""

from __future__ import annotations

import logging
import math

from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.execution.decide import BarInput, client_id, decide
from trademaestro.execution.intents import CloseIntent, Intent, OpenIntent
from trademaestro.execution.plan import TradePlan
from trademaestro.indicators.keys import SeriesKey
from trademaestro.runtime.recording import Recorder
from trademaestro.runtime.signals import SignalSource

log = logging.getLogger("trademaestro.runner")


class StrategyRunner:
    """Acts on one strategy's signals for one symbol through the broker adapter.

    Args:
        plan: the trading plan (exits, sizing, limits, magic number).
        adapter: the broker.
        recorder: where orders are recorded.
        atr_key: the ATR series an ``atr`` stop needs, if any.
    """

    def __init__(
        self,
        plan: TradePlan,
        adapter: MT5Adapter,
        recorder: Recorder,
        atr_key: SeriesKey | None = None,
    ) -> None:
        self.plan = plan
        self.adapter = adapter
        self.recorder = recorder
        self.atr_key = atr_key
        self.orders_sent = 0
        self.orders_rejected = 0
        self.first_rejection: str | None = None

    def on_bar(self, signals: SignalSource, i: int) -> None:
        """Decide and act at closed bar ``i`` (the broker's quote is the next bar's first tick)."""
        entry = signals.entry_at(i)
        exit_rule = signals.exit_at(i)
        if not exit_rule and not any(entry.values()):
            return
        plan = self.plan
        positions = self.adapter.positions(symbol=plan.symbol, magic=plan.magic)
        if not positions and not any(entry.values()):
            return
        quote = self.adapter.quote(plan.symbol)
        account = self.adapter.account()
        spec = self.adapter.symbol_spec(plan.symbol)
        if plan.sizing.risk_percentage is not None and spec.currency_profit != account.currency:
            # The tick value of a symbol quoted in another currency moves with the rate.
            spec = self.adapter.symbol_spec(plan.symbol, refresh=True)
        equity = account.equity
        atr = signals.value_at(self.atr_key, i) if self.atr_key is not None else math.nan
        decision = decide(
            plan,
            BarInput(
                time=quote.time,
                bid=quote.bid,
                ask=quote.ask,
                entry=entry,
                exit_rule=exit_rule,
                atr=atr,
                positions=positions,
                equity=equity,
                spec=spec,
            ),
        )
        for note in decision.notes:
            log.info("%s %s: %s", plan.strategy_id, plan.symbol, note)
        for intent in decision.intents:
            self.execute(intent, quote.time)

    def execute(self, intent: Intent, time: int) -> bool:
        """Send one intent, record it; returns True when the broker accepted it."""
        if isinstance(intent, OpenIntent):
            outcome = self.adapter.open_market(intent)
        elif isinstance(intent, CloseIntent):
            outcome = self.adapter.close_position(intent)
        else:
            outcome = self.adapter.modify_sltp(intent)
        self.orders_sent += 1
        self.recorder.order(intent, outcome, time)
        if not outcome.ok:
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
        return outcome.ok

    def close_all(self, reason: str, time: int) -> None:
        """Close every open position of the strategy (end of data, stop)."""
        plan = self.plan
        for n, pos in enumerate(self.adapter.positions(symbol=plan.symbol, magic=plan.magic)):
            self.execute(
                CloseIntent(
                    strategy_id=plan.strategy_id,
                    symbol=plan.symbol,
                    ticket=pos.ticket,
                    side=pos.side,
                    volume=pos.volume,
                    magic=plan.magic,
                    client_id=client_id(plan, time, "e", n),
                    reason="end" if reason == "end" else "manual",
                ),
                time,
            )
