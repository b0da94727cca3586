"""What every streaming indicator shares: the warm-up value and period validation.

Every indicator in this package is one small state machine whose ``update(...)`` consumes one
closed bar in O(1) (CCI: O(period)) and returns that bar's value, or ``NAN`` while the indicator
is still warming up. Batch values over whole arrays are produced by running the same
``update`` over the bars (see :mod:`trademaestro.indicators.engine`), so a live run that feeds
bars one at a time and a backtest that feeds them all at once get bit-identical values.

The arithmetic of each ``update`` mirrors TA-Lib's C implementation operation for operation
(same seeding, same order of additions), which is what makes the values equal to TA-Lib's.
"""

from __future__ import annotations

import math

NAN = float("nan")

# TA-Lib accepts periods up to 100000 for every function used here.
MAX_PERIOD = 100_000


def check_period(name: str, value: object, minimum: int) -> int:
    """Validate one integer period parameter of an indicator constructor.

    Args:
        name: what the period is, for the message (``"EMA period"``).
        value: the value given.
        minimum: the smallest allowed value (1, or 2 where TA-Lib requires it).

    Returns:
        The period as an ``int``.

    Raises:
        ValueError: ``value`` is not an integer in ``[minimum, MAX_PERIOD]`` (bools rejected).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"{name}: found {value!r}; allowed: an integer from {minimum} to {MAX_PERIOD}"
        )
    if not minimum <= value <= MAX_PERIOD:
        raise ValueError(
            f"{name}: found {value}; allowed: an integer from {minimum} to {MAX_PERIOD}"
        )
    return value


_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's constant for splitting a double in halves


def fused_multiply_add(a: float, b: float, c: float) -> float:
    """``a * b + c`` rounded once, like C's ``fma()`` (Python 3.11 has no ``math.fma``).

    TA-Lib (0.6 and later) fuses the multiply-add of some recurrences; indicators whose outputs
    are differences of nearly equal numbers (MACD) need the same single rounding to agree with
    it to the last bit. Method: Dekker's exact product ``a * b = p + e`` (Veltkamp split), then
    ``math.fsum``, which rounds ``p + e + c`` correctly. Exact for finite inputs whose product
    neither overflows nor underflows; otherwise falls back to ``a * b + c``.
    """
    p = a * b
    if p - p != 0.0 or abs(p) > 1e290 or (p != 0.0 and abs(p) < 1e-290):
        return p + c  # inf/NaN, or too close to overflow/underflow for the split
    t = _SPLITTER * a
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = _SPLITTER * b
    b_hi = t - (t - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return math.fsum((p, e, c))
