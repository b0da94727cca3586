"""Shared values of the risk tests: symbol specs (the emulator's defaults) and real XAUUSD bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trademaestro.core.symbols import SymbolSpec
from trademaestro.data import load_bars

XAU = SymbolSpec(name="XAUUSD", digits=2, point=0.01, tick_size=0.01, tick_value=1.0,
                 contract_size=100.0, volume_min=0.01, volume_max=100.0, volume_step=0.01)
EUR = SymbolSpec(name="EURUSD", digits=5, point=0.00001, tick_size=0.00001, tick_value=1.0,
                 contract_size=100_000.0, volume_min=0.01, volume_max=100.0, volume_step=0.01)
# USDJPY: 0.001 × 100,000 = 100 JPY per tick per lot = 0.6667 USD at 150.00.
JPY = SymbolSpec(name="USDJPY", digits=3, point=0.001, tick_size=0.001, tick_value=100 / 150.0,
                 contract_size=100_000.0, volume_min=0.01, volume_max=100.0, volume_step=0.01)


@pytest.fixture(scope="session")
def xau_bars(shared_data: Path) -> np.ndarray:
    """XAUUSD M15 (2024-03-20 .. 2026-03-20), MT5 rates; times broker server seconds."""
    return load_bars(shared_data / "XAUUSD_M15.csv").rates
