"""The connection circuit breaker in the paper executor: while it is open no entry is made; with
``emergency_exit`` configured, every position is closed (reason ``risk``) when it opens."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.paper import paper_session
from trademaestro.runtime.session import open_session
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]


def _ts(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())


def test_breaker_open_halts_entries_and_emergency_exit_closes_all(
    shared_data: Path, tmp_path: Path
) -> None:
    data = shared_data / "XAUUSD_M15_2024Q1.csv"
    strategy = ROOT / "examples/strategies/xauusd_m15_ema_cross.json"
    calm = run_backtest(
        RunSettings(
            strategy=str(strategy), data=str(data), record=True, db_path=tmp_path / "calm.sqlite"
        )
    )
    assert calm.report is not None
    # 30 minutes into the first trade that lasts longer than that, the breaker opens.
    long = next(
        t for t in calm.report["trades"] if _ts(t["close_time"]) - _ts(t["open_time"]) > 1800
    )
    opened_at = _ts(long["open_time"]) + 1800
    session = open_session(
        RunSettings(
            strategy=str(strategy),
            data=str(data),
            db_path=tmp_path / "db.sqlite",
            emergency_exit=True,
        ),
        "paper",
    )
    safe = session.safety[0]
    clock = {"now": 0}
    real_quote = session.emulator.replay

    def is_open() -> bool:
        return clock["now"] >= opened_at

    def now() -> int:
        clock["now"] = int(real_quote.now)
        return clock["now"]

    safe.emergency_exit_requested = lambda: now() >= opened_at  # type: ignore[method-assign]
    safe.entries_allowed = lambda: not is_open()  # type: ignore[method-assign]
    result = asyncio.run(paper_session(session, 0.0))
    assert result.status == "completed"
    con = sqlite3.connect(tmp_path / "db.sqlite")
    opens = con.execute("select time from orders where action = 'open'").fetchall()
    risk = con.execute("select time from orders where reason = 'risk'").fetchall()
    con.close()
    assert opens and all(t < opened_at for (t,) in opens)  # no entry once the breaker opened
    assert risk, "the emergency exit closed the position open at that moment"
    assert all(t >= opened_at for (t,) in risk)
