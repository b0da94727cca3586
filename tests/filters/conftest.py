"""Real bars for the filter tests (shared data directory, never copied into the repository)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from trademaestro.data import load_bars


@pytest.fixture(scope="session")
def xau(shared_data: Path) -> NDArray[np.void]:
    """XAUUSD M15 rates (2024-03-20 .. 2026-03-20), broker server time, spread in points."""
    return load_bars(shared_data / "XAUUSD_M15.csv").rates


@pytest.fixture(scope="session")
def fx(shared_data: Path) -> dict[str, NDArray[np.void]]:
    """EURUSD, GBPUSD and USDJPY M15 rates over the same weeks (2026-01-15 .. 2026-07-09)."""
    return {s: load_bars(shared_data / f"{s}_M15.csv").rates for s in ("EURUSD", "GBPUSD",
                                                                         "USDJPY")}


def bar_at(rates: NDArray[np.void], t: int) -> NDArray[np.void]:
    """The bar opening at server time ``t`` (fails the test when the file has none)."""
    i = int(np.searchsorted(rates["time"], t))
    assert i < len(rates) and int(rates["time"][i]) == t, f"no bar at {t}"
    bar: NDArray[np.void] = rates[i]
    return bar
