"""Wilder's Relative Strength Index (TA-Lib ``RSI``), streaming. Output in [0, 100]."""

from __future__ import annotations

from trademaestro.indicators.base import NAN, check_period


class RSI:
    """Wilder's RSI of a series (normally close prices).

    Formula (TA-Lib ``TA_RSI``, default compatibility, J. Welles Wilder, *New Concepts in
    Technical Trading Systems*, 1978): over the first ``period`` changes, average gain and
    average loss are simple averages; afterwards ``avg = (avg * (period - 1) + change) / period``
    (Wilder smoothing, computed as TA-Lib does: ``(avg * (period - 1) + change) * (1 / period)``).
    ``RSI = 100 * avg_gain / (avg_gain + avg_loss)``, and 0 when both
    averages are exactly 0 (a flat series), as TA-Lib does.

    Lookback: ``period`` bars (a change needs two bars).

    Raises:
        ValueError: ``period`` is not an integer from 2 to 100000 (TA-Lib's range).
    """

    __slots__ = ("_count", "_gain", "_inv", "_loss", "_prev", "lookback", "period")

    def __init__(self, period: int = 14) -> None:
        self.period = check_period("RSI period", period, 2)
        self.lookback = self.period
        self._count = 0
        self._gain = 0.0
        self._loss = 0.0
        self._prev = NAN
        self._inv = 1.0 / float(self.period)

    def update(self, value: float) -> float:
        """Consume one value; return the RSI after it, or NaN during the warm-up."""
        seen = self._count
        change = value - self._prev
        self._prev = value
        period = self.period
        if seen > period:
            loss = self._loss * float(period - 1)
            gain = self._gain * float(period - 1)
            if change < 0.0:
                loss -= change
            else:
                gain += change
            loss *= self._inv
            gain *= self._inv
        else:
            self._count = seen + 1
            if seen == 0:  # first value: no change yet
                return NAN
            if change < 0.0:
                self._loss -= change
            else:
                self._gain += change
            if seen < period:
                return NAN
            loss = self._loss * self._inv
            gain = self._gain * self._inv
        self._loss = loss
        self._gain = gain
        total = gain + loss
        if total > 0.0:
            return 100.0 * (gain / total)
        return 0.0
