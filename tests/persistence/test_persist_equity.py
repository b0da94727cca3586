"""Equity samples: a full real-data series in one call, fast and exact; arbitrary round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.persistence.builders import RUN_ARGS
from trademaestro.persistence import Store


def _xauusd_m15_closes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(server time s, close) of ``XAUUSD_M15.csv`` (``YYYY.MM.DD HH:MM:SS,O,H,L,C,...``)."""
    lines = path.read_text().splitlines()[1:]
    fields = [line.split(",") for line in lines]
    stamps = np.array([f[0].replace(".", "-", 2) for f in fields], dtype="datetime64[s]")
    closes = np.array([float(f[4]) for f in fields])
    return stamps.astype(np.int64), closes


def test_records_the_whole_xauusd_m15_equity_series(
    tmp_path: Path, shared_data: Path
) -> None:
    times, closes = _xauusd_m15_closes(shared_data / "XAUUSD_M15.csv")
    assert len(times) == 47_165
    assert times[0] == 1710916200  # 2024-03-20 06:30:00 server time
    # A 0.10-lot XAUUSD buy held from the first bar: 100 oz x 0.10 = 10 USD per 1.00 move.
    equity = np.round(10_000.0 + (closes - closes[0]) * 10.0, 2)
    points = list(zip(times.tolist(), [10_000.0] * len(times), equity.tolist(), strict=True))
    with Store(tmp_path / "runs.sqlite") as store:
        run_id = store.begin_run(**RUN_ARGS)
        store.record_equity(run_id, points)
        curve = store.load_equity(run_id)
    assert np.array_equal(curve.time, times)
    assert np.array_equal(curve.equity, equity)
    assert curve.balance.dtype == np.float64 and curve.time.dtype == np.int64
    assert float(curve.equity[0]) == 10_000.0
    # Last close 2026-03-20 is the file's own value; the curve ends where the market did.
    assert abs(curve.equity[-1] - round(10_000.0 + (closes[-1] - 2158.60) * 10.0, 2)) < 1e-6


def test_numpy_scalars_are_accepted(tmp_path: Path) -> None:
    with Store(tmp_path / "runs.sqlite") as store:
        run_id = store.begin_run(**RUN_ARGS)
        store.record_equity(run_id, [(np.int64(900), np.float64(1.5), np.float32(2.5))])
        curve = store.load_equity(run_id)
    assert curve.time.tolist() == [900]
    assert curve.balance.tolist() == [1.5] and curve.equity.tolist() == [2.5]


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
points_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=2**40), finite, finite), max_size=40
)


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(points_strategy, min_size=1, max_size=3))
def test_equity_round_trips_exactly_in_time_order(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[tuple[int, float, float]]]
) -> None:
    path = tmp_path_factory.mktemp("eq") / "runs.sqlite"
    with Store(path) as store:
        run_id = store.begin_run(**RUN_ARGS)
        for batch in batches:
            store.record_equity(run_id, batch)
        curve = store.load_equity(run_id)
    # Stable by time: equal times keep their recording order.
    expected = sorted((p for batch in batches for p in batch), key=lambda p: p[0])
    assert curve.time.tolist() == [p[0] for p in expected]
    assert curve.balance.tolist() == [p[1] for p in expected]
    assert curve.equity.tolist() == [p[2] for p in expected]
