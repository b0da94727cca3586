"""Parity: the paper executor (asyncio runtime, bars read back through the adapter one at a
time, streaming indicators) trades exactly like the backtest (vectorised signals)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.paper import run_paper
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples/strategies").glob("xauusd_*.json"))


def _both(strategy: Path, data: Path, tmp_path: Path) -> tuple[dict, dict]:
    common = {"strategy": str(strategy), "data": str(data), "commission_per_lot": 3.5}
    bt = run_backtest(RunSettings(**common, db_path=tmp_path / "bt.sqlite"))
    paper = run_paper(RunSettings(**common, db_path=tmp_path / "paper.sqlite", speed=0.0))
    assert bt.report is not None and paper.report is not None
    assert paper.status == "completed"
    return bt.report, paper.report


def test_parity_on_the_full_xauusd_m15_data(shared_data: Path, tmp_path: Path) -> None:
    bt, paper = _both(
        ROOT / "examples/strategies/xauusd_m15_ema_cross.json",
        shared_data / "XAUUSD_M15.csv",
        tmp_path,
    )
    assert len(bt["trades"]) > 2000
    assert paper["trades"] == bt["trades"]
    assert paper["stats"] == bt["stats"]
    assert paper["final_balance"] == bt["final_balance"]


@pytest.mark.parametrize("strategy", EXAMPLES, ids=lambda p: p.stem)
def test_parity_for_every_example_on_2024q1(
    strategy: Path, shared_data: Path, tmp_path: Path
) -> None:
    bt, paper = _both(strategy, shared_data / "XAUUSD_M15_2024Q1.csv", tmp_path)
    assert bt["trades"], f"{strategy.name} should trade in 2024 Q1"
    assert paper["trades"] == bt["trades"]


def test_parity_on_eurusd_h1(shared_data: Path, tmp_path: Path) -> None:
    bt, paper = _both(
        ROOT / "examples/strategies/eurusd_h1_ema_cross.json",
        shared_data / "EURUSD_H1.csv",
        tmp_path,
    )
    assert bt["trades"] and paper["trades"] == bt["trades"]
