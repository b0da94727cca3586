"""Moving Average Convergence/Divergence (TA-Lib ``MACD``), streaming.

Outputs (price units): MACD line, signal line, histogram.
"""

from __future__ import annotations

from trademaestro.indicators.base import NAN, check_period
from trademaestro.indicators.base import fused_multiply_add as _fma


class MACD:
    """MACD line ``EMA(fast) - EMA(slow)``, its signal ``EMA(signal)`` and the histogram.

    Formula (Gerald Appel; TA-Lib ``TA_MACD``, default compatibility):

    * the slow EMA is seeded by the simple average of bars ``0 .. slow-1``;
    * the fast EMA is seeded by the simple average of the ``fast`` bars that END on the same
      bar (``slow-fast .. slow-1``): TA-Lib aligns both seeds on bar ``slow-1``, so the fast
      EMA ignores the first ``slow - fast`` bars;
    * the signal EMA is seeded by the simple average of the first ``signal`` MACD-line values
      (bars ``slow-1 .. slow+signal-2``);
    * each EMA step is ``ema = fma(x - ema, k, ema)`` with ``k = 2 / (period + 1)``, rounded
      once as TA-Lib does: the line and histogram are differences of nearly equal numbers, so
      this keeps them equal to TA-Lib's to the last bit;
    * histogram = line - signal.

    All three outputs start together, at TA-Lib's lookback ``(slow - 1) + (signal - 1)``;
    earlier bars are NaN, even where the line alone would be computable.

    Raises:
        ValueError: ``fast``/``slow`` not integers from 2 to 100000, ``signal`` not from 1 to
            100000, or ``fast >= slow`` (TA-Lib silently swaps them; we refuse instead).
    """

    __slots__ = (
        "_count",
        "_fast",
        "_fast_k",
        "_fast_sum",
        "_signal",
        "_signal_k",
        "_signal_sum",
        "_slow",
        "_slow_k",
        "_slow_sum",
        "fast",
        "lookback",
        "signal",
        "slow",
    )

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast = check_period("MACD fast period", fast, 2)
        self.slow = check_period("MACD slow period", slow, 2)
        self.signal = check_period("MACD signal period", signal, 1)
        if self.fast >= self.slow:
            raise ValueError(f"MACD periods: found fast={fast}, slow={slow}; allowed: fast < slow")
        self.lookback = (self.slow - 1) + (self.signal - 1)
        self._fast_k = 2.0 / float(self.fast + 1)
        self._slow_k = 2.0 / float(self.slow + 1)
        self._signal_k = 2.0 / float(self.signal + 1)
        self._count = 0
        self._fast_sum = 0.0
        self._slow_sum = 0.0
        self._signal_sum = 0.0
        self._fast = NAN
        self._slow = NAN
        self._signal = NAN

    def update(self, value: float) -> tuple[float, float, float]:
        """Consume one close; return ``(line, signal, histogram)`` or three NaN in warm-up."""
        seen = self._count
        if seen > self.lookback:  # steady state
            fast = self._fast = _fma(value - self._fast, self._fast_k, self._fast)
            slow = self._slow = _fma(value - self._slow, self._slow_k, self._slow)
            line = fast - slow
            sig = self._signal = _fma(line - self._signal, self._signal_k, self._signal)
            return line, sig, line - sig
        self._count = seen + 1
        if seen < self.slow:  # inside the seed window of the slow EMA
            self._slow_sum += value
            if seen >= self.slow - self.fast:
                self._fast_sum += value
            if seen < self.slow - 1:
                return NAN, NAN, NAN
            self._slow = self._slow_sum / self.slow
            self._fast = self._fast_sum / self.fast
        else:
            self._fast = _fma(value - self._fast, self._fast_k, self._fast)
            self._slow = _fma(value - self._slow, self._slow_k, self._slow)
        line = self._fast - self._slow
        self._signal_sum += line
        if seen < self.lookback:
            return NAN, NAN, NAN
        sig = self._signal = self._signal_sum / self.signal
        return line, sig, line - sig
