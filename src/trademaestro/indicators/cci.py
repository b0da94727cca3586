"""Commodity Channel Index (TA-Lib ``CCI``), streaming. Unbounded, typically within ±300."""

from __future__ import annotations

from trademaestro.indicators.base import NAN, check_period

# TA-Lib's flatness test (TA_IS_ZERO_SCALED): a difference within 1e-14 of the price level is 0.
_FLAT = 1e-14


class CCI:
    """Donald Lambert's Commodity Channel Index over the typical price ``(H + L + C) / 3``.

    Formula (TA-Lib ``TA_CCI``): over the last ``period`` typical prices, ``avg`` is their mean
    and ``md`` their mean absolute deviation from ``avg``;
    ``CCI = (tp - avg) / (0.015 * md)``. When ``tp - avg`` or ``md`` is within 1e-14 of
    ``|avg|`` (a flat window, where only rounding residue is left) the value is 0, as TA-Lib
    does. Sums run over TA-Lib's circular buffer in slot order so the rounding matches.

    Cost: O(period) per bar (the mean deviation needs the whole window).
    Lookback: ``period - 1`` bars.

    Raises:
        ValueError: ``period`` is not an integer from 2 to 100000 (TA-Lib's range).
    """

    __slots__ = ("_buffer", "_count", "_slot", "lookback", "period")

    def __init__(self, period: int = 20) -> None:
        self.period = check_period("CCI period", period, 2)
        self.lookback = self.period - 1
        self._buffer = [0.0] * self.period
        self._slot = 0
        self._count = 0

    def update(self, high: float, low: float, close: float) -> float:
        """Consume one bar; return the CCI after it, or NaN during the warm-up."""
        last = (high + low + close) / 3
        buffer = self._buffer
        buffer[self._slot] = last
        slot = self._slot + 1
        self._slot = 0 if slot == self.period else slot
        if self._count < self.lookback:
            self._count += 1
            return NAN
        average = 0.0
        for value in buffer:
            average += value
        average /= self.period
        deviation = 0.0
        for value in buffer:
            deviation += abs(value - average)
        deviation /= self.period
        distance = last - average
        scale = _FLAT * abs(average)
        if abs(distance) <= scale or abs(deviation) <= scale:
            return 0.0
        return distance / (0.015 * deviation)
