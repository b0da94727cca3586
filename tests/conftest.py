"""Shared fixtures. Real market data comes from ``TRADEMAESTRO_DATA_DIR`` (default
``../shared/data``). In CI (``CI`` set) a missing data directory fails the run; elsewhere the
tests that need it are skipped with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trademaestro.settings import DATA_DIR_ENV, data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real market-data directory."""
    path = data_dir()
    if not (path / "XAUUSD_M15.csv").is_file():
        message = (
            f"market data not found in {path} (set {DATA_DIR_ENV} to the folder holding "
            "XAUUSD_M15.csv etc.)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
