"""Slow Stochastic oscillator %K/%D (TA-Lib ``STOCH`` with SMA smoothing), streaming.

Outputs in [0, 100].
"""

from __future__ import annotations

import math
from collections import deque

from trademaestro.indicators.base import NAN, check_period
from trademaestro.indicators.moving import SMA


class Stochastic:
    """George Lane's slow stochastic.

    Formula (TA-Lib ``TA_STOCH`` with ``slowk_matype = slowd_matype = SMA``):

    * fast %K = ``100 * ((close - LL) / (HH - LL))`` where HH/LL are the highest high and lowest
      low of the last ``fastk`` bars (today included); 0 when ``HH == LL``;
    * slow %K = SMA(fast %K, ``slowk``); slow %D = SMA(slow %K, ``slowd``).

    Both outputs start together at TA-Lib's lookback ``(fastk-1) + (slowk-1) + (slowd-1)``.
    The highest high / lowest low are tracked with monotonic deques: O(1) amortised per bar.

    Raises:
        ValueError: a period is not an integer from 1 to 100000.
    """

    __slots__ = (
        "_d",
        "_high_idx",
        "_high_val",
        "_index",
        "_k",
        "_low_idx",
        "_low_val",
        "fastk",
        "lookback",
        "slowd",
        "slowk",
    )

    def __init__(self, fastk: int = 14, slowk: int = 3, slowd: int = 3) -> None:
        self.fastk = check_period("Stochastic %K period", fastk, 1)
        self.slowk = check_period("Stochastic %K slowing period", slowk, 1)
        self.slowd = check_period("Stochastic %D period", slowd, 1)
        self.lookback = (self.fastk - 1) + (self.slowk - 1) + (self.slowd - 1)
        self._k = SMA(self.slowk)
        self._d = SMA(self.slowd)
        self._index = 0
        self._low_idx: deque[int] = deque()
        self._low_val: deque[float] = deque()
        self._high_idx: deque[int] = deque()
        self._high_val: deque[float] = deque()

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        """Consume one bar; return ``(slow %K, slow %D)``, or two NaN during the warm-up."""
        index = self._index
        self._index = index + 1
        expired = index - self.fastk
        low_idx, low_val = self._low_idx, self._low_val
        while low_val and low_val[-1] >= low:
            low_val.pop()
            low_idx.pop()
        low_val.append(low)
        low_idx.append(index)
        if low_idx[0] <= expired:
            low_idx.popleft()
            low_val.popleft()
        high_idx, high_val = self._high_idx, self._high_val
        while high_val and high_val[-1] <= high:
            high_val.pop()
            high_idx.pop()
        high_val.append(high)
        high_idx.append(index)
        if high_idx[0] <= expired:
            high_idx.popleft()
            high_val.popleft()
        if index < self.fastk - 1:
            return NAN, NAN
        lowest = low_val[0]
        diff = high_val[0] - lowest
        fast_k = 100.0 * ((close - lowest) / diff) if diff != 0.0 else 0.0
        slow_k = self._k.update(fast_k)
        if math.isnan(slow_k):  # %K still warming up
            return NAN, NAN
        slow_d = self._d.update(slow_k)
        if math.isnan(slow_d):
            return NAN, NAN
        return slow_k, slow_d
