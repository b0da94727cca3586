"""What a run is asked to do (the CLI's options as one value)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from trademaestro.core.errors import ConfigError

Mode = Literal["backtest", "paper", "live"]

AUTHKEY_ENV = "TRADEMAESTRO_EMULATOR_KEY"


def emulator_authkey() -> bytes:
    """The emulator server's shared secret, from ``TRADEMAESTRO_EMULATOR_KEY`` (never taken from
    the command line, never logged).

    Raises:
        ConfigError: the variable is unset or empty.
    """
    value = os.environ.get(AUTHKEY_ENV, "")
    if not value:
        raise ConfigError(f"set {AUTHKEY_ENV} to the emulator server's shared secret")
    return value.encode("utf-8")


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Options common to ``backtest`` and ``run``.

    Attributes:
        strategy: one strategy JSON path (web platform format) or several; each runs one instance
            per symbol (``symbols: [...]``), with its own magic number and statistics.
        data: bar files: ``FILE`` (for the one symbol that needs data), ``SYMBOL=FILE``, or
            ``sample:EURUSD_H1`` (the sample shipped with backtesting.py); one per symbol.
        symbol: broker symbol for a single-symbol strategy; None takes the strategy's.
        balance: initial balance, account currency.
        spread_points: fixed spread in points replacing the data's spread; None keeps the data's
            (or the symbol's typical spread when the data has none).
        commission_per_lot: commission per lot per side (entry and exit deal), account currency.
        db_path: SQLite file; None = the default in the user data directory.
        record: False runs without any database (benchmarks).
        report_path: where to write the JSON report, if anywhere.
        speed: ``run`` only: replay speed as a multiple of real time; 0 = as fast as possible.
        symbols_file: JSON file overriding/adding emulator symbol specifications.
        skip_bad_rows: skip (and count) malformed data rows instead of failing.
        swaps: charge swaps at server-day rollovers.
        news_file: economic-calendar CSV for the news filter (``time,currency,impact,title``).
        server_utc_offset: broker server time zone as a fixed UTC offset in hours; None = the
            common MT5 convention (UTC+2, UTC+3 while US daylight saving time is in effect).
        broker_address: the Unix socket of an emulator server (``trademaestro emulator-server``):
            the gateway child connects to it, so the broker (positions, deals, replay clock)
            outlives this executor; a restarted executor resumes the replay where it stands.
        faults: emulator fault injection (``FaultPlan.from_spec`` rules, e.g.
            ``{"function": "order_send", "fault": "lost_reply", "skip": 4}``): tests and drills.
        emergency_exit: when the connection circuit breaker opens, close every position of the
            executor (besides halting new entries, which always happens).
        reconcile_seconds: paper/live: reconcile with the broker every that many seconds of wall
            time (and at start-up, before trading).
        gateway: run the emulator in a gateway child process (paper mode's default in the CLI):
            every broker call crosses the process boundary with a hard timeout, as in live mode.
        ticks: a tick file (``FILE`` or ``SYMBOL=FILE``, Dukascopy layout): the run replays that
            symbol tick by tick instead of by bars (bars are built from the ticks' bid); needed by
            ``options.intrabar`` in a backtest. One symbol per tick-driven run.
    """

    strategy: str | Sequence[str]
    data: str | Sequence[str]
    symbol: str | None = None
    balance: float = 10_000.0
    spread_points: int | None = None
    commission_per_lot: float = 0.0
    db_path: Path | None = None
    record: bool = True
    report_path: Path | None = None
    speed: float = 0.0
    symbols_file: Path | None = None
    skip_bad_rows: bool = False
    swaps: bool = True
    news_file: Path | None = None
    server_utc_offset: float | None = None
    ticks: str | None = None
    gateway: bool = False
    broker_address: str | None = None
    reconcile_seconds: float = 300.0
    emergency_exit: bool = False
    faults: tuple[Mapping[str, Any], ...] = ()

    @property
    def strategy_paths(self) -> tuple[str, ...]:
        """The strategy files, as a tuple."""
        return (self.strategy,) if isinstance(self.strategy, str) else tuple(self.strategy)

    @property
    def data_specs(self) -> tuple[str, ...]:
        """The data specs, as a tuple."""
        return (self.data,) if isinstance(self.data, str) else tuple(self.data)
