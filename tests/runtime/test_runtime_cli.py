"""The ``trademaestro`` command: success paths and every kind of bad input.

Bad input exits 2 with a message naming the file/line or JSON path, what was found and what is
allowed, and leaves no run in the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trademaestro.cli.main import app
from trademaestro.persistence.store import Store

ROOT = Path(__file__).resolve().parents[2]
RSI = ROOT / "examples/strategies/xauusd_m15_rsi_reversion.json"
runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def _runs(db: Path) -> list[int]:
    if not db.exists():
        return []
    with Store(db) as store:
        return store.run_ids()


@pytest.fixture
def q1(shared_data: Path) -> str:
    return str(shared_data / "XAUUSD_M15_2024Q1.csv")


def test_backtest_then_report_print_the_same_summary(q1: str, tmp_path: Path) -> None:
    db, out = tmp_path / "db.sqlite", tmp_path / "r.json"
    code, text = _invoke("backtest", str(RSI), "--data", q1, "--db", str(db), "--report", str(out))
    assert code == 0, text
    report = json.loads(out.read_text())
    assert report["data"]["bars"] == 5_864
    code2, text2 = _invoke("report", "--db", str(db), "--report", str(tmp_path / "again.json"))
    assert code2 == 0, text2
    assert json.loads((tmp_path / "again.json").read_text()) == report
    assert f"{report['stats']['trades']}" in text2


def test_run_paper_speed_0(q1: str, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    code, text = _invoke("run", str(RSI), "--data", q1, "--db", str(db), "--speed", "0")
    assert code == 0, text
    with Store(db) as store:
        run = store.load_run(store.latest_run_id())  # type: ignore[arg-type]
    assert run["mode"] == "paper" and run["status"] == "completed"


def _write(tmp_path: Path, doc: object, name: str = "s.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _doc(**entry_condition: object) -> dict:
    cond = {"indicator": "ema_9", "condition": "crosses_above", "indicatorRef": "ema_21"}
    cond.update(entry_condition)
    return {
        "strategyId": "bad",
        "symbol": "XAUUSD",
        "timeframe": "M15",
        "rules": {"entry": {"direction": "buy", "conditions": [cond]}},
    }


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ('{"strategyId": "x", "rules": {', "line 1"),
        (_doc(indicator="ema_nine"), "rules.entry.conditions[0].indicator"),
        (_doc(condition="crosses_sideways"), "rules.entry.conditions[0].condition"),
        (
            {"strategyId": "x", "timeframe": "M15", "rules": {"entry": {"conditions": []}}},
            "rules.entry",
        ),
    ],
    ids=["json-syntax", "unknown-indicator", "unknown-operator", "no-direction"],
)
def test_bad_strategy(doc: object, expected: str, q1: str, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    code, text = _invoke("backtest", str(_write(tmp_path, doc)), "--data", q1, "--db", str(db))
    assert code == 2, text
    assert expected in text
    assert "allowed" in text or "line 1" in text
    assert _runs(db) == []


def test_broken_data_row_names_the_line(shared_data: Path, tmp_path: Path) -> None:
    lines = (shared_data / "XAUUSD_M15_2024Q1.csv").read_text().splitlines()
    lines[100] = lines[100].replace(",", ";", 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    db = tmp_path / "db.sqlite"
    code, text = _invoke("backtest", str(RSI), "--data", str(bad), "--db", str(db))
    assert code == 2, text
    assert f"{bad}:101" in text.replace("\n", "")
    assert _runs(db) == []
    # Skipping on request works and the run goes ahead.
    code, text = _invoke(
        "backtest", str(RSI), "--data", str(bad), "--db", str(db), "--skip-bad-rows"
    )
    assert code == 0, text
    assert len(_runs(db)) == 1


def test_missing_data_file(tmp_path: Path) -> None:
    code, text = _invoke("backtest", str(RSI), "--data", str(tmp_path / "nope.csv"))
    assert code == 2 and "nope.csv" in text


def test_symbol_without_specification(q1: str, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    code, text = _invoke("backtest", str(RSI), "--data", q1, "--symbol", "BTCXYZ", "--db", str(db))
    assert code == 2, text
    assert "BTCXYZ" in text and "XAUUSD" in text  # names the symbol and the known ones
    assert _runs(db) == []


def test_orders_the_emulator_rejects_exit_3_and_are_recorded(q1: str, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    # 0.10 lot of gold needs ~20 USD margin at 1:100; 5 USD of balance is not enough (10019).
    code, text = _invoke("backtest", str(RSI), "--data", q1, "--db", str(db), "--balance", "5")
    assert code == 3, text
    assert "10019" in text.replace("\n", "")
    with Store(db) as store:
        rid = store.latest_run_id()
        assert rid is not None
        orders = store.load_orders(rid)
        assert store.load_run(rid)["status"] == "completed"
    assert orders and all(o["retcode"] == 10019 for o in orders)


def test_negative_speed_is_refused(q1: str) -> None:
    code, text = _invoke("run", str(RSI), "--data", q1, "--speed", "-1")
    assert code == 2 and "--speed" in text


def test_a_refused_strategy_never_stops_the_others(q1: str, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    bad = _write(tmp_path, _doc(condition="crosses_sideways"), "bad.json")
    code, text = _invoke("backtest", str(bad), str(RSI), "--data", q1, "--db", str(db))
    assert code == 2, text
    assert "bad.json" in text and "rules.entry.conditions[0].condition" in text
    runs = _runs(db)
    assert len(runs) == 1  # the RSI strategy ran
    with Store(db) as store:
        assert store.load_run(runs[0])["strategy_id"] == "xauusd-m15-rsi-reversion"


def test_intrabar_backtest_without_ticks_is_refused(q1: str, tmp_path: Path) -> None:
    doc = json.loads(RSI.read_text())
    doc["rules"]["options"] = {"intrabar": {"enabled": True, "intervalSeconds": 10}}
    path = _write(tmp_path, doc, "intrabar.json")
    code, text = _invoke("backtest", str(path), "--data", q1, "--db", str(tmp_path / "d.sqlite"))
    assert code == 2 and "--ticks" in text and "options.intrabar" in text


def test_a_run_stopped_by_signal_exits_0() -> None:
    """The runtime handled SIGINT/SIGTERM (runs marked interrupted, everything recorded; see
    test_runtime_stop.py): the command exits 0, a graceful stop a supervisor does not restart."""
    import typer

    from trademaestro.cli.main import _finish
    from trademaestro.runtime.backtest import RunResult

    with pytest.raises(typer.Exit) as stopped:
        _finish(RunResult([], [], 10, 0, 0, "interrupted"), None)
    assert stopped.value.exit_code == 0
