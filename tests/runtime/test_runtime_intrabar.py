"""Intrabar mode on real EURUSD ticks (2010-01-01, Dukascopy): the forming M1 bar is evaluated
every 5 seconds of tick time, so entries happen inside bars, exactly when the forming bar's
EMA(5) crosses its EMA(13)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import talib

from trademaestro.data import load_ticks
from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "examples/strategies/eurusd_m1_intrabar.json"


@pytest.fixture(scope="module")
def report(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    db = tmp_path_factory.mktemp("ib") / "db.sqlite"
    result = run_backtest(
        RunSettings(
            strategy=str(STRATEGY),
            data=(),
            ticks=str(shared_data / "EURUSD_ticks_2010-01-01.csv"),
            db_path=db,
        )
    )
    assert result.report is not None
    return result.report


def _ts(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())


def test_entries_happen_inside_bars(report: dict) -> None:
    opens = [_ts(t["open_time"]) for t in report["trades"]]
    assert len(opens) > 50
    assert any(t % 60 != 0 for t in opens), "intrabar entries are not on bar boundaries"


def test_first_entry_is_the_forming_bar_cross(report: dict, shared_data: Path) -> None:
    """Rebuild M1 bid bars from the ticks, then for the first trade's tick: EMA(5) and EMA(13)
    (TA-Lib) over the closed bars plus the forming bar's close at that tick cross down."""
    ticks = load_ticks(shared_data / "EURUSD_ticks_2010-01-01.csv").ticks
    first = report["trades"][0]
    t_open = _ts(first["open_time"])
    times, bids = ticks["time"], ticks["bid"]
    k = int(np.flatnonzero(times == t_open)[0])
    minute = times // 60

    def closes_at(k: int) -> np.ndarray:
        done = minute < minute[k]
        closed = [bids[done][minute[done] == m][-1] for m in np.unique(minute[done])]
        return np.array([*closed, bids[k]])  # the forming bar's close = the tick's bid

    def crossed_down(closes: np.ndarray) -> bool:
        fast, slow = talib.EMA(closes, 5), talib.EMA(closes, 13)
        return bool(fast[-2] >= slow[-2] and fast[-1] < slow[-1])

    assert first["side"] == "sell"
    assert crossed_down(closes_at(k))
    # The entry filled at that tick's bid.
    assert first["open_price"] == pytest.approx(float(bids[k]))
    # Sell stop 4 pips above, target 6 pips below the fill (EURUSD pip 0.0001).
    assert first["sl"] == pytest.approx(round(float(bids[k]) + 0.0004, 5))
    assert first["tp"] == pytest.approx(round(float(bids[k]) - 0.0006, 5))
    assert math.isclose(first["volume"], 0.1)
