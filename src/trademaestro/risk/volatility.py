"""``reduceInHighVolatility``: smaller positions when the ATR is high relative to its own average.

ratio = ATR(``atrPeriod``) / SMA(ATR, ``volatilityLookback``) (both of the last closed bar, price
units, so the ratio has no unit). When ratio > ``volatilityThreshold`` the size is multiplied by
``threshold / ratio`` (always < 1: at twice the threshold, half size); otherwise by 1.0. The
average is TA-Lib's ``SMA(ATR(high, low, close, atrPeriod), volatilityLookback)``.
"""

from __future__ import annotations

import math

from trademaestro.execution.plan import SizingRule
from trademaestro.indicators.atr import ATR
from trademaestro.indicators.moving import SMA


def volatility_ratio(atr: float, atr_average: float) -> float:
    """``atr / atr_average`` (no unit), or NaN when either is unknown or the average is <= 0."""
    if not (math.isfinite(atr) and math.isfinite(atr_average) and atr_average > 0 and atr >= 0):
        return math.nan
    return atr / atr_average


def volatility_multiplier(atr: float, atr_average: float, threshold: float) -> tuple[float, str]:
    """The size multiplier of ``reduceInHighVolatility`` and its reason.

    Args:
        atr: ATR of the last closed bar, price units.
        atr_average: SMA of the ATR over ``volatilityLookback`` bars, price units.
        threshold: ``volatilityThreshold`` (> 0), a ratio.

    Returns:
        ``(threshold / ratio, reason)`` when ratio > threshold, else ``(1.0, reason)``; with an
        unknown ATR or average (NaN, warm-up) ``(1.0, "unknown ...")``.

    Raises:
        ValueError: ``threshold`` is not a finite number > 0.
    """
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"volatilityThreshold: found {threshold!r}; allowed: a number > 0")
    ratio = volatility_ratio(atr, atr_average)
    if math.isnan(ratio):
        return 1.0, f"unknown volatility (ATR {atr!r}, average {atr_average!r}): full size"
    if ratio > threshold:
        multiplier = threshold / ratio
        return multiplier, (
            f"high volatility: ATR {atr:.5g} is {ratio:.3f} × its average "
            f"{atr_average:.5g} > {threshold:g}: size × {multiplier:.4f}"
        )
    return 1.0, (
        f"ATR {atr:.5g} is {ratio:.3f} × its average {atr_average:.5g} <= {threshold:g}: full size"
    )


def rule_multiplier(rule: SizingRule, atr: float, atr_average: float) -> tuple[float, str]:
    """The volatility multiplier of a sizing rule: :func:`volatility_multiplier` when
    ``rule.volatility_threshold`` is set (``reduceInHighVolatility``), else ``(1.0, "")``."""
    if rule.volatility_threshold is None:
        return 1.0, ""
    return volatility_multiplier(atr, atr_average, rule.volatility_threshold)


class AtrAverage:
    """Streaming ATR(``period``) and its SMA over ``lookback`` bars (price units).

    Equal to TA-Lib ``ATR(period)`` and ``SMA(ATR, lookback)`` (to the last few ulps): the first
    ATR is on bar ``period``, the first average on bar ``period + lookback - 1`` (0-based).

    Raises:
        ValueError: a period that is not an integer from 1 to 100000.
    """

    __slots__ = ("_atr", "_sma", "average", "value")

    def __init__(self, period: int = 14, lookback: int = 50) -> None:
        self._atr = ATR(period)
        self._sma = SMA(lookback)
        self.value = math.nan
        self.average = math.nan

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        """Consume one closed bar; return ``(atr, atr_average)``, NaN during the warm-up."""
        value = self._atr.update(high, low, close)
        self.value = value
        if not math.isnan(value):
            self.average = self._sma.update(value)
        return value, self.average
