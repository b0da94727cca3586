"""The paper executor under injected broker faults, end to end, on real XAUUSD bars.

A lost reply (the order filled, the answer never came), requotes, "too many requests", an IPC
timeout and a disconnect on reads: the executor retries what is transient, reconnects, resolves
the unknown outcome by looking the client id up, and trades exactly like the calm backtest — one
entry deal per client id, nothing lost.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.paper import run_paper
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "examples/strategies/xauusd_m15_ema_cross.json"

FAULTS = (
    {"function": "order_send", "fault": "lost_reply", "skip": 4, "times": 1},
    {"function": "order_send", "fault": "requote", "points": 30, "skip": 10, "times": 2},
    {"function": "order_send", "fault": "retcode", "code": 10024, "skip": 20, "times": 1},
    {"function": "positions_get", "fault": "ipc_timeout", "skip": 100, "times": 1},
    {"function": "account_info", "fault": "disconnect", "skip": 300, "times": 1},
)


def test_faults_change_nothing_the_trader_sees(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = str(shared_data / "XAUUSD_M15_2024Q1.csv")
    calm = run_backtest(RunSettings(strategy=str(STRATEGY), data=data, db_path=tmp_path / "c.db"))
    with caplog.at_level(logging.INFO, logger="trademaestro.safety"):
        faulty = run_paper(
            RunSettings(
                strategy=str(STRATEGY),
                data=data,
                db_path=tmp_path / "f.db",
                speed=0.0,
                faults=FAULTS,
            )
        )
    assert calm.report is not None and faulty.report is not None
    assert faulty.status == "completed"
    assert faulty.report["trades"] == calm.report["trades"]

    con = sqlite3.connect(tmp_path / "f.db")
    journal = con.execute("select client_id, state, sends, comment from order_journal").fetchall()
    deals = con.execute("select comment from deals where entry = 0").fetchall()
    con.close()
    assert {state for _, state, _, _ in journal} == {"done"}
    # The lost reply was resolved by looking the client id up, and sent exactly once.
    looked_up = [row for row in journal if row[3] and "look-up" in row[3]]
    assert len(looked_up) == 1 and looked_up[0][2] == 1
    assert max(Counter(c for (c,) in deals).values()) == 1  # one entry deal per client id
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "retry" in text  # requotes and 10024 were retried
    assert "reconnected to the terminal" in text  # the disconnect was healed
