"""Fixtures of the safety tests: real XAUUSD M15 bars replayed by the emulator with a scriptable
:class:`FaultPlan`, an adapter over it, a :class:`SafeBroker` whose backoff sleep is recorded
(never slept), a breaker on a hand-driven clock, and an order journal in a temporary SQLite
file."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator
from trademaestro.brokers.emulator.faults import FaultPlan
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import load_bars
from trademaestro.data.loaders import LoadedBars
from trademaestro.execution.intents import OpenIntent
from trademaestro.execution.safety import (
    BreakerAlert,
    BreakerConfig,
    CircuitBreaker,
    Credentials,
    ExactlyOnceExecutor,
    LookupConfig,
    RetryPolicy,
    SafeBroker,
)
from trademaestro.persistence.journal import OrderJournal

SYMBOL = "XAUUSD"
MAGIC = 4242
BAR = 100  # bar 100 of the file: 2024-03-21 08:30, open 2206.84, spread 5 -> ask 2206.89
POINT = 0.01


@pytest.fixture(scope="session")
def xau(shared_data: Path) -> LoadedBars:
    """The real XAUUSD M15 bars."""
    return load_bars(shared_data / "XAUUSD_M15.csv")


def ask_of(bars: LoadedBars, i: int) -> float:
    """The emulator's ask at the open of bar ``i``: open + spread x point, 2 digits."""
    row = bars.rates[i]
    return round(float(row["open"]) + int(row["spread"]) * POINT, 2)


def bid_of(bars: LoadedBars, i: int) -> float:
    """The emulator's bid at the open of bar ``i``: the bar's open."""
    return float(bars.rates[i]["open"])


@dataclass
class Env:
    """Everything one test drives."""

    bars: LoadedBars
    emu: MT5Emulator
    plan: FaultPlan
    adapter: MT5Adapter
    safe: SafeBroker
    journal: OrderJournal
    executor: ExactlyOnceExecutor
    sleeps: list[float] = field(default_factory=list)
    alerts: list[BreakerAlert] = field(default_factory=list)
    now: list[float] = field(default_factory=lambda: [1000.0])
    bar: list[int] = field(default_factory=lambda: [BAR])
    on_sleep: list[Any] = field(default_factory=list)

    def advance(self, bars: int = 1) -> None:
        """Open the next bar(s) (the quote moves to its open)."""
        for _ in range(bars):
            self.emu.replay.run_bar(SYMBOL, self.bar[0])
            self.bar[0] += 1
            self.emu.replay.open_bar(SYMBOL, self.bar[0])

    def open_intent(self, client_id: str = "t1.s9x.o0", *, side: str = "buy",
                    volume: float = 0.1, sl_points: int = 500, tp_points: int = 1000,
                    price: float | None = None) -> OpenIntent:
        """A market open at the current quote with SL/TP at the given distances (points)."""
        i = self.bar[0]
        px = price if price is not None else (ask_of(self.bars, i) if side == "buy"
                                              else bid_of(self.bars, i))
        sign = 1 if side == "buy" else -1
        return OpenIntent(
            strategy_id="gold-ema", symbol=SYMBOL, side=side,  # type: ignore[arg-type]
            volume=volume, sl=round(px - sign * sl_points * POINT, 2),
            tp=round(px + sign * tp_points * POINT, 2), magic=MAGIC, client_id=client_id,
            price=px,
        )

    def broker_positions(self) -> list[Any]:
        """The emulator's open positions, read past any fault (no plan counting)."""
        return list(self.emu._ledger.positions.values())


def make_env(
    bars: LoadedBars,
    tmp_path: Path,
    *,
    policy: RetryPolicy | None = None,
    breaker: BreakerConfig | None = None,
    lookup: LookupConfig | None = None,
    credentials: Credentials | None = None,
    config: EmulatorConfig | None = None,
    scope: str = "test",
) -> Env:
    """A connected emulator at bar :data:`BAR` with an empty fault plan, and the safety stack."""
    plan = FaultPlan()
    emu = MT5Emulator(config or EmulatorConfig(), faults=plan)
    emu.replay.load_rates(SYMBOL, Timeframe.M15, bars.rates, has_spread=bars.has_spread)
    adapter = MT5Adapter(emu)
    adapter.connect()
    emu.replay.open_bar(SYMBOL, BAR)
    sleeps: list[float] = []
    alerts: list[BreakerAlert] = []
    now = [1000.0]
    on_sleep: list[Any] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        for hook in on_sleep:
            hook(seconds)

    cb = CircuitBreaker(breaker or BreakerConfig(failure_threshold=3, reset_timeout=60.0),
                        alert=alerts.append, clock=lambda: now[0])
    safe = SafeBroker(
        adapter,
        policy=policy or RetryPolicy(jitter=0.0),
        breaker=cb,
        credentials=credentials,
        sleep=sleep,
        rng=random.Random(7),
    )
    journal = OrderJournal(tmp_path / "journal.sqlite", scope=scope)
    executor = ExactlyOnceExecutor(safe, journal, lookup=lookup)
    return Env(bars, emu, plan, adapter, safe, journal, executor, sleeps, alerts, now,
               [BAR], on_sleep)


@pytest.fixture
def env(xau: LoadedBars, tmp_path: Path) -> Env:
    """The default environment (threshold 3, reset 60 s, no jitter, 4 attempts)."""
    return make_env(xau, tmp_path)
