"""Real XAUUSD bars for the multi-timeframe tests (loaded with the project's loader, which has
its own tests; times are broker server seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trademaestro.data import load_bars


@pytest.fixture(scope="session")
def gold_m15(shared_data: Path) -> np.ndarray:
    """XAUUSD_M15.csv: 47,165 bars, 2024-03-20 06:30 .. 2026-03-20 06:15."""
    return load_bars(shared_data / "XAUUSD_M15.csv").rates


@pytest.fixture(scope="session")
def gold_h1(shared_data: Path) -> np.ndarray:
    """XAUUSD_H1.csv: 58,958 bars of the same broker feed, 2016-03-21 .. 2026-03-20."""
    return load_bars(shared_data / "XAUUSD_H1.csv").rates


def stamp(text: str) -> int:
    """``YYYY-MM-DD HH:MM`` server time as seconds since 1970."""
    return int(np.datetime64(text.replace(" ", "T"), "s").astype(np.int64))


def index_of(rates: np.ndarray, text: str) -> int:
    """Index of the bar opening at ``text`` (server time); fails when there is none."""
    hits = np.flatnonzero(rates["time"] == stamp(text))
    assert hits.size == 1, f"no bar opens at {text}"
    return int(hits[0])
