"""The exact, row-by-row checking path shared by the bar and tick loaders (internal).

It runs only when the vectorised path met an anomaly, so it favours precise messages over speed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from trademaestro.core.errors import DataError


class RowError(Exception):
    """One row cannot be used; ``reason`` says why (column, text found, what is allowed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _where(col: int, names: Sequence[str]) -> str:
    name = names[col] if col < len(names) else f"#{col + 1}"
    return f"column {name!r} ({col + 1})"


def number(parts: Sequence[str], col: int, names: Sequence[str]) -> float:
    """Column ``col`` of a row as a float (NaN and infinities are returned; callers check).

    Raises:
        RowError: the text is not a number.
    """
    raw = parts[col]
    try:
        return float(raw)
    except ValueError:
        raise RowError(f"{_where(col, names)}: cannot read {raw!r} as a number") from None


def whole(parts: Sequence[str], col: int, names: Sequence[str], top: int) -> int:
    """Column ``col`` as a whole number in 0..top (``12`` or ``12.0``).

    Raises:
        RowError: not a number, negative, fractional, or above ``top``.
    """
    value = number(parts, col, names)
    if not math.isfinite(value) or value < 0 or value > top or value != math.floor(value):
        raise RowError(
            f"{_where(col, names)}: found {parts[col]!r}; allowed: a whole number 0..{top}"
        )
    return int(value)


class RowLoop:
    """Bookkeeping of the exact path: time order and skipped rows.

    Args:
        path: the file, for messages.
        skip: skip bad rows instead of raising.
        strict: timestamps must strictly increase (bars); otherwise equal ones are allowed
            (ticks).
    """

    def __init__(self, path: str, skip: bool, *, strict: bool) -> None:
        self.path = path
        self.skip = skip
        self.strict = strict
        self.skipped: list[int] = []
        self.skipped_count = 0
        self._last: int | None = None
        self._last_line = 0

    def bad(self, line: int, reason: str) -> None:
        """Record a bad row: raise DataError, or count it as skipped."""
        if not self.skip:
            raise DataError(self.path, line, reason)
        self.skipped.append(line)
        self.skipped_count += 1

    def accept(self, line: int, stamp: int, show: Callable[[int], str]) -> bool:
        """Check ``stamp`` against the last accepted row; True when the row is kept."""
        last = self._last
        if last is not None and (stamp < last or (self.strict and stamp == last)):
            if stamp == last:
                reason = f"duplicate timestamp {show(stamp)} (already on line {self._last_line})"
            else:
                reason = (
                    f"decreasing timestamp {show(stamp)} is earlier than {show(last)} on line "
                    f"{self._last_line}; rows must be in ascending time order"
                )
            self.bad(line, reason)
            return False
        self._last = stamp
        self._last_line = line
        return True
