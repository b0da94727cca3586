"""Process-wide settings read from the environment.

``TRADEMAESTRO_DATA_DIR``: where the real market data lives (tests, examples, benchmarks);
default ``../shared/data`` relative to the current directory (the repository root when the
README's commands are used).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "TRADEMAESTRO_DATA_DIR"
DEFAULT_DATA_DIR = "../shared/data"


def data_dir() -> Path:
    """The market-data directory (may not exist; callers decide whether that is an error)."""
    return Path(os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR)).expanduser().resolve()
