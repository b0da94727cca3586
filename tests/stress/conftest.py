"""Fixtures of the tick-pipeline stress tests: the real GBPUSD and EURUSD ticks of 2010-01-01
(57,334 and 28,432 ticks, Dukascopy, server time = the file's local time) as arrays and as an
emulator recipe, and a guard against child processes left behind."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trademaestro.brokers.emulator.server import EmulatorSpec, TickFeed
from trademaestro.data import load_ticks

SYMBOLS = ("GBPUSD", "EURUSD")
COUNTS = {"GBPUSD": 57_334, "EURUSD": 28_432}
MAGIC = 424242


def tick_file(data: Path, symbol: str) -> Path:
    """The symbol's tick file in the data directory."""
    return data / f"{symbol}_ticks_2010-01-01.csv"


@pytest.fixture(scope="session")
def fx_ticks(shared_data: Path) -> dict[str, np.ndarray[Any, Any]]:
    """``{symbol: TICKS_DTYPE array}`` of both files, as the emulator loads them."""
    ticks = {s: load_ticks(tick_file(shared_data, s)).ticks for s in SYMBOLS}
    assert {s: len(t) for s, t in ticks.items()} == COUNTS
    return ticks


@pytest.fixture(scope="session")
def fx_spec(shared_data: Path) -> EmulatorSpec:
    """An emulator with both tick files (M1 bars built from the bid)."""
    return EmulatorSpec(ticks=tuple(TickFeed(s, str(tick_file(shared_data, s))) for s in SYMBOLS))


@pytest.fixture(autouse=True)
def no_children_left() -> Iterator[None]:
    """Fail a test that leaves a child process running (after killing it)."""
    before = {p.pid for p in multiprocessing.active_children()}
    yield
    left = [p for p in multiprocessing.active_children() if p.pid not in before]
    for process in left:
        process.kill()
        process.join(5)
    assert not left, f"child processes left behind: {left}"


def our_deals(mt5: Any) -> list[Any]:
    """The deals carrying the stress tests' magic number (the deposit deal has magic 0)."""
    deals = mt5.history_deals_get(0, 2**31 - 1)
    assert deals is not None, mt5.last_error()
    return [d for d in deals if d.magic == MAGIC]
