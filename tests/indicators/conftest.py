"""Real MT5 bars for the indicator tests, read with a tiny local CSV reader (the data loaders
live elsewhere). Files and layouts: see the shared data README."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from trademaestro.core.bars import RATES_DTYPE


def read_rates(path: Path) -> np.ndarray:
    """An MT5 export (``DateTime,Open,...,TickVolume,Spread`` or ``time,open,...,volume``) as
    a RATES_DTYPE array; times are broker server seconds."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    out = np.zeros(len(rows), dtype=RATES_DTYPE)
    stamps = [row[0].replace(".", "-", 2) for row in rows]
    out["time"] = np.array(stamps, dtype="datetime64[s]").astype(np.int64)
    for column, name in enumerate(("open", "high", "low", "close"), start=1):
        out[name] = [float(row[column]) for row in rows]
    out["tick_volume"] = [int(row[5]) for row in rows]
    if len(header) > 6:
        out["spread"] = [int(row[6]) for row in rows]
    return out


@pytest.fixture(scope="session")
def xau(shared_data: Path) -> np.ndarray:
    """XAUUSD M15, 47,165 bars (2024-03-20 .. 2026-03-20)."""
    return read_rates(shared_data / "XAUUSD_M15.csv")


@pytest.fixture(scope="session")
def eur(shared_data: Path) -> np.ndarray:
    """EURUSD M15, 11,998 bars (2026-01-15 .. 2026-07-09), 5 digits, no spread column."""
    return read_rates(shared_data / "EURUSD_M15.csv")


@pytest.fixture(scope="session", params=["xau", "eur"])
def rates(request: pytest.FixtureRequest) -> np.ndarray:
    """Each real data set in turn."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]
