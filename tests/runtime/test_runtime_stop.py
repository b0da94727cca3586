"""Stopping the paper executor: SIGTERM mid-run finishes the bar in progress, records
everything and marks the run ``interrupted``; the start-up warning lists unsupported keys."""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import pytest

from trademaestro.persistence.store import Store
from trademaestro.runtime.paper import run_paper
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_stops_cleanly_with_everything_persisted(shared_data: Path, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done >= 3001:  # the runtime reports every 500 bars: stop after bar 3000
            signal.raise_signal(signal.SIGTERM)

    result = run_paper(
        RunSettings(
            strategy=str(ROOT / "examples/strategies/xauusd_m15_ema_cross.json"),
            data=str(shared_data / "XAUUSD_M15.csv"),
            db_path=db,
            speed=0.0,
        ),
        progress,
    )
    assert result.status == "interrupted"
    assert max(seen) == 3001  # no bar was replayed after the signal
    with Store(db) as store:
        run = store.load_run(result.run_id)  # type: ignore[arg-type]
        deals = store.load_deals(result.run_id)  # type: ignore[arg-type]
        orders = store.load_orders(result.run_id)  # type: ignore[arg-type]
    assert run["status"] == "interrupted"
    assert run["final_equity"] is not None
    # Every accepted order is in the journal with its deal; nothing closed at 'end'.
    assert orders and all(o["reason"] != "end" for o in orders)
    assert {o["deal_ticket"] for o in orders if o["retcode"] == 10009} <= {
        d["ticket"] for d in deals
    }
    # The default SIGTERM disposition is back after the run.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)


def test_unsupported_keys_are_warned_at_start_up(
    shared_data: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the support table lists is warned about at start-up, with its JSON path (the
    table is patched: every key of the format is executed in this release)."""
    from trademaestro.strategy import support

    doc = json.loads((ROOT / "examples/strategies/xauusd_m15_rsi_reversion.json").read_text())
    doc["rules"]["exit"]["trailing"] = {"enabled": True, "distance": 30, "activation": 20}
    doc["rules"]["filters"] = {"sessionFilter": {"enabled": True, "allowedSessions": ["London"]}}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    patched = (
        support.Unsupported("exit", "trailing", lambda v: v is not None),
        support.Unsupported("filters", "sessionFilter", lambda v: v is not None),
    )
    monkeypatch.setattr(support, "UNSUPPORTED", patched)
    with caplog.at_level(logging.WARNING):
        run_paper(
            RunSettings(
                strategy=str(path),
                data=str(shared_data / "XAUUSD_M15_2024Q1.csv"),
                db_path=tmp_path / "db.sqlite",
                speed=0.0,
            )
        )
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "not yet supported" in text
    assert "rules.exit.trailing" in text and "sessionFilter" in text
