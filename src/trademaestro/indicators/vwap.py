"""Volume-weighted average price, reset every broker server day, streaming.

Not a TA-Lib function. Price units.
"""

from __future__ import annotations

SECONDS_PER_DAY = 86_400


class VWAP:
    """Intraday VWAP of the typical price, weighted by tick volume.

    Formula: ``tp = (H + L + C) / 3``; ``VWAP = sum(tp * volume) / sum(volume)`` over the bars of
    the current broker server day (``time // 86400``, server time in seconds; a new day resets
    the sums). While the day's volume so far is 0 the value is the bar's typical price.

    Lookback: 0 (every bar has a value).
    """

    __slots__ = ("_day", "_pv", "_volume", "lookback")

    def __init__(self) -> None:
        self.lookback = 0
        self._day: int | None = None
        self._pv = 0.0
        self._volume = 0.0

    def update(self, time: int, high: float, low: float, close: float, volume: float) -> float:
        """Consume one bar (``time`` = bar open, broker server seconds); return the VWAP."""
        typical = (high + low + close) / 3
        day = time // SECONDS_PER_DAY
        if day != self._day:
            self._day = day
            self._pv = 0.0
            self._volume = 0.0
        self._pv += typical * volume
        self._volume += volume
        if self._volume > 0.0:
            return self._pv / self._volume
        return typical
