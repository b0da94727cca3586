"""Building strategy instances: one :class:`Slot` per (strategy, symbol), with its plan, rules,
filters, bar store and risk registration, and its run record in the store.

The factory keeps what the instances of one executor share (the broker, the account's risk
state, the store, the magic numbers taken), so that a strategy can also be added while the
executor runs (remote control: ``START_STRATEGY``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import numpy as np

from trademaestro.brokers.port import BrokerPort
from trademaestro.core.errors import ConfigError, StrategyError
from trademaestro.core.servertime import ServerTimeZone
from trademaestro.core.timeframes import Timeframe
from trademaestro.execution.intents import Side
from trademaestro.execution.management_rules import ManagementRules
from trademaestro.execution.plan import TradePlan
from trademaestro.filters.chain import FilterChain
from trademaestro.filters.correlation import BarSource, RatesBarSource, TerminalBarSource
from trademaestro.filters.news import CsvNewsCalendar
from trademaestro.indicators.keys import SeriesKey
from trademaestro.persistence.store import Store
from trademaestro.risk.account import AccountRiskState
from trademaestro.risk.config import risk_limits_of
from trademaestro.runtime.barstore import BarStore
from trademaestro.runtime.feeds import SymbolFeed
from trademaestro.runtime.instance import StrategyInstance
from trademaestro.runtime.planning import build_plan
from trademaestro.runtime.recording import NullRecorder, Recorder, StoreRecorder
from trademaestro.runtime.settings import Mode, RunSettings
from trademaestro.strategy.loader import LoadedStrategy
from trademaestro.strategy.rules import Condition, compile_entry, compile_exit

log = logging.getLogger("trademaestro.session")


def needed_keys(
    plan: TradePlan,
    management: ManagementRules,
    filters: FilterChain,
    stop_atr: SeriesKey | None,
) -> set[SeriesKey]:
    """The series an instance needs besides its rules' (ATRs of stops, filters, manager, sizing)."""
    keys = {SeriesKey("atr", (p,)) for p in filters.atr_periods()}
    if stop_atr is not None:
        keys.add(stop_atr)
    if management.active:
        keys.add(SeriesKey("atr", (management.atr_period,)))
    if plan.sizing.atr_multiplier is not None:
        keys.add(SeriesKey("atr", (plan.sizing.atr_period,)))
    return keys



@dataclass
class Slot:
    """One strategy instance and what its driver needs beside it."""

    instance: StrategyInstance
    strategy: LoadedStrategy
    source: str
    entry: dict[Side, Condition]
    exit_rule: Condition | None
    feed: SymbolFeed
    recorder: Recorder
    run_id: int | None = None
    any_signal: list[bool] = field(default_factory=list)

    @property
    def symbol(self) -> str:
        """The instance's symbol."""
        return self.instance.plan.symbol


