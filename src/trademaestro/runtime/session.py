"""Wiring one run: strategy, data, emulator, adapter, plan, runner, store.

Everything a driver (backtest loop or paper runtime) needs is built here, in one order, so that
both drivers start from identical state. Errors in the inputs surface before anything is written
to the database: a run record exists only for a run that actually starts.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator, load_symbol_specs
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.core.errors import ConfigError, DataError, SymbolError
from trademaestro.core.symbols import SymbolSpec
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import LoadedBars, load_bars, resolve_data_path
from trademaestro.execution.intents import Side
from trademaestro.execution.plan import TradePlan
from trademaestro.indicators.keys import SeriesKey
from trademaestro.indicators.registry import SeriesEngine
from trademaestro.persistence.store import Store
from trademaestro.runtime.planning import build_plan
from trademaestro.runtime.recording import NullRecorder, Recorder, StoreRecorder
from trademaestro.runtime.runner import StrategyRunner
from trademaestro.runtime.settings import Mode, RunSettings
from trademaestro.strategy.loader import LoadedStrategy, load_strategy
from trademaestro.strategy.rules import Condition, compile_entry, compile_exit

log = logging.getLogger("trademaestro.session")


@dataclass
class Session:
    """A wired run. ``engine`` holds the strategy's series; ``runner`` acts on signals."""

    settings: RunSettings
    mode: Mode
    strategy: LoadedStrategy
    bars: LoadedBars
    symbol: str
    timeframe: Timeframe
    emulator: MT5Emulator
    adapter: MT5Adapter
    spec: SymbolSpec
    plan: TradePlan
    entry: dict[Side, Condition]
    exit_rule: Condition | None
    engine: SeriesEngine
    runner: StrategyRunner
    recorder: Recorder
    store: Store | None = None
    run_id: int | None = None
    equity_buffer: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def rates(self) -> np.ndarray:
        """The replayed bars."""
        return self.bars.rates


def open_session(settings: RunSettings, mode: Mode) -> Session:
    """Load and validate every input, wire the emulator, adapter and runner, start a run record.

    Raises:
        StrategyError, DataError, ConfigError, SymbolError: bad input, before anything is written.
    """
    strategy = load_strategy(settings.strategy)
    spec_doc = strategy.spec
    symbols = spec_doc.symbol_list
    symbol = settings.symbol or spec_doc.symbol or (symbols[0] if symbols else None)
    if not symbol:
        raise ConfigError(f"{settings.strategy}: the strategy names no symbol; pass --symbol")
    timeframe = spec_doc.timeframe
    data_path = resolve_data_path(settings.data)
    bars = load_bars(data_path, skip_bad_rows=settings.skip_bad_rows)
    if len(bars.rates) < 2:
        raise DataError(str(data_path), None, f"{len(bars.rates)} bars; at least 2 are needed")
    if bars.timeframe is not None and bars.timeframe != timeframe:
        raise ConfigError(
            f"{data_path}: the data holds {bars.timeframe.name} bars but the strategy trades "
            f"{timeframe.name}; give {timeframe.name} data"
        )

    config = EmulatorConfig(
        balance=settings.balance,
        commission_per_lot=settings.commission_per_lot,
        spread_points=settings.spread_points,
        swaps_enabled=settings.swaps,
    )
    if settings.symbols_file is not None:
        config.symbols = load_symbol_specs(settings.symbols_file)
    if symbol not in config.symbols:
        raise SymbolError(
            f"no specification for symbol {symbol!r}; known: "
            f"{', '.join(sorted(config.symbols))} (add it with --symbols FILE)"
        )
    emulator = MT5Emulator(config)
    emulator.replay.load_rates(symbol, timeframe, bars.rates, has_spread=bars.has_spread)
    adapter = MT5Adapter(emulator)
    adapter.connect()
    emulator.replay.open_bar(symbol, 0)
    spec = adapter.symbol_spec(symbol)

    entry = compile_entry(spec_doc, spec.point)
    exit_rule = compile_exit(spec_doc, spec.point)
    plan, atr_key = build_plan(strategy, symbol)
    keys: set[SeriesKey] = set()
    for cond in entry.values():
        keys |= cond.series_keys()
    if exit_rule is not None:
        keys |= exit_rule.series_keys()
    if atr_key is not None:
        keys.add(atr_key)
    engine = SeriesEngine(sorted(keys, key=str))

    for warning in strategy.warnings:
        log.warning("%s: %s", settings.strategy, warning)
    if strategy.unsupported:
        log.warning(
            "%s: not yet supported, ignored: %s",
            settings.strategy,
            ", ".join(strategy.unsupported),
        )

    store: Store | None = None
    run_id: int | None = None
    recorder: Recorder = NullRecorder()
    if settings.record:
        store = Store(settings.db_path or Store.default_path())
        rates = bars.rates
        run_id = store.begin_run(
            mode=mode,
            strategy_id=plan.strategy_id,
            strategy_name=spec_doc.strategyName or plan.strategy_id,
            strategy_json=json.dumps(spec_doc.model_dump(mode="json"), sort_keys=True),
            symbol=symbol,
            timeframe=timeframe.name,
            data_path=str(data_path),
            bars=len(rates),
            data_from=int(rates["time"][0]),
            data_to=int(rates["time"][-1]),
            initial_balance=settings.balance,
            currency=adapter.account().currency,
            options=_options(settings),
        )
        recorder = StoreRecorder(store, run_id)
    runner = StrategyRunner(plan, adapter, recorder, atr_key)
    return Session(
        settings=settings,
        mode=mode,
        strategy=strategy,
        bars=bars,
        symbol=symbol,
        timeframe=timeframe,
        emulator=emulator,
        adapter=adapter,
        spec=spec,
        plan=plan,
        entry=entry,
        exit_rule=exit_rule,
        engine=engine,
        runner=runner,
        recorder=recorder,
        store=store,
        run_id=run_id,
    )


def _options(settings: RunSettings) -> dict[str, Any]:
    return {
        "balance": settings.balance,
        "spread_points": settings.spread_points,
        "commission_per_lot": settings.commission_per_lot,
        "speed": settings.speed,
        "swaps": settings.swaps,
        "skip_bad_rows": settings.skip_bad_rows,
    }
