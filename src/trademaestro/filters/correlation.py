"""Correlation filter: no new exposure that moves with a position the account already holds.

For each symbol in ``ctx.open_symbols`` other than ``ctx.symbol`` (sorted by name):

1. closes of both symbols' closed bars whose time lies in ``[t - lookbackDays × 86400, t)``
   (``t`` = decision time, broker server time; a :class:`BarSource` supplies them);
2. the bars aligned by timestamp (intersection of the two time sets);
3. simple returns ``c[i] / c[i-1] - 1`` of consecutive aligned closes;
4. Pearson's correlation of the two return series (as ``numpy.corrcoef``).

``|corr| > threshold`` denies, naming the symbol and the value. No data for a symbol (the source
answers None), fewer than ``min_returns`` aligned returns, or a constant series (no variance) are
not evidence of correlation: that symbol passes, and the verdict's reason says why. Without a bar
source the filter allows with the reason ``no bar source``.

Cost: O(bars in the window) per held symbol; results are cached for the last decision time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from trademaestro.core.errors import BrokerError, ConfigError
from trademaestro.core.servertime import DAY
from trademaestro.core.timeframes import Timeframe
from trademaestro.filters.base import EntryContext, Verdict
from trademaestro.strategy.limits import CorrelationFilter as CorrelationModel

#: Fewer aligned returns than this cannot show a correlation: the symbol passes.
MIN_RETURNS = 20


class BarSource(Protocol):
    """Closed bars of any symbol, for the correlation filter (read-only, no side effects)."""

    def closes(self, symbol: str, start_time: int,
               end_time: int) -> tuple[NDArray[np.int64], NDArray[np.float64]] | None:
        """``(times, closes)`` of the closed bars of ``symbol`` whose open time ``time``
        satisfies ``start_time <= time < end_time`` (broker server seconds), ascending by time;
        closes in price units. None when the symbol has no data at all."""
        ...


class RatesBarSource:
    """A :class:`BarSource` over in-memory MT5 rates arrays (``RATES_DTYPE``, ascending time).

    A bar counts as closed at ``end_time`` when ``time + timeframe_seconds <= end_time``, so a
    backtest holding the whole file never looks ahead.

    Args:
        rates: symbol → rates array (times: broker server seconds).
        timeframe_seconds: the bars' length (900 for M15).
    """

    def __init__(self, rates: Mapping[str, NDArray[Any]], timeframe_seconds: int) -> None:
        if timeframe_seconds < 1:
            raise ConfigError(f"bar source timeframe: found {timeframe_seconds} s; allowed: > 0")
        self._data = {name: (np.ascontiguousarray(r["time"], dtype=np.int64),
                             np.ascontiguousarray(r["close"], dtype=np.float64))
                      for name, r in rates.items()}
        self._tf = timeframe_seconds

    def closes(self, symbol: str, start_time: int,
               end_time: int) -> tuple[NDArray[np.int64], NDArray[np.float64]] | None:
        """See :meth:`BarSource.closes`; O(log n) plus views (no copies)."""
        data = self._data.get(symbol)
        if data is None:
            return None
        times, closes = data
        lo = int(np.searchsorted(times, start_time, side="left"))
        hi = int(np.searchsorted(times, end_time - self._tf, side="right"))
        hi = max(hi, lo)
        return times[lo:hi], closes[lo:hi]


class TerminalBarSource:
    """A :class:`BarSource` that asks the terminal at each decision (live mode: the bars of every
    held symbol are as fresh as the terminal's, whether or not a strategy trades that symbol).

    Args:
        closed_bars: ``closed_bars(symbol, timeframe, count)`` → the last ``count`` closed bars
            (``RATES_DTYPE``, oldest first), e.g. the broker adapter's.
        timeframe: the bars to correlate (the session's shortest timeframe).
        max_bars: cap of one request (the window's bars beyond it are not read).

    A failed request (unknown symbol, disconnected terminal) answers None: that symbol passes,
    and the verdict says it had no data.
    """

    def __init__(
        self,
        closed_bars: Callable[[str, Timeframe, int], NDArray[Any]],
        timeframe: Timeframe,
        max_bars: int = 20_000,
    ) -> None:
        self._closed_bars = closed_bars
        self._timeframe = timeframe
        self._tf = timeframe.seconds
        self._max = max_bars

    def closes(self, symbol: str, start_time: int,
               end_time: int) -> tuple[NDArray[np.int64], NDArray[np.float64]] | None:
        """See :meth:`BarSource.closes`: one ``closed_bars`` request sized to the window."""
        count = min(self._max, max(1, -(-(end_time - start_time) // self._tf) + 2))
        try:
            rates = self._closed_bars(symbol, self._timeframe, count)
        except BrokerError:
            return None
        times = np.ascontiguousarray(rates["time"], dtype=np.int64)
        keep = (times >= start_time) & (times + self._tf <= end_time)
        return times[keep], np.ascontiguousarray(rates["close"], dtype=np.float64)[keep]


def aligned_returns(a: tuple[NDArray[np.int64], NDArray[np.float64]],
                    b: tuple[NDArray[np.int64], NDArray[np.float64]]
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Simple returns of the two close series on their common bar times (steps 2–3 above)."""
    _, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    ca = np.asarray(a[1], dtype=np.float64)[ia]
    cb = np.asarray(b[1], dtype=np.float64)[ib]
    if len(ca) < 2:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty
    return ca[1:] / ca[:-1] - 1.0, cb[1:] / cb[:-1] - 1.0


def pearson(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Pearson's correlation coefficient of two equal-length series (NaN with no variance).

    Same value as ``numpy.corrcoef(x, y)[0, 1]`` (to rounding): centred cross product over the
    product of the centred norms."""
    dx = x - x.mean()
    dy = y - y.mean()
    denominator = float(np.sqrt(np.dot(dx, dx) * np.dot(dy, dy)))
    if not denominator > 0:
        return float("nan")
    return max(-1.0, min(1.0, float(np.dot(dx, dy)) / denominator))


class CorrelationFilter:
    """Deny when ``|corr| > threshold`` with any other symbol held (see the module docstring).

    Args:
        threshold: absolute correlation above which the entry is denied, in (0, 1].
        lookback_days: window length in days of 86400 s of server time (>= 1).
        bars: where closes come from; None → the filter allows ("no bar source").
        min_returns: fewest aligned returns to judge on.

    Raises:
        ConfigError: a threshold outside (0, 1], ``lookback_days < 1`` or ``min_returns < 2``.
    """

    name = "correlation"

    def __init__(self, *, threshold: float, lookback_days: int, bars: BarSource | None,
                 min_returns: int = MIN_RETURNS) -> None:
        if not 0 < threshold <= 1:
            raise ConfigError(f"correlation filter threshold: found {threshold!r}; allowed: "
                              "(0, 1]")
        if lookback_days < 1:
            raise ConfigError(f"correlation filter lookbackDays: found {lookback_days!r}; "
                              "allowed: >= 1")
        if min_returns < 2:
            raise ConfigError(f"correlation filter min_returns: found {min_returns}; allowed: "
                              ">= 2")
        self.threshold = threshold
        self.lookback_days = lookback_days
        self.min_returns = min_returns
        self._bars = bars
        self._cache_key: tuple[int, str, frozenset[str]] | None = None
        self._cache_value: Verdict | None = None

    @classmethod
    def from_model(cls, model: CorrelationModel, *, bars: BarSource | None,
                   min_returns: int = MIN_RETURNS) -> CorrelationFilter:
        """From the strategy's validated ``correlationFilter`` block."""
        return cls(threshold=model.threshold, lookback_days=model.lookbackDays, bars=bars,
                   min_returns=min_returns)

    def correlation(self, symbol: str, other: str, t: int) -> tuple[float | None, str]:
        """(corr or None, reason) of ``symbol`` with ``other`` over the window ending at server
        time ``t`` (exclusive)."""
        if self._bars is None:
            return None, "no bar source"
        start = t - self.lookback_days * DAY
        mine = self._bars.closes(symbol, start, t)
        if mine is None:
            return None, f"no data for {symbol}"
        theirs = self._bars.closes(other, start, t)
        if theirs is None:
            return None, f"no data for {other}"
        x, y = aligned_returns(mine, theirs)
        if len(x) < self.min_returns:
            return None, f"{len(x)} aligned returns with {other} (< {self.min_returns})"
        corr = pearson(x, y)
        if math.isnan(corr):  # a constant series
            return None, f"no price variation against {other}"
        return corr, f"corr with {other} {corr:+.3f}"

    def check(self, ctx: EntryContext) -> Verdict:
        """Deny on the first held symbol (by name) correlating above the threshold."""
        others = ctx.open_symbols - {ctx.symbol}
        if not others:
            return Verdict(self.name, True, 1.0, "no other open symbol")
        key = (ctx.time, ctx.symbol, others)
        if key == self._cache_key and self._cache_value is not None:
            return self._cache_value
        reasons: list[str] = []
        verdict: Verdict | None = None
        for other in sorted(others):
            corr, reason = self.correlation(ctx.symbol, other, ctx.time)
            if corr is not None and abs(corr) > self.threshold:
                verdict = Verdict(self.name, False, 1.0,
                                  f"{reason}: |corr| > {self.threshold:g}")
                break
            reasons.append(reason)
        if verdict is None:
            verdict = Verdict(self.name, True, 1.0, "; ".join(reasons))
        self._cache_key, self._cache_value = key, verdict
        return verdict

    def describe(self) -> str:
        """E.g. ``correlation: deny above |0.8| over 30 days``."""
        return (f"correlation: deny when |corr| > {self.threshold:g} with a held symbol over "
                f"{self.lookback_days} days")
