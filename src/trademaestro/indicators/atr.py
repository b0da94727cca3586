"""True range and Wilder's Average True Range (TA-Lib ``TRANGE``/``ATR``), streaming.

Price units (the symbol's quote currency per unit), not points or pips.
"""

from __future__ import annotations

from trademaestro.indicators.base import NAN, check_period


def true_range(high: float, low: float, prev_close: float) -> float:
    """``max(high - low, |high - prev_close|, |low - prev_close|)`` (Wilder; TA-Lib ``TRANGE``)."""
    return max(high - low, abs(high - prev_close), abs(low - prev_close))


class ATR:
    """Wilder's Average True Range.

    Formula (TA-Lib ``TA_ATR``): the first value, on bar ``period``, is the simple average of
    the true ranges of bars ``1 .. period`` (bar 0 has no previous close); afterwards Wilder's
    smoothing ``atr = alpha * tr + beta * atr`` with ``beta = (period - 1) / period`` and
    ``alpha = 1 - beta``. TA-Lib fuses that multiply-add (one rounding); this pure-Python step
    rounds twice, so values agree with TA-Lib's to a few units in the last place (~1e-15
    relative), not always bit for bit.

    Lookback: ``period`` bars.

    Raises:
        ValueError: ``period`` is not an integer from 1 to 100000.
    """

    __slots__ = (
        "_alpha",
        "_beta",
        "_count",
        "_prev_close",
        "_sum",
        "_value",
        "lookback",
        "period",
    )

    def __init__(self, period: int = 14) -> None:
        self.period = check_period("ATR period", period, 1)
        self.lookback = self.period
        self._count = 0
        self._sum = 0.0
        self._value = NAN
        self._prev_close = NAN
        # TA-Lib's two-coefficient Wilder step: beta first, alpha = 1 - beta (exactly 1 in sum).
        self._beta = float(self.period - 1) / float(self.period)
        self._alpha = 1.0 - self._beta

    def update(self, high: float, low: float, close: float) -> float:
        """Consume one bar; return the ATR after it (price units), or NaN during the warm-up."""
        prev_close = self._prev_close
        self._prev_close = close
        seen = self._count
        period = self.period
        if seen > period:
            tr = high - low
            other = abs(high - prev_close)
            if other > tr:  # noqa: PLR1730 (hot path: an if is faster than max())
                tr = other
            other = abs(low - prev_close)
            if other > tr:  # noqa: PLR1730
                tr = other
            value = self._alpha * tr + self._beta * self._value
            self._value = value
            return value
        self._count = seen + 1
        if seen == 0:
            return NAN
        self._sum += true_range(high, low, prev_close)
        if seen < period:
            return NAN
        self._value = self._sum / float(period)
        return self._value
