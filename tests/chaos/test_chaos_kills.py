"""Chaos: the paper executor is killed with SIGKILL at seeded random points, 50 times in all (two
seeded drills of 25, which the two test workers run side by side) —
before an order is sent (journalled, not sent), between the fill and the executor's record of it,
after a bar — and restarted each time against the same emulator server (the broker outlives the
executor, as a real MT5 terminal and trade server do). Each restart resumes in recovery mode.

At the end: the trade list equals the uninterrupted backtest's exactly (no duplicate order, no
lost position, no missed exit), no position and no pending order is left at the broker, and no
client id ever produced two entry deals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.drill import POINTS, run_drill
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "examples/strategies/xauusd_m15_ema_cross.json"


KILLS = 25


@pytest.mark.slow
@pytest.mark.parametrize("seed", [20261121, 20261122])
def test_sigkills_lose_and_duplicate_nothing(shared_data: Path, tmp_path: Path, seed: int) -> None:
    data = shared_data / "XAUUSD_M15_2024Q1.csv"
    result = run_drill(STRATEGY, data, tmp_path, kills=KILLS, seed=seed)
    assert sum(result.kills.values()) >= KILLS
    assert set(result.kills) == set(POINTS), result.kills
    assert result.positions_left == 0  # nothing left open at the broker
    assert result.orders_left == 0  # no orphan pending order
    assert result.duplicate_entries == 0  # one entry deal per client id
    calm = run_backtest(
        RunSettings(strategy=str(STRATEGY), data=str(data), db_path=tmp_path / "calm.sqlite")
    )
    assert calm.report is not None
    assert result.trades == calm.report["trades"]  # nothing lost, nothing doubled
    assert len(result.recovery_seconds) >= KILLS
