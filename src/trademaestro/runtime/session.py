"""Wiring one run: strategies, data, emulator, adapter, instances, risk, store.

Everything a driver (backtest loop or paper runtime) needs is built here, in one order, so that
both drivers start from identical state. Errors in the inputs surface before anything is written
to the database: run records exist only for a run that actually starts. A strategy with
``symbols: [...]`` runs one instance per symbol; several strategies run side by side, each with
its own magic number (two strategies with one magic number are refused).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator, load_symbol_specs
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.port import BrokerPort
from trademaestro.core.errors import ConfigError, StrategyError, SymbolError
from trademaestro.core.servertime import ServerTimeZone
from trademaestro.core.timeframes import Timeframe, parse_timeframe
from trademaestro.data import LoadedBars, load_bars, load_ticks, resolve_data_path
from trademaestro.execution.intents import Side
from trademaestro.execution.management_rules import ManagementRules
from trademaestro.filters.chain import FilterChain
from trademaestro.filters.correlation import RatesBarSource
from trademaestro.filters.news import CsvNewsCalendar
from trademaestro.indicators.keys import SeriesKey
from trademaestro.persistence.store import Store
from trademaestro.risk.account import AccountRiskState
from trademaestro.risk.config import risk_limits_of
from trademaestro.runtime.barstore import BarStore
from trademaestro.runtime.brokerlink import (
    Safety,
    emulator_gateway,
    exactly_once,
    remote_gateway,
)
from trademaestro.runtime.feeds import (
    SymbolFeed,
    Timeline,
    load_feeds,
    merge_timeline,
    parse_data_specs,
    split_higher_specs,
    split_symbol_spec,
)
from trademaestro.runtime.instance import StrategyInstance, needed_keys
from trademaestro.runtime.planning import build_plan
from trademaestro.runtime.recording import NullRecorder, Recorder, StoreRecorder
from trademaestro.runtime.riskstate import RiskStateFile
from trademaestro.runtime.settings import Mode, RunSettings
from trademaestro.strategy.loader import LoadedStrategy, load_strategy
from trademaestro.strategy.rules import Condition, compile_entry, compile_exit

log = logging.getLogger("trademaestro.session")


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


@dataclass
class Session:
    """A wired run."""

    settings: RunSettings
    mode: Mode
    emulator: Any  # the MT5-like broker: an MT5Emulator, or a Gateway in paper mode
    adapter: BrokerPort
    feeds: dict[str, SymbolFeed]
    timeline: Timeline
    slots: list[Slot]
    risk: AccountRiskState
    store: Store | None = None
    tick_symbol: str | None = None
    rejected: list[str] = field(default_factory=list)
    resume_time: int = 0
    safety: Safety | None = None  # the exactly-once order path of paper/live runs
    risk_file: Any = None  # RiskStateFile of paper/live runs
    equity_buffer: list[tuple[int, float, float]] = field(default_factory=list)
    clock_time: int = 0  # live: the open time of the last closed bar seen (server time)

    @property
    def instances(self) -> list[StrategyInstance]:
        """Every strategy instance of the run."""
        return [slot.instance for slot in self.slots]

    def close_broker(self) -> None:
        """Stop the gateway process, if the broker runs in one."""
        close = getattr(self.emulator, "close", None)
        if callable(close):
            close()

    @property
    def run_ids(self) -> list[int]:
        """The run records (one per instance)."""
        return [slot.run_id for slot in self.slots if slot.run_id is not None]


Wanted = list[tuple[str, LoadedStrategy, str]]
"""(strategy path, loaded strategy, symbol): one strategy instance each."""


def load_wanted(settings: RunSettings) -> tuple[Wanted, list[str]]:
    """Load the strategies and list the instances to run: (wanted, refusals).

    One strategy refused among several is logged and left out; a single one raises.

    Raises:
        StrategyError: the only strategy is invalid. ConfigError: every strategy was refused,
            ``--symbol`` with a several-symbol strategy, a strategy without symbol.
    """
    loaded: list[tuple[str, LoadedStrategy]] = []
    rejected: list[str] = []
    for path in settings.strategy_paths:
        try:
            loaded.append((path, load_strategy(path)))
        except StrategyError as exc:
            if len(settings.strategy_paths) == 1:
                raise
            # One strategy refused at load never stops the others.
            log.error("strategy refused: %s", exc)
            rejected.append(str(exc))
    if not loaded:
        raise ConfigError("every strategy was refused: " + "; ".join(rejected))
    wanted: Wanted = []
    for path, strategy in loaded:
        symbols = strategy.spec.symbol_list
        if settings.symbol:
            if len(symbols) > 1:
                raise ConfigError(
                    f"{path}: --symbol {settings.symbol} given for a strategy with several "
                    f"symbols ({', '.join(symbols)}); allowed: --symbol only for one-symbol "
                    "strategies"
                )
            symbols = [settings.symbol]
        if not symbols:
            raise ConfigError(f"{path}: the strategy names no symbol; pass --symbol")
        wanted.extend((path, strategy, sym) for sym in symbols)
    return wanted, rejected


def open_session(settings: RunSettings, mode: Mode) -> Session:
    """Load and validate every input, wire the emulator, adapter and instances, start the runs.

    Raises:
        StrategyError, DataError, ConfigError, SymbolError: bad input, before anything is written.
    """
    wanted, rejected = load_wanted(settings)
    tick_symbol, tick_path = _tick_source(settings, [w[2] for w in wanted])
    plain_specs, higher_specs = split_higher_specs(settings.data_specs)
    feeds = load_feeds(
        parse_data_specs(plain_specs, [w[2] for w in wanted if w[2] != tick_symbol]),
        skip_bad_rows=settings.skip_bad_rows,
    )
    higher = _higher_sources(higher_specs, {w[2] for w in wanted}, settings.skip_bad_rows)
    if mode == "backtest" and tick_symbol is None:
        for path, strategy, _ in wanted:
            options = strategy.spec.option_block
            if options is not None and options.intrabar is not None and options.intrabar.enabled:
                raise ConfigError(
                    f"{path}: options.intrabar needs tick data in a backtest (bars do not say "
                    "how the forming bar evolved); allowed: --ticks SYMBOL=FILE, or intrabar off"
                )
    for path, strategy, sym in wanted:
        if sym == tick_symbol:
            continue  # its bars are built from the ticks on the strategy's timeframe
        tf = strategy.spec.timeframe
        data_tf = feeds[sym].bars.timeframe
        if data_tf is not None and data_tf != tf:
            raise ConfigError(
                f"{feeds[sym].path}: the data holds {data_tf.name} bars but {path} trades "
                f"{sym} on {tf.name}; give {tf.name} data for {sym}"
            )

    config = EmulatorConfig(
        balance=settings.balance,
        commission_per_lot=settings.commission_per_lot,
        spread_points=settings.spread_points,
        swaps_enabled=settings.swaps,
    )
    if settings.symbols_file is not None:
        config.symbols = load_symbol_specs(settings.symbols_file)
    for sym in feeds:
        if sym not in config.symbols:
            raise SymbolError(
                f"no specification for symbol {sym!r}; known: "
                f"{', '.join(sorted(config.symbols))} (add it with --symbols FILE)"
            )
    emulator = MT5Emulator(config)
    if tick_symbol is not None and tick_path is not None:
        feeds[tick_symbol] = _tick_feed(emulator, tick_symbol, tick_path, wanted, settings)
    for sym, feed in feeds.items():
        if feed.ticks is not None:
            continue
        emulator.replay.load_rates(
            sym,
            feed.bars.timeframe or _tf_of(wanted, sym),
            feed.rates,
            has_spread=feed.bars.has_spread,
        )
    if settings.faults:
        from trademaestro.brokers.emulator.faults import FaultPlan

        emulator.faults = FaultPlan.from_spec([dict(rule) for rule in settings.faults])
    broker: Any = emulator
    if settings.broker_address is not None:
        broker = remote_gateway(settings.broker_address)
    elif settings.gateway:
        broker = emulator_gateway(
            config, feeds, {sym: int(_tf_of(wanted, sym)) for sym in feeds}, settings
        )
    adapter = MT5Adapter(broker)
    adapter.connect()
    timeline = merge_timeline(feeds)
    # An emulator server whose replay already started is resumed where it stands (recovery).
    resume_time = int(broker.replay.now) if settings.broker_address is not None else 0
    if not resume_time:
        for sym in sorted(feeds, key=lambda s: int(feeds[s].rates["time"][0])):
            if feeds[sym].ticks is not None:
                broker.replay.tick(sym, 0)
            else:
                broker.replay.open_bar(sym, 0)
    return wire_session(
        settings,
        mode,
        wanted,
        feeds,
        broker,
        adapter,
        higher=higher,
        timeline=timeline,
        tick_symbol=tick_symbol,
        rejected=rejected,
        resume_time=resume_time,
    )


def _strategies(wanted: Wanted) -> list[tuple[str, LoadedStrategy]]:
    """The distinct (path, strategy) pairs of ``wanted``, in order."""
    seen: dict[str, LoadedStrategy] = {}
    for path, strategy, _ in wanted:
        seen.setdefault(path, strategy)
    return list(seen.items())


def wire_session(
    settings: RunSettings,
    mode: Mode,
    wanted: Wanted,
    feeds: dict[str, SymbolFeed],
    broker: Any,
    adapter: MT5Adapter,
    *,
    higher: dict[str, dict[Timeframe, np.ndarray]],
    timeline: Timeline,
    tick_symbol: str | None = None,
    rejected: list[str] | None = None,
    resume_time: int = 0,
    journal_scope: str | None = None,
) -> Session:
    """Wire the instances of ``wanted`` over a connected broker and the symbols' bars (``feeds``:
    the replayed data, or in live mode the terminal's history), start the runs in the store and,
    in paper/live mode, the exactly-once order path.

    Raises:
        StrategyError: a rule needs a series the engine cannot compute. ConfigError: two
            strategies with one magic number.
    """
    server_tz = ServerTimeZone.parse(settings.server_utc_offset)
    news = CsvNewsCalendar(settings.news_file) if settings.news_file is not None else None
    tf_seconds = (
        min(feed.bars.timeframe.seconds for feed in feeds.values() if feed.bars.timeframe)
        if any(f.bars.timeframe for f in feeds.values())
        else 60
    )
    bar_source = RatesBarSource({s: f.rates for s, f in feeds.items()}, tf_seconds)
    risk = AccountRiskState()

    def open_symbols() -> frozenset[str]:
        return frozenset(p.symbol for p in adapter.positions())

    slots: list[Slot] = []
    magics: dict[int, str] = {}
    multi = {
        path: len({w[2] for w in wanted if w[0] == path}) > 1 for path, _ in _strategies(wanted)
    }
    for path, strategy, sym in wanted:
        spec_doc = strategy.spec
        spec = adapter.symbol_spec(sym)
        plan, stop_atr = build_plan(strategy, sym)
        owner = magics.setdefault(plan.magic, path)
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
            spec_doc, server_tz=server_tz, news=news, bars=bar_source
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
                sources=higher.get(sym),
            )
        except ValueError as exc:
            raise StrategyError(
                "rules", str(exc), "series the engine can compute", source=path
            ) from exc
        key = f"{plan.strategy_id}@{sym}" if multi[path] else plan.strategy_id
        limits = risk_limits_of(spec_doc.risk_management)
        risk.add_strategy(key, limits)
        instance = StrategyInstance(
            plan=plan,
            store=store,
            management=management,
            filters=filters,
            risk=risk,
            adapter=adapter,
            recorder=NullRecorder(),
            stop_atr=stop_atr,
            open_symbols=open_symbols,
            key=key,
            risk_limits=limits,
        )
        for warning in strategy.warnings:
            log.warning("%s: %s", path, warning)
        if strategy.unsupported:
            log.warning("%s: not yet supported, ignored: %s", path, ", ".join(strategy.unsupported))
        slots.append(
            Slot(instance, strategy, path, entry, exit_rule, feeds[sym], instance.recorder)
        )

    store_db: Store | None = None
    if settings.record:
        store_db = Store(settings.db_path or Store.default_path())
        currency = adapter.account().currency
        for slot in slots:
            rates = slot.feed.rates
            plan = slot.instance.plan
            slot.run_id = store_db.begin_run(
                mode=mode,
                strategy_id=plan.strategy_id,
                strategy_name=slot.strategy.spec.strategyName or plan.strategy_id,
                strategy_json=json.dumps(
                    slot.strategy.spec.model_dump(mode="json"), sort_keys=True
                ),
                symbol=slot.symbol,
                timeframe=slot.strategy.spec.timeframe.name,
                data_path=str(slot.feed.path),
                bars=len(rates),
                data_from=int(rates["time"][0]),
                data_to=int(rates["time"][-1]),
                initial_balance=settings.balance,
                currency=currency,
                options=_options(settings, slot.instance.plan.magic),
            )
            recorder = StoreRecorder(store_db, slot.run_id)
            slot.recorder = recorder
            slot.instance.recorder = recorder
    for slot in slots:
        slot.instance.rules = (slot.entry, slot.exit_rule)
    safety = None
    if mode in ("paper", "live") and store_db is not None:
        first_run = min(slot.run_id for slot in slots if slot.run_id is not None)
        safety = exactly_once(
            [slot.instance for slot in slots],
            adapter,
            settings,
            store_db,
            first_run=first_run,
            scope=journal_scope,
        )
    return Session(
        settings,
        mode,
        broker,
        # Every broker call of a paper/live run: retries, reconnects, circuit breaker.
        safety.safe if safety is not None else adapter,
        feeds,
        timeline,
        slots,
        risk,
        store_db,
        tick_symbol=tick_symbol,
        rejected=rejected or [],
        resume_time=resume_time,
        safety=safety,
        risk_file=(
            RiskStateFile(store_db.path.with_name(store_db.path.name + ".risk.json"))
            if safety is not None and store_db is not None
            else None
        ),
    )


def _higher_sources(
    specs: dict[tuple[str, str], str], symbols: set[str], skip_bad_rows: bool
) -> dict[str, dict[Timeframe, np.ndarray]]:
    """Higher-timeframe bars from their own files, by symbol and timeframe."""
    out: dict[str, dict[Timeframe, np.ndarray]] = {}
    for (symbol, tf_text), spec in specs.items():
        if symbol not in symbols:
            raise ConfigError(
                f"--data {symbol}@{tf_text}: no strategy trades {symbol}; allowed: "
                f"{', '.join(sorted(symbols))}"
            )
        try:
            timeframe = parse_timeframe(tf_text)
        except ValueError as exc:
            raise ConfigError(f"--data {symbol}@{tf_text}: {exc}") from None
        loaded = load_bars(resolve_data_path(spec), skip_bad_rows=skip_bad_rows)
        if loaded.timeframe is not None and loaded.timeframe != timeframe:
            raise ConfigError(
                f"{spec}: found {loaded.timeframe.name} bars; allowed: {timeframe.name} bars "
                f"for --data {symbol}@{tf_text}"
            )
        out.setdefault(symbol, {})[timeframe] = loaded.rates
    return out


def _tick_source(settings: RunSettings, symbols: list[str]) -> tuple[str | None, str | None]:
    """(symbol, file) of a tick-driven run, or (None, None)."""
    if settings.ticks is None:
        return None, None
    named, path = split_symbol_spec(settings.ticks)
    distinct = sorted(set(symbols))
    if len(distinct) != 1 or (named is not None and named != distinct[0]):
        raise ConfigError(
            f"--ticks {settings.ticks}: found strategies on {', '.join(distinct)}; allowed: a "
            "tick-driven run trades the one symbol of its ticks"
        )
    return distinct[0], path


def _tick_feed(
    emulator: MT5Emulator,
    symbol: str,
    spec: str,
    wanted: list[tuple[str, LoadedStrategy, str]],
    settings: RunSettings,
) -> SymbolFeed:
    """Load the ticks into the emulator and describe the bars it built from them."""
    timeframes = {s.spec.timeframe for _, s, sym in wanted if sym == symbol}
    if len(timeframes) != 1:
        raise ConfigError(
            f"--ticks: the strategies on {symbol} use several timeframes "
            f"({', '.join(sorted(t.name for t in timeframes))}); allowed: one"
        )
    timeframe = timeframes.pop()
    path = resolve_data_path(spec)
    loaded = load_ticks(path, skip_bad_rows=settings.skip_bad_rows)
    if len(loaded.ticks) < 2:
        raise ConfigError(f"{path}: {len(loaded.ticks)} ticks; at least 2 are needed")
    emulator.replay.load_ticks(symbol, timeframe, loaded.ticks)
    bars = emulator.replay.tick_bars(symbol)
    if len(bars) < 2:
        raise ConfigError(f"{path}: the ticks make {len(bars)} {timeframe.name} bar(s); at least 2")
    summary = LoadedBars(
        rates=bars,
        path=str(path),
        layout="ticks",
        skipped=loaded.skipped,
        skipped_lines=loaded.skipped_lines,
        has_spread=True,
        timeframe=timeframe,
    )
    return SymbolFeed(symbol, path, summary, loaded.ticks)


def _tf_of(wanted: list[tuple[str, LoadedStrategy, str]], symbol: str) -> Timeframe:
    """The timeframe of the (first) strategy trading ``symbol``."""
    return next(s.spec.timeframe for _, s, sym in wanted if sym == symbol)


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