class SlotFactory:
    """Builds the slots of one executor over a connected broker.

    Args:
        settings, mode: the run.
        adapter: the broker (the raw adapter; the exactly-once path is attached afterwards).
        risk: the account's risk state every instance registers with.
        feeds: each symbol's bars (replayed data, or the terminal's history in live mode); a
            symbol added later must be put here before its strategy is built.
        higher: higher-timeframe bars from their own files, by symbol and timeframe.
        store: the database, or None for an unrecorded run.
    """

    def __init__(
        self,
        settings: RunSettings,
        mode: Mode,
        adapter: BrokerPort,
        risk: AccountRiskState,
        feeds: dict[str, SymbolFeed],
        higher: dict[str, dict[Timeframe, np.ndarray]],
        store: Store | None,
    ) -> None:
        self.settings = settings
        self.mode = mode
        self.adapter = adapter
        self.risk = risk
        self.feeds = feeds
        self.higher = higher
        self.store = store
        self.server_tz = ServerTimeZone.parse(settings.server_utc_offset)
        self.news = CsvNewsCalendar(settings.news_file) if settings.news_file is not None else None
        self.magics: dict[int, str] = {}

    def open_symbols(self) -> frozenset[str]:
        """The symbols in which the account holds positions (the correlation filter)."""
        return frozenset(p.symbol for p in self.adapter.positions())

    def _bar_source(self) -> BarSource:
        """The correlation filter's bars: the replayed data, or in live mode the terminal's
        (asked at each decision: the warm-up arrays would go stale)."""
        feeds = self.feeds
        timeframes = [f.bars.timeframe for f in feeds.values() if f.bars.timeframe]
        if self.mode == "live":
            shortest = min(timeframes, key=lambda tf: tf.seconds, default=Timeframe.M1)
            return TerminalBarSource(self.adapter.closed_bars, shortest)
        seconds = min((tf.seconds for tf in timeframes), default=60)
        return RatesBarSource({s: f.rates for s, f in feeds.items()}, seconds)

    def release(self, path: str) -> None:
        """Forget the magic numbers taken by strategy ``path`` (it was stopped)."""
        for magic in [m for m, owner in self.magics.items() if owner == path]:
            del self.magics[magic]

    def build(self, path: str, strategy: LoadedStrategy, sym: str, multi: bool) -> Slot:
        """The slot of ``strategy`` on ``sym`` (``multi``: the strategy runs on several symbols,
        so the instance key is ``<strategy id>@<symbol>``).

        Raises:
            ConfigError: the magic number is taken by another strategy. StrategyError: a rule
                needs a series the engine cannot compute. SymbolError: unknown symbol.
        """
        adapter = self.adapter
        settings = self.settings
        spec_doc = strategy.spec
        spec = adapter.symbol_spec(sym)
        feeds = self.feeds
        plan, stop_atr = build_plan(strategy, sym)
        owner = self.magics.setdefault(plan.magic, path)
        if owner != path:
            raise ConfigError(
                f"{path}: magic number {plan.magic} is already used by {owner}; allowed: one "
                "magic number per strategy (set options.magicNumber or a distinct strategyId)"
            )
        exit_spec = spec_doc.rules.exit
        management = ManagementRules.from_exit(
            exit_spec,
            atr_period=plan.stop.period
            if plan.stop is not None and plan.stop.kind == "atr"
            else None,
            path=f"{spec_doc.key_of('rules')}.exit",
        )
        filters = FilterChain.from_strategy(
            spec_doc, server_tz=self.server_tz, news=self.news, bars=self._bar_source()
        )
        entry = compile_entry(spec_doc, spec.point)
        exit_rule = compile_exit(spec_doc, spec.point)
        keys: set[SeriesKey] = needed_keys(plan, management, filters, stop_atr)
        for cond in entry.values():
            keys |= cond.series_keys()
        if exit_rule is not None:
            keys |= exit_rule.series_keys()
        dyn = spec_doc.dynamic_risk
        volatility = (
            (int(dyn.atrPeriod), int(dyn.volatilityLookback))
            if dyn is not None and plan.sizing.volatility_threshold is not None
            else None
        )
        try:
            store = BarStore(
                spec_doc.timeframe,
                sorted(keys, key=str),
                point=spec.point,
                spread_override=settings.spread_points,
                default_spread=spec.spread,
                has_spread=feeds[sym].bars.has_spread,
                volatility=volatility,
                sources=self.higher.get(sym),
            )
        except ValueError as exc:
            raise StrategyError(
                "rules", str(exc), "series the engine can compute", source=path
            ) from exc
        key = f"{plan.strategy_id}@{sym}" if multi else plan.strategy_id
        limits = risk_limits_of(spec_doc.risk_management)
        self.risk.add_strategy(key, limits)
        instance = StrategyInstance(
            plan=plan,
            store=store,
            management=management,
            filters=filters,
            risk=self.risk,
            adapter=adapter,
            recorder=NullRecorder(),
            stop_atr=stop_atr,
            open_symbols=self.open_symbols,
            key=key,
            risk_limits=limits,
        )
        for warning in strategy.warnings:
            log.warning("%s: %s", path, warning)
        if strategy.unsupported:
            log.warning("%s: not yet supported, ignored: %s", path, ", ".join(strategy.unsupported))
        return Slot(instance, strategy, path, entry, exit_rule, feeds[sym], instance.recorder)

    def begin_run(self, slot: Slot) -> None:
        """Start the slot's run record (a recorded run) and route its records to the store."""
        store = self.store
        slot.instance.rules = (slot.entry, slot.exit_rule)
        if store is None:
            return
        rates = slot.feed.rates
        plan = slot.instance.plan
        slot.run_id = store.begin_run(
            mode=self.mode,
            strategy_id=plan.strategy_id,
            strategy_name=slot.strategy.spec.strategyName or plan.strategy_id,
            strategy_json=json.dumps(slot.strategy.spec.model_dump(mode="json"), sort_keys=True),
            symbol=slot.symbol,
            timeframe=slot.strategy.spec.timeframe.name,
            data_path=str(slot.feed.path),
            bars=len(rates),
            data_from=int(rates["time"][0]),
            data_to=int(rates["time"][-1]),
            initial_balance=self.settings.balance,
            currency=self.adapter.account().currency,
            options=_options(self.settings, plan.magic),
        )
        recorder = StoreRecorder(store, slot.run_id)
        slot.recorder = recorder
        slot.instance.recorder = recorder


def _options(settings: RunSettings, magic: int) -> dict[str, object]:
    return {
        "balance": settings.balance,
        "spread_points": settings.spread_points,
        "commission_per_lot": settings.commission_per_lot,
        "speed": settings.speed,
        "swaps": settings.swaps,
        "skip_bad_rows": settings.skip_bad_rows,
        "magic": magic,
        "strategies": list(settings.strategy_paths),
        "data": list(settings.data_specs),
    }
