"""Bollinger Bands (TA-Lib ``BBANDS`` with an SMA middle band), streaming. Price units."""

from __future__ import annotations

import math
from collections import deque

from trademaestro.indicators.base import NAN, check_period


class BollingerBands:
    """John Bollinger's bands: SMA ± ``nbdev`` population standard deviations.

    Formula (TA-Lib ``TA_BBANDS``, ``matype = SMA``, ``nbdevup = nbdevdn = nbdev``):
    ``middle = SMA(period)`` (running sum, as :class:`~trademaestro.indicators.moving.SMA`);
    ``sd`` = population standard deviation (divide by ``period``) of the same window;
    ``upper = middle + nbdev * sd``, ``lower = middle - nbdev * sd``.

    The variance follows TA-Lib's cancellation-free scheme (``var.c``): running sums of
    ``x - shift`` and ``(x - shift)^2`` for a shift near the window, rebuilt with a fresh
    two-pass over the window when the variance drops below 1e-6 of the largest mean squared
    deviation seen since the last rebuild, or every ``32 * period`` bars. This keeps the
    update O(1) amortised and the values equal to TA-Lib's.

    Lookback: ``period - 1`` bars.

    Raises:
        ValueError: ``period`` not an integer from 2 to 100000, or ``nbdev`` not a finite
            number >= 0.
    """

    __slots__ = (
        "_inv",
        "_ma_total",
        "_peak",
        "_reseed_in",
        "_shift",
        "_sum1",
        "_sum2",
        "_window",
        "lookback",
        "nbdev",
        "period",
    )

    def __init__(self, period: int = 20, nbdev: float = 2.0) -> None:
        self.period = check_period("Bollinger period", period, 2)
        if (
            isinstance(nbdev, bool)
            or not isinstance(nbdev, (int, float))
            or not math.isfinite(nbdev)
            or nbdev < 0
        ):
            raise ValueError(
                f"Bollinger deviation multiplier: found {nbdev!r}; allowed: a finite number >= 0"
            )
        self.nbdev = float(nbdev)
        self.lookback = self.period - 1
        self._inv = 1.0 / float(self.period)
        self._window: deque[float] = deque()
        self._ma_total = 0.0
        self._shift = NAN
        self._sum1 = 0.0
        self._sum2 = 0.0
        self._peak = 0.0
        self._reseed_in = 32 * self.period

    def update(self, value: float) -> tuple[float, float, float]:
        """Consume one close; return ``(upper, middle, lower)`` or three NaN in warm-up."""
        window = self._window
        window.append(value)
        if len(window) < self.period:
            if len(window) == 1:
                self._shift = value
            self._ma_total += value
            delta = value - self._shift
            self._sum1 += delta
            self._sum2 += delta * delta
            self._peak = self._sum2
            return NAN, NAN, NAN
        inv = self._inv
        shift = self._shift
        ma_total = self._ma_total + value
        delta = value - shift
        sum1 = self._sum1 + delta
        delta *= delta
        sum2 = self._sum2 + delta
        peak = sum2 if sum2 > self._peak else self._peak
        mean1 = sum1 * inv
        variance = sum2 * inv - mean1 * mean1
        middle = ma_total / self.period
        trailing = window.popleft()
        ma_total -= trailing
        delta = trailing - shift
        sum1 -= delta
        delta *= delta
        sum2 -= delta
        self._reseed_in -= 1
        if variance < 0.000001 * (peak * inv) or self._reseed_in <= 0:
            variance, shift, sum1, sum2, peak = self._rebuild(trailing, value)
        self._ma_total = ma_total
        self._shift = shift
        self._sum1 = sum1
        self._sum2 = sum2
        self._peak = peak
        band = (math.sqrt(variance) if variance > 0.0 else 0.0) * self.nbdev
        return middle + band, middle, middle - band

    def _rebuild(self, trailing: float, value: float) -> tuple[float, float, float, float, float]:
        """Fresh two-pass sums over ``[trailing] + window`` (TA-Lib ``var.c`` reseed).

        Returns ``(variance, shift, sum1, sum2, peak)`` with the trailing value removed again.
        """
        self._reseed_in = 32 * self.period
        inv = self._inv
        values = [trailing, *self._window]
        total = 0.0
        for item in values:
            total += item
        shift = total * inv
        variance, sum1, sum2 = _shifted_sums(values, shift, inv)
        if variance < 0.000001 * (sum2 * inv):
            # A window flat to within its own rounding: anchor on one of its own values.
            shift = value
            variance, sum1, sum2 = _shifted_sums(values, shift, inv)
        peak = sum2
        if variance < 0.000000000001 * (sum2 * inv):
            variance = 0.0
        delta = trailing - shift
        sum1 -= delta
        delta *= delta
        sum2 -= delta
        return variance, shift, sum1, sum2, peak


def _shifted_sums(values: list[float], shift: float, inv: float) -> tuple[float, float, float]:
    """``(variance, sum(x - shift), sum((x - shift)^2))`` in TA-Lib's order of operations."""
    sum1 = 0.0
    sum2 = 0.0
    for item in values:
        delta = item - shift
        sum1 += delta
        delta *= delta
        sum2 += delta
    mean1 = sum1 * inv
    return sum2 * inv - mean1 * mean1, sum1, sum2
