"""Fixtures of the run-store tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.persistence.builders import RUN_ARGS
from trademaestro.persistence import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a not-yet-existing subdirectory of ``tmp_path``."""
    with Store(tmp_path / "nested" / "dir" / "runs.sqlite") as s:
        yield s


@pytest.fixture
def run_id(store: Store) -> int:
    """A running backtest run in ``store``."""
    return store.begin_run(**RUN_ARGS)
