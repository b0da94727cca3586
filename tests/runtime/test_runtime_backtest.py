"""The backtest end to end on real XAUUSD M15 bars, checked against a hand computation.

The first trade of the EMA 9/21 example: EMA(9) crosses above EMA(21) on bar 38 (2024.03.20
16:00); the order goes out at the next bar's first tick (bar 39, 16:15) at ask = open + spread x
0.01; the stop is 1.5 x ATR(14) of bar 38 (TA-Lib), rounded down to the 0.01 tick; the target is
2 x the stop distance, rounded up; the size risks 1 % of 10,000 USD at 1.00 USD per 0.01 per lot,
rounded down to 0.01 lot; the stop is hit in bar 40.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import talib

from trademaestro.data import load_bars
from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]
EMA_CROSS = ROOT / "examples/strategies/xauusd_m15_ema_cross.json"


@pytest.fixture(scope="module")
def ema_cross_report(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    db = tmp_path_factory.mktemp("bt") / "runs.sqlite"
    result = run_backtest(
        RunSettings(strategy=str(EMA_CROSS), data=str(shared_data / "XAUUSD_M15.csv"), db_path=db)
    )
    assert result.status == "completed" and result.report is not None
    return result.report


def test_first_trade_matches_the_hand_computation(
    ema_cross_report: dict, shared_data: Path
) -> None:
    rates = load_bars(shared_data / "XAUUSD_M15.csv").rates
    ema9 = talib.EMA(rates["close"], 9)
    ema21 = talib.EMA(rates["close"], 21)
    above = ema9 > ema21
    first = int(np.argmax(above[1:] & ~above[:-1])) + 1
    assert first == 38
    atr = float(talib.ATR(rates["high"], rates["low"], rates["close"], 14)[first])
    ask = round(float(rates["open"][first + 1]) + int(rates["spread"][first + 1]) * 0.01, 2)
    sl = math.floor(round((ask - 1.5 * atr) / 0.01, 6)) * 0.01
    distance = round(ask - sl, 2)
    tp = math.ceil(round((ask + 2 * distance) / 0.01, 6)) * 0.01
    volume = math.floor(100.0 / (distance / 0.01 * 1.0) / 0.01 + 1e-6) * 0.01

    trade = ema_cross_report["trades"][0]
    assert trade["side"] == "buy"
    assert trade["open_time"] == "2024-03-20T16:15:00"
    assert trade["open_price"] == pytest.approx(ask, abs=1e-9) == pytest.approx(2163.22)
    assert trade["sl"] == pytest.approx(sl, abs=1e-9) == pytest.approx(2158.94)
    assert trade["tp"] == pytest.approx(tp, abs=1e-9) == pytest.approx(2171.78)
    assert trade["volume"] == pytest.approx(volume) == pytest.approx(0.23)
    # Bar 40 (16:30) trades down through the stop: filled at the stop, 100 oz per lot.
    assert float(rates["low"][first + 2]) <= sl < float(rates["open"][first + 2])
    assert trade["close_time"] == "2024-03-20T16:30:00"
    assert trade["close_price"] == pytest.approx(sl)
    assert trade["profit"] == pytest.approx(round((sl - ask) * 100 * volume, 2))
    assert trade["profit"] == pytest.approx(-98.44)
    assert trade["exit_reason"] == "sl"


def test_report_shape_and_accounting(ema_cross_report: dict) -> None:
    r = ema_cross_report
    assert set(r) == {
        "strategy",
        "data",
        "initial_balance",
        "final_balance",
        "final_equity",
        "stats",
        "trades",
    }
    assert r["strategy"] == {
        "strategyId": "xauusd-m15-ema-cross",
        "symbol": "XAUUSD",
        "timeframe": "M15",
    }
    assert r["data"]["bars"] == 47_165
    assert (r["data"]["from"], r["data"]["to"]) == ("2024-03-20T06:30:00", "2026-03-20T06:15:00")
    net = sum(t["profit"] + t["commission"] + t["swap"] for t in r["trades"])
    assert r["final_balance"] == pytest.approx(r["initial_balance"] + net, abs=0.005)
    assert r["final_equity"] == pytest.approx(r["final_balance"])  # everything closed at the end
    assert r["stats"]["trades"] == len(r["trades"])
    assert {t["exit_reason"] for t in r["trades"]} <= {"sl", "tp", "signal", "rule", "end"}
    assert r["trades"][-1]["exit_reason"] == "end"
    assert r["trades"][-1]["close_time"].startswith("2026-03-20T06:")
    # One position at a time (maxPositions 1): no trade opens before the previous one closed.
    for before, after in zip(r["trades"], r["trades"][1:], strict=False):
        assert after["open_time"] >= before["close_time"]
    # Every stop respects the 1 % risk budget at the equity it was sized on (<= 1 % of the peak).
    peak = max(r["initial_balance"], r["final_balance"])
    for t in r["trades"]:
        risk = abs(t["open_price"] - t["sl"]) * 100 * t["volume"]
        assert risk <= 0.01 * peak * 1.6  # equity peaked at most 60 % above 10,000 in this run


def test_report_file_round_trips(shared_data: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    from trademaestro.report.build import write_report_json

    result = run_backtest(
        RunSettings(
            strategy=str(ROOT / "examples/strategies/xauusd_m15_rsi_reversion.json"),
            data=str(shared_data / "XAUUSD_M15_2024Q1.csv"),
            db_path=tmp_path / "db.sqlite",
            commission_per_lot=7.0,
        )
    )
    assert result.report is not None
    write_report_json(result.report, report_path)
    loaded = json.loads(report_path.read_text())
    assert loaded == json.loads(json.dumps(result.report))
    trades = loaded["trades"]
    assert trades, "the RSI example trades in 2024 Q1"
    # 7.00 per lot per side, 0.10 lots: 0.70 on entry + 0.70 on exit.
    assert all(t["commission"] == pytest.approx(-1.40) for t in trades if t["volume"] == 0.1)
