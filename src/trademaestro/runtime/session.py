"""Wiring one run: strategies, data, emulator, adapter, instances, risk, store.

Everything a driver (backtest loop or paper runtime) needs is built here, in one order, so that
both drivers start from identical state. Errors in the inputs surface before anything is written
to the database: run records exist only for a run that actually starts. A strategy with
``symbols: [...]`` runs one instance per symbol; several strategies run side by side, each with
its own magic number (two strategies with one magic number are refused).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator, load_symbol_specs
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.port import BrokerPort
from trademaestro.core.errors import ConfigError, StrategyError, SymbolError
from trademaestro.core.timeframes import Timeframe, parse_timeframe
from trademaestro.data import LoadedBars, load_bars, load_ticks, resolve_data_path
from trademaestro.persistence.store import Store
from trademaestro.risk.account import AccountRiskState
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
from trademaestro.runtime.instance import StrategyInstance
from trademaestro.runtime.riskstate import RiskStateFile
from trademaestro.runtime.settings import Mode, RunSettings
from trademaestro.runtime.slots import Slot, SlotFactory
from trademaestro.strategy.loader import LoadedStrategy, load_strategy

log = logging.getLogger("trademaestro.session")

__all__ = ["Session", "Slot", "Wanted", "load_wanted", "open_session", "wire_session"]


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
    factory: SlotFactory | None = None  # builds strategies added while running (live)

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
    slots_factory = SlotFactory(
        settings,
        mode,
        adapter,
        AccountRiskState(),
        feeds,
        higher,
        Store(settings.db_path or Store.default_path()) if settings.record else None,
    )
    multi = {
        path: len({w[2] for w in wanted if w[0] == path}) > 1 for path, _ in _strategies(wanted)
    }
    slots = [
        slots_factory.build(path, strategy, sym, multi[path]) for path, strategy, sym in wanted
    ]
    risk = slots_factory.risk
    store_db = slots_factory.store
    for slot in slots:
        slots_factory.begin_run(slot)
    for slot in slots:
        slot.instance.rules = (slot.entry, slot.exit_rule)
    safety = None
    if mode in ("paper", "live") and store_db is not None:
        first_run = min((slot.run_id for slot in slots if slot.run_id is not None), default=0)
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
        factory=slots_factory,
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
