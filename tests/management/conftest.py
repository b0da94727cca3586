"""Real XAUUSD M15 bars (and their TA-Lib ATR(14)) for the position-manager tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import talib

from trademaestro.data import load_bars


@pytest.fixture(scope="session")
def xau(shared_data: Path) -> np.ndarray:
    """All bars of XAUUSD_M15.csv (MT5 rates dtype; bid prices, spread in points)."""
    return load_bars(shared_data / "XAUUSD_M15.csv").rates


@pytest.fixture(scope="session")
def xau_atr(xau: np.ndarray) -> np.ndarray:
    """TA-Lib ATR(14) of every bar (NaN during the warm-up)."""
    return np.asarray(talib.ATR(xau["high"], xau["low"], xau["close"], 14))
