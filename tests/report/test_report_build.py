"""The report of a stored run: exact shape, real-data round trip, atomic JSON, rich summary."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from tests.persistence.builders import RUN_ARGS, make_deal
from trademaestro.persistence import Store
from trademaestro.report import build_report, render_summary, write_report_json

T0 = 1710916200  # 2024-03-20 06:30:00


def _order(store: Store, run_id: int, ticket: int, action: str, reason: str, time: int) -> None:
    store.record_order(
        run_id,
        client_id=f"c{ticket}",
        strategy_id="strat-1",
        magic=1001,
        symbol="XAUUSD",
        action=action,
        reason=reason,
        time=time,
        request={"volume": 0.1},
        result={"retcode": 10009},
        retcode=10009,
        error=None,
        order_ticket=ticket,
        deal_ticket=ticket,
        position_ticket=2,
    )


def _position(store: Store, run_id: int, **changes: Any) -> None:
    args: dict[str, Any] = {
        "ticket": 2,
        "symbol": "XAUUSD",
        "side": "buy",
        "volume": 0.10,
        "open_time": T0,
        "open_price": 2158.99,
        "sl": 2150.0,
        "tp": 2170.0,
        "magic": 1001,
        "strategy_id": "strat-1",
        "status": "open",
    }
    store.upsert_position(run_id, **{**args, **changes})


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store(tmp_path / "runs.sqlite") as s:
        yield s


def _one_trade_run(store: Store) -> int:
    run_id = store.begin_run(**RUN_ARGS)
    _order(store, run_id, 2, "open", "signal", T0)
    _position(store, run_id)
    _order(store, run_id, 3, "modify", "rule", T0 + 900)
    _position(store, run_id, sl=2158.99)
    _order(store, run_id, 4, "close", "end", T0 + 1800)
    _position(store, run_id, sl=2158.99, status="closed", close_time=T0 + 1800)
    store.record_deals(
        run_id,
        [
            make_deal(2, order=2, position_id=2, entry=0, type=0, price=2158.99, commission=-0.7),
            make_deal(
                4,
                order=4,
                position_id=2,
                entry=1,
                type=1,
                price=2160.49,
                commission=-0.7,
                profit=15.0,
                time=T0 + 1800,
                time_msc=(T0 + 1800) * 1000,
            ),
        ],
    )
    store.record_equity(
        run_id,
        [(T0, 10_000.0, 10_000.0), (T0 + 900, 10_000.0, 9_980.0), (T0 + 1800, 10_013.6, 10_013.6)],
    )
    return run_id


def test_report_of_a_finished_run(store: Store) -> None:
    run_id = _one_trade_run(store)
    store.finish_run(run_id, status="completed", final_balance=10_013.6, final_equity=10_013.6)
    report = build_report(store, run_id)
    assert report == {
        "strategy": {"strategyId": "strat-1", "symbol": "XAUUSD", "timeframe": "M15"},
        "data": {
            "path": "../shared/data/XAUUSD_M15.csv",
            "bars": 47165,
            "from": "2024-03-20T06:30:00",
            "to": "2026-03-20T00:00:00",
        },
        "initial_balance": 10_000.0,
        "final_balance": 10_013.6,
        "final_equity": 10_013.6,
        "stats": {
            "trades": 1,
            "win_rate": 1.0,
            "profit_factor": None,
            "net_profit": 13.6,
            "max_drawdown": 20.0,
            "max_drawdown_pct": 0.2,
            "sharpe": None,
        },
        "trades": [
            {
                "ticket": 2,
                "side": "buy",
                "volume": 0.1,
                "open_time": "2024-03-20T06:30:00",
                "open_price": 2158.99,
                "close_time": "2024-03-20T07:00:00",
                "close_price": 2160.49,
                "sl": 2158.99,
                "tp": 2170.0,
                "profit": 15.0,
                "commission": -1.4,
                "swap": 0.0,
                "exit_reason": "end",
            }
        ],
    }


def test_an_unfinished_run_reports_its_last_equity_sample(store: Store) -> None:
    run_id = _one_trade_run(store)
    report = build_report(store, run_id)
    assert (report["final_balance"], report["final_equity"]) == (10_013.6, 10_013.6)
    bare = store.begin_run(**RUN_ARGS)
    report = build_report(store, bare)
    assert (report["final_balance"], report["final_equity"]) == (10_000.0, 10_000.0)
    assert report["trades"] == [] and report["stats"]["trades"] == 0


def test_round_trip_of_a_real_data_run(store: Store, shared_data: Path) -> None:
    """Twenty 0.10-lot XAUUSD buys at real bar prices: opened at a bar's open, closed 50 bars
    later at that bar's close; equity marked to each bar's close."""
    lines = (shared_data / "XAUUSD_M15.csv").read_text().splitlines()[1:2001]
    fields = [line.split(",") for line in lines]
    times = np.array([f[0].replace(".", "-", 2) for f in fields], dtype="datetime64[s]")
    times = times.astype(np.int64)
    opens = [float(f[1]) for f in fields]
    closes = [float(f[4]) for f in fields]
    run_id = store.begin_run(**{**RUN_ARGS, "bars": 2000, "data_to": int(times[-1])})
    deals, expected_net, balance = [], 0.0, 10_000.0
    open_at: dict[int, tuple[int, float]] = {}
    for k in range(20):
        i, j = 100 * k, 100 * k + 50
        pid = 10 + k
        profit = round((closes[j] - opens[i]) * 10.0, 2)
        expected_net += profit - 1.40
        deals.append(
            make_deal(
                2 * pid,
                order=2 * pid,
                position_id=pid,
                entry=0,
                type=0,
                price=opens[i],
                commission=-0.70,
                time=int(times[i]),
            )
        )
        deals.append(
            make_deal(
                2 * pid + 1,
                order=2 * pid + 1,
                position_id=pid,
                entry=1,
                type=1,
                price=closes[j],
                commission=-0.70,
                profit=profit,
                reason=5 if profit > 0 else 4,
                time=int(times[j]),
            )
        )
        open_at[j] = (i, opens[i])
    store.record_deals(run_id, deals)
    points, holding = [], None
    for b in range(2000):
        if b % 100 == 0:
            holding = opens[b]
        floating = (closes[b] - holding) * 10.0 if holding is not None else 0.0
        if b in open_at:
            balance += round((closes[b] - open_at[b][1]) * 10.0, 2) - 1.40
            holding, floating = None, 0.0
        points.append((int(times[b]), balance, round(balance + floating, 2)))
    store.record_equity(run_id, points)
    store.finish_run(run_id, status="completed", final_balance=balance, final_equity=balance)

    report = build_report(store, run_id)
    assert report["data"]["from"] == "2024-03-20T06:30:00"
    assert report["data"]["to"] == lines[-1][:19].replace(".", "-").replace(" ", "T")
    stats = report["stats"]
    assert stats["trades"] == 20
    assert stats["net_profit"] == pytest.approx(round(expected_net, 2), abs=1e-9)
    assert stats["net_profit"] == pytest.approx(balance - 10_000.0, abs=1e-6)
    wins = sum(1 for t in report["trades"] if t["profit"] + t["commission"] > 0)
    assert stats["win_rate"] == pytest.approx(wins / 20, abs=1e-12)
    assert {t["exit_reason"] for t in report["trades"]} <= {"sl", "tp"}
    first = report["trades"][0]
    assert (first["open_price"], first["open_time"]) == (2158.99, "2024-03-20T06:30:00")
    assert first["close_price"] == closes[50]
    # The JSON file reads back as the same report.
    path = Path(store.path).parent / "out" / "report.json"
    write_report_json(report, path)
    assert json.loads(path.read_text()) == report


def test_write_report_json_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_report_json({"a": 1}, path)
    write_report_json({"a": 2}, path)
    assert json.loads(path.read_text()) == {"a": 2}
    with pytest.raises(ValueError, match="Out of range float"):
        write_report_json({"a": float("nan")}, path)
    with pytest.raises(TypeError):
        write_report_json({"a": object()}, path)
    assert json.loads(path.read_text()) == {"a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def _report_with_trades(n: int) -> dict[str, Any]:
    trade = {
        "side": "buy",
        "volume": 0.1,
        "open_time": "2024-03-20T06:30:00",
        "open_price": 2158.99,
        "close_time": "2024-03-20T07:15:00",
        "close_price": 2160.49,
        "sl": 0.0,
        "tp": 0.0,
        "profit": 15.0,
        "commission": -1.4,
        "swap": 0.0,
        "exit_reason": "signal",
    }
    return {
        "strategy": {"strategyId": "strat-1", "symbol": "XAUUSD", "timeframe": "M15"},
        "data": {"path": "XAUUSD_M15.csv", "bars": 47165, "from": "a", "to": "b"},
        "initial_balance": 10_000.0,
        "final_balance": 10_000.0 + 13.6 * n,
        "final_equity": 10_000.0 + 13.6 * n,
        "stats": {
            "trades": n,
            "win_rate": 1.0 if n else 0.0,
            "profit_factor": None,
            "net_profit": round(13.6 * n, 2),
            "max_drawdown": 12.5,
            "max_drawdown_pct": 0.1234,
            "sharpe": None,
        },
        "trades": [{"ticket": 1000 + i, **trade} for i in range(n)],
    }


def _render(report: dict[str, Any]) -> str:
    console = Console(file=io.StringIO(), width=220, color_system=None, record=True)
    render_summary(report, console)
    return console.export_text()


def test_render_summary_shows_the_figures_and_the_last_20_trades() -> None:
    text = _render(_report_with_trades(25))
    assert "Last 20 of 25 trades" in text
    assert "1005" in text and "1024" in text
    assert all(str(1000 + i) not in text for i in range(5))
    assert "10,340.00" in text  # final balance, 2 decimals
    rows = {
        cells[0]: cells[1]
        for line in text.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 2
    }
    assert rows["Net profit"] == "340.00"
    assert rows["Max drawdown"] == "12.50"
    assert rows["Max drawdown %"] == "0.12"
    assert rows["Profit factor"] == "-"
    assert rows["Bars"] == "47,165"
    assert "100.00 %" in text
    assert "13.60" in text and "-1.40" in text and "2160.49" in text


def test_render_summary_without_trades_prints_one_table() -> None:
    text = _render(_report_with_trades(0))
    assert "Profit factor" in text and "Trades" in text
    assert "Ticket" not in text
