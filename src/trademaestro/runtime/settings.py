"""What a run is asked to do (the CLI's options as one value)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mode = Literal["backtest", "paper"]


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Options common to ``backtest`` and ``run``.

    Attributes:
        strategy: path of the strategy JSON (web platform format).
        data: bar file path, or ``sample:EURUSD_H1`` for the sample shipped with backtesting.py.
        symbol: broker symbol; None takes the strategy's.
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
    """

    strategy: str
    data: str
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
