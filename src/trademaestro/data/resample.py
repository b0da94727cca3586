"""Resampling bars to a higher timeframe, aligned to broker server time as MT5 builds them.

Boundaries (server time, the clock the bars are stamped in):

- M1…H12 and D1: multiples of the timeframe length counted from 00:00 of each day (every such
  length divides a day, so these are multiples from 1970-01-01 00:00);
- W1: weeks start Sunday 00:00 (MT5 stamps weekly bars on Sunday);
- MN1: the first day of the calendar month, 00:00.

Each output bar: ``open`` of the first source bar, ``high`` max, ``low`` min, ``close`` of the
last, ``tick_volume`` and ``real_volume`` summed, ``spread`` the minimum (MT5's rates spread is
commonly the minimum seen during the bar), ``time`` the boundary that opens it (not the first
source bar's time, which differs when the first minutes are missing).

The last output bar may be incomplete (the source data ended before its close); so may any bar
whose source bars have gaps (market breaks, holidays). Use :func:`bar_close_times` to know when
a bar is final: a bar is complete only once the clock has reached its close time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.timeframes import Timeframe
from trademaestro.data.spacing import modal_spacing, timeframe_of_seconds

I64 = npt.NDArray[np.int64]
_DAY = 86400
_WEEK = 7 * _DAY
_SUNDAY_OFFSET = 3 * _DAY  # 1970-01-01 was a Thursday; 1970-01-04 00:00 a Sunday


def _times(rates: np.ndarray) -> I64:
    if rates.dtype.names is None:
        return np.asarray(rates, dtype=np.int64)
    if "time" not in rates.dtype.names:
        raise ValueError(f"rates have no 'time' field; fields found: {rates.dtype.names}")
    return np.asarray(rates["time"], dtype=np.int64)


def _month_start(times: I64) -> I64:
    months = times.astype("datetime64[s]").astype("datetime64[M]")
    return months.astype("datetime64[s]").astype(np.int64)


def bar_open_times(times: npt.ArrayLike, timeframe: Timeframe) -> I64:
    """The open time of the ``timeframe`` bar holding each instant of ``times``.

    Args:
        times: server-time seconds (int64), any shape.
        timeframe: the bar timeframe.

    Returns:
        int64 seconds, same shape: floor to the timeframe's boundary (see module docstring).
    """
    t = np.asarray(times, dtype=np.int64)
    if timeframe is Timeframe.MN1:
        return _month_start(t)
    if timeframe is Timeframe.W1:
        return t - (t - _SUNDAY_OFFSET) % _WEEK
    return t - t % timeframe.seconds


def bar_close_times(rates: np.ndarray, timeframe: Timeframe) -> I64:
    """When each bar closes: its open time plus the timeframe length, in server-time seconds.

    Args:
        rates: ``RATES_DTYPE`` records (or an int64 array of open times).
        timeframe: the bars' timeframe. MN1 is calendar-aware: a monthly bar closes at the first
            of the next month (28 to 31 days later).

    Returns:
        int64 array, one per bar. A bar's values are final only at or after this time; using
        them earlier would be look-ahead.
    """
    t = _times(rates)
    if timeframe is Timeframe.MN1:
        months = t.astype("datetime64[s]").astype("datetime64[M]") + np.timedelta64(1, "M")
        return months.astype("datetime64[s]").astype(np.int64)
    return t + timeframe.seconds


def _check_source(times: I64, timeframe: Timeframe, source: Timeframe | None) -> None:
    if times.size > 1 and not bool((np.diff(times) > 0).all()):
        first = int(np.flatnonzero(np.diff(times) <= 0)[0]) + 1
        raise ValueError(
            f"bar times must strictly increase; bar {first} ({times[first]}) is not after "
            f"bar {first - 1} ({times[first - 1]})"
        )
    if source is None:
        spacing = modal_spacing(times)
        if spacing is None:
            return
        source = timeframe_of_seconds(spacing)
        label = f"{spacing} s ({source.name})" if source is not None else f"{spacing} s"
    else:
        if source is Timeframe.MN1:
            raise ValueError("MN1 bars cannot be resampled: no MT5 timeframe is longer")
        spacing, label = source.seconds, f"{source.seconds} s ({source.name})"
    if timeframe is Timeframe.MN1:
        fits = spacing <= _DAY and _DAY % spacing == 0
    else:
        fits = spacing <= timeframe.seconds and timeframe.seconds % spacing == 0
    if not fits:
        raise ValueError(
            f"cannot resample bars spaced {label} to {timeframe.name}: the target timeframe must "
            "be a whole multiple of the source spacing and not shorter"
        )
    phase = _SUNDAY_OFFSET if spacing == _WEEK else 0
    misaligned = (times - phase) % spacing != 0
    if bool(misaligned.any()):
        i = int(np.flatnonzero(misaligned)[0])
        raise ValueError(
            f"bar {i} opens at {times[i]} s, not on a {label} boundary; such a bar could span "
            f"a {timeframe.name} boundary"
        )


def resample(
    rates: np.ndarray, timeframe: Timeframe, *, source: Timeframe | None = None
) -> np.ndarray:
    """Aggregate bars to ``timeframe``.

    Args:
        rates: ``RATES_DTYPE`` records, strictly ascending ``time`` (server-time seconds), each
            bar opening on a boundary of its own spacing.
        timeframe: the target; a whole multiple of the source spacing (equal is allowed and
            re-buckets the bars unchanged).
        source: the timeframe of ``rates``; by default inferred as the most common gap between
            bars, which sparse data can overstate (two M1 bars two minutes apart look like
            M2): pass it when known.

    Returns:
        ``RATES_DTYPE`` records, one per target bar that holds at least one source bar, stamped
        with the boundary that opens it. The last bar may be incomplete.

    Raises:
        ValueError: wrong dtype, times not strictly ascending or not aligned, or a target that
            is shorter than / not a multiple of the source spacing (the most common gap).
    """
    if rates.dtype != RATES_DTYPE:
        raise ValueError(f"rates must have core.bars.RATES_DTYPE; found {rates.dtype}")
    times = _times(rates)
    _check_source(times, timeframe, source)
    if times.size == 0:
        return np.zeros(0, dtype=RATES_DTYPE)
    keys = bar_open_times(times, timeframe)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.concatenate((starts[1:], [times.size])) - 1
    out = np.zeros(starts.size, dtype=RATES_DTYPE)
    out["time"] = keys[starts]
    out["open"] = rates["open"][starts]
    out["high"] = np.maximum.reduceat(rates["high"], starts)
    out["low"] = np.minimum.reduceat(rates["low"], starts)
    out["close"] = rates["close"][ends]
    out["tick_volume"] = np.add.reduceat(rates["tick_volume"], starts)
    out["real_volume"] = np.add.reduceat(rates["real_volume"], starts)
    out["spread"] = np.minimum.reduceat(rates["spread"], starts)
    return out
