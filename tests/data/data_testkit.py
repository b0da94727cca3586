"""Helpers shared by the tests of trademaestro.data (a unique module name: tests/data has no
__init__.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

BACKTESTING_EURUSD = "backtesting/test/EURUSD.csv"


def iso(seconds: int) -> str:
    """Server-time seconds as ``YYYY-MM-DD HH:MM:SS``."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%d %H:%M:%S")


def real_lines(path: Path, count: int, start: int = 1) -> list[str]:
    """``count`` data lines of a real file from data row ``start`` (1 = first row after the
    header), without line ends."""
    with path.open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    return lines[start : start + count]


def write(path: Path, header: str, rows: list[str], *, newline: str = "\n") -> Path:
    """Write a small bar file: header then rows."""
    path.write_text(newline.join([header, *rows]) + newline, encoding="utf-8", newline="")
    return path
