"""Simple and exponential moving averages (TA-Lib ``SMA`` and ``EMA``), streaming.

Inputs and outputs are in the input's units (price units for prices).
"""

from __future__ import annotations

from collections import deque

from trademaestro.indicators.base import NAN, check_period


class SMA:
    """Simple moving average of the last ``period`` values.

    Formula (TA-Lib ``TA_SMA``): a running sum. Each bar adds the new value, the output is
    ``sum / period``, then the value leaving the window is subtracted. Keeping TA-Lib's order of
    operations keeps the sum's rounding, and so the values, equal to TA-Lib's.

    Lookback: ``period - 1`` bars (the first ``period - 1`` outputs are NaN).

    Raises:
        ValueError: ``period`` is not an integer from 1 to 100000.
    """

    __slots__ = ("_total", "_window", "lookback", "period")

    def __init__(self, period: int) -> None:
        self.period = check_period("SMA period", period, 1)
        self.lookback = self.period - 1
        self._total = 0.0
        self._window: deque[float] = deque()

    def update(self, value: float) -> float:
        """Consume one value; return the average of the last ``period`` values, or NaN."""
        window = self._window
        window.append(value)
        self._total += value
        if len(window) < self.period:
            return NAN
        total = self._total
        self._total = total - window.popleft()
        return total / self.period


class EMA:
    """Exponential moving average with ``k = 2 / (period + 1)``.

    Formula (TA-Lib ``TA_EMA``, default compatibility): the first value is the simple average
    of the first ``period`` inputs (summed from 0.0 in input order), then
    ``ema = (x - ema) * k + ema``.

    Lookback: ``period - 1`` bars.

    Raises:
        ValueError: ``period`` is not an integer from 1 to 100000.
    """

    __slots__ = ("_count", "_k", "_sum", "_value", "lookback", "period")

    def __init__(self, period: int) -> None:
        self.period = check_period("EMA period", period, 1)
        self.lookback = self.period - 1
        self._k = 2.0 / float(self.period + 1)
        self._count = 0
        self._sum = 0.0
        self._value = NAN

    def update(self, value: float) -> float:
        """Consume one value; return the EMA after it, or NaN during the warm-up."""
        if self._count >= self.period:
            prev = self._value
            prev = (value - prev) * self._k + prev
            self._value = prev
            return prev
        self._count += 1
        self._sum += value
        if self._count < self.period:
            return NAN
        self._value = self._sum / self.period
        return self._value
