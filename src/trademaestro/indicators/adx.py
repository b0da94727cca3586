"""Wilder's directional movement: ADX, +DI and -DI (TA-Lib ``ADX``, ``PLUS_DI``,
``MINUS_DI``), streaming. All three outputs are in [0, 100].
"""

from __future__ import annotations

import math

from trademaestro.indicators.base import NAN, check_period


class ADX:
    """Average Directional Index with its +DI and -DI.

    Formula (J. Welles Wilder, *New Concepts in Technical Trading Systems*, 1978; TA-Lib
    ``TA_ADX``/``TA_PLUS_DI``/``TA_MINUS_DI``, without Wilder's integer rounding):

    * one-bar moves ``up = high - prev_high``, ``down = prev_low - low``; ``+DM1 = up`` when
      ``up > 0 and up > down``, ``-DM1 = down`` when ``down > 0 and down > up``, else 0;
    * ``+DM``, ``-DM`` and ``TR`` are first the sums over bars ``1 .. period-1``, then Wilder
      sums ``s = s - s / period + x`` from bar ``period`` on;
    * ``+DI = 100 * +DM / TR``, ``-DI = 100 * -DM / TR`` (0 when ``TR`` is 0), from bar
      ``period`` (lookback ``period``);
    * ``DX = 100 * |+DI - -DI| / (+DI + -DI)``; the first ADX, on bar ``2 * period - 1``, is
      the mean of the DX of bars ``period .. 2*period-1``; then
      ``adx = (adx * (period - 1) + dx) / period``. A bar whose TR or DI sum is 0 adds no DX
      (TA-Lib's rule).

    Lookback: ``2 * period - 1`` for ADX, ``period`` for +DI and -DI.

    Raises:
        ValueError: ``period`` is not an integer from 2 to 100000 (TA-Lib's ``ADX`` range;
            TA-Lib's ``PLUS_DI`` with period 1 returns an unscaled ratio, so we refuse it).
    """

    __slots__ = (
        "_adx",
        "_count",
        "_mdm",
        "_pdm",
        "_prev_close",
        "_prev_high",
        "_prev_low",
        "_sum_dx",
        "_tr",
        "di_lookback",
        "lookback",
        "period",
    )

    def __init__(self, period: int = 14) -> None:
        self.period = check_period("ADX period", period, 2)
        self.lookback = 2 * self.period - 1
        self.di_lookback = self.period
        self._count = 0
        self._pdm = 0.0
        self._mdm = 0.0
        self._tr = 0.0
        self._sum_dx = 0.0
        self._adx = NAN
        self._prev_high = NAN
        self._prev_low = NAN
        self._prev_close = NAN

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        """Consume one bar; return ``(adx, plus_di, minus_di)``, NaN where still warming up."""
        seen = self._count
        if seen == 0:
            self._count = 1
            self._prev_high = high
            self._prev_low = low
            self._prev_close = close
            return NAN, NAN, NAN
        period = self.period
        diff_p = high - self._prev_high
        diff_m = self._prev_low - low
        prev_close = self._prev_close
        self._prev_high = high
        self._prev_low = low
        self._prev_close = close
        tr = max(high - low, abs(high - prev_close), abs(low - prev_close))
        if seen < period:  # bars 1 .. period-1: plain sums
            self._count = seen + 1
            if diff_m > 0 and diff_p < diff_m:
                self._mdm += diff_m
            elif diff_p > 0 and diff_p > diff_m:
                self._pdm += diff_p
            self._tr += tr
            return NAN, NAN, NAN
        mdm = self._mdm
        pdm = self._pdm
        mdm -= mdm / period
        pdm -= pdm / period
        if diff_m > 0 and diff_p < diff_m:
            mdm += diff_m
        elif diff_p > 0 and diff_p > diff_m:
            pdm += diff_p
        prev_tr = self._tr
        prev_tr = prev_tr - prev_tr / period + tr
        self._mdm = mdm
        self._pdm = pdm
        self._tr = prev_tr
        if prev_tr > 0.0:
            minus_di = 100.0 * (mdm / prev_tr)
            plus_di = 100.0 * (pdm / prev_tr)
            di_sum = minus_di + plus_di
            dx = 100.0 * (abs(minus_di - plus_di) / di_sum) if di_sum > 0.0 else NAN
        else:
            minus_di = plus_di = 0.0
            dx = NAN
        if seen > self.lookback:  # steady state
            if not math.isnan(dx):  # a DX exists for this bar
                self._adx = (self._adx * (period - 1) + dx) / period
            return self._adx, plus_di, minus_di
        self._count = seen + 1
        if not math.isnan(dx):
            self._sum_dx += dx
        if seen < self.lookback:
            return NAN, plus_di, minus_di
        self._adx = self._sum_dx / period
        return self._adx, plus_di, minus_di
