"""MT5 timeframes: the ``TIMEFRAME_*`` values, their lengths and their spellings.

Values are MT5's own (MT5_API.md §5.1): minutes for M1…M30, ``0x4000 | hours`` for H1…D1,
``0x8000 | 1`` for W1 and ``0xC000 | 1`` for MN1. Bars are aligned to broker server time.
"""

from __future__ import annotations

import re
from enum import IntEnum


class Timeframe(IntEnum):
    """A bar timeframe, valued as MetaTrader5's ``TIMEFRAME_*`` constant."""

    M1 = 1
    M2 = 2
    M3 = 3
    M4 = 4
    M5 = 5
    M6 = 6
    M10 = 10
    M12 = 12
    M15 = 15
    M20 = 20
    M30 = 30
    H1 = 0x4000 | 1
    H2 = 0x4000 | 2
    H3 = 0x4000 | 3
    H4 = 0x4000 | 4
    H6 = 0x4000 | 6
    H8 = 0x4000 | 8
    H12 = 0x4000 | 12
    D1 = 0x4000 | 24
    W1 = 0x8000 | 1
    MN1 = 0xC000 | 1

    @property
    def seconds(self) -> int:
        """Nominal length in seconds (MN1 counts 30 days; use calendar months to align it)."""
        value = int(self)
        if value < 0x4000:
            return value * 60
        if value & 0xC000 == 0xC000:
            return 30 * 86400
        if value & 0x8000:
            return 7 * 86400
        return (value & 0x3FFF) * 3600


_ALIASES = {
    "MN": Timeframe.MN1,
    "MO": Timeframe.MN1,
    "1MO": Timeframe.MN1,
    "1MN": Timeframe.MN1,
    "W": Timeframe.W1,
    "D": Timeframe.D1,
}
_SUFFIX = re.compile(r"^(\d+)\s*(M|MIN|H|D|W)$")


def parse_timeframe(text: str) -> Timeframe:
    """Parse ``M15``, ``h1``, ``15m``, ``1h``, ``1d``, ``W1``, ``MN1`` (any case) to a Timeframe.

    Raises:
        ValueError: the text names no MT5 timeframe; the message lists the allowed spellings.
    """
    raw = str(text).strip().upper()
    if raw in Timeframe.__members__:
        return Timeframe[raw]
    if raw in _ALIASES:
        return _ALIASES[raw]
    m = _SUFFIX.match(raw)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        name = {"M": "M", "MIN": "M", "H": "H", "D": "D", "W": "W"}[unit] + str(n)
        if name in Timeframe.__members__:
            return Timeframe[name]
    allowed = ", ".join(Timeframe.__members__) + " (also 15m / 1h / 4h / 1d style)"
    raise ValueError(f"unknown timeframe {text!r}; allowed: {allowed}")
