"""Parity: the paper executor (asyncio runtime, bars read back through the adapter one at a
time, streaming indicators) trades exactly like the backtest (vectorised signals), for every
example strategy."""

from __future__ import annotations

from pathlib import Path

import pytest

from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.paper import run_paper
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples/strategies"
NEWS = ROOT / "examples/news/usd_high_impact_2024_2026.csv"

# example -> data specs (relative to the shared data folder); 2024 Q1 keeps the suite quick.
CASES: dict[str, tuple[str, ...]] = {
    "xauusd_m15_ema_cross": ("XAUUSD_M15_2024Q1.csv",),
    "xauusd_m15_rsi_reversion": ("XAUUSD_M15_2024Q1.csv",),
    "xauusd_m15_macd_ema200": ("XAUUSD_M15_2024Q1.csv",),
    "xauusd_m15_managed_exits": ("XAUUSD_M15_2024Q1.csv",),
    "xauusd_m15_atr_kelly": ("XAUUSD_M15_2024Q1.csv",),
    "xauusd_m15_risk_limits": ("XAUUSD_M15.csv",),  # the drawdown halt happens in 2025
    "xauusd_m15_filtered": ("XAUUSD_M15_2024Q1.csv",),
    "xauusd_m15_mtf_trend": ("XAUUSD_M15_2024Q1.csv",),
    "eurusd_h1_ema_cross": ("EURUSD_H1.csv",),
    "fx_m15_multi_symbol": (
        "EURUSD=EURUSD_M15.csv",
        "GBPUSD=GBPUSD_M15.csv",
        "USDJPY=USDJPY_M15.csv",
    ),
    # Tick-driven (intrabar): the ticks replace the bars.
    "eurusd_m1_intrabar": ("ticks:EURUSD_ticks_2010-01-01.csv",),
}


def _data(shared: Path, specs: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for spec in specs:
        sym, _, name = spec.rpartition("=")
        out.append(f"{sym}={shared / name}" if sym else str(shared / name))
    return tuple(out)


def test_every_example_is_covered() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.json")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_parity(name: str, shared_data: Path, tmp_path: Path) -> None:
    specs = CASES[name]
    ticks = [s.removeprefix("ticks:") for s in specs if s.startswith("ticks:")]
    common = {
        "strategy": str(EXAMPLES / f"{name}.json"),
        "data": _data(shared_data, tuple(s for s in specs if not s.startswith("ticks:"))),
        "commission_per_lot": 3.5,
        "news_file": NEWS,
        "ticks": str(shared_data / ticks[0]) if ticks else None,
    }
    bt = run_backtest(RunSettings(**common, db_path=tmp_path / "bt.sqlite"))  # type: ignore[arg-type]
    paper = run_paper(RunSettings(**common, db_path=tmp_path / "p.sqlite", speed=0.0))  # type: ignore[arg-type]
    assert paper.status == "completed"
    assert bt.reports and len(paper.reports) == len(bt.reports)
    assert sum(len(r["trades"]) for r in bt.reports) > 0, f"{name} should trade"
    for ours, theirs in zip(paper.reports, bt.reports, strict=True):
        assert ours["trades"] == theirs["trades"]
        assert ours["stats"] == theirs["stats"]
        assert ours["final_balance"] == theirs["final_balance"]
    assert paper.halts == bt.halts


@pytest.mark.slow  # about a minute: runs beside the chaos drill in `make test`
def test_parity_on_the_full_xauusd_m15_data(shared_data: Path, tmp_path: Path) -> None:
    common = {
        "strategy": str(EXAMPLES / "xauusd_m15_ema_cross.json"),
        "data": str(shared_data / "XAUUSD_M15.csv"),
    }
    bt = run_backtest(RunSettings(**common, db_path=tmp_path / "bt.sqlite"))  # type: ignore[arg-type]
    paper = run_paper(RunSettings(**common, db_path=tmp_path / "p.sqlite", speed=0.0))  # type: ignore[arg-type]
    assert bt.report is not None and paper.report is not None
    assert len(bt.report["trades"]) > 2000
    assert paper.report["trades"] == bt.report["trades"]
    assert paper.report["stats"] == bt.report["stats"]


@pytest.mark.slow  # beside the chaos drill in `make test`
def test_parity_through_the_gateway_process(shared_data: Path, tmp_path: Path) -> None:
    """``run``'s default: the emulator lives in a gateway child process, every broker call and the
    replay cross the pipe, and the act stage calls the broker from a worker thread."""
    common = {
        "strategy": str(EXAMPLES / "xauusd_m15_managed_exits.json"),
        "data": str(shared_data / "XAUUSD_M15_2024Q1.csv"),
    }
    bt = run_backtest(RunSettings(**common, db_path=tmp_path / "bt.sqlite"))  # type: ignore[arg-type]
    paper = run_paper(
        RunSettings(**common, db_path=tmp_path / "p.sqlite", speed=0.0, gateway=True)  # type: ignore[arg-type]
    )
    assert bt.report is not None and paper.report is not None
    assert paper.report["trades"] == bt.report["trades"]
    assert len(bt.report["trades"]) > 20
