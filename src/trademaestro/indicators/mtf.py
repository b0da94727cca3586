"""Multi-timeframe series: higher-timeframe values aligned to the primary bars, no look-ahead.

A strategy runs on one *primary* timeframe (its bars arrive one by one as they close); a
condition may read a series of a *higher* timeframe (``SeriesKey.timeframe``, e.g. the H1
EMA(200) of an M15 strategy). :class:`MultiTimeframeEngine` computes both and aligns every
higher-timeframe (HTF) series to the primary bars:

``values(key)[i]`` is the value of the last HTF bar that is **closed** at the close of primary
bar ``i``: its end time (open time + its length; the first of the next calendar month for MN1)
is ``<=`` the close time of primary bar ``i`` (primary open time + primary length). All times
are broker server time in seconds. Before the first HTF bar is closed the value is NaN.

Where HTF bars come from:

- *resampled* (default): the primary bars are aggregated as they arrive by
  :class:`StreamingResampler`, which produces bars bit-identical to
  :func:`trademaestro.data.resample` on the same primary bars. An HTF bar is *complete* once a
  primary bar closing at or after its end has been seen. Normally that is the bucket's own last
  primary bar (the M15 bar opening 10:45 closes 11:00 and completes the H1 bar of 10:00). With
  a gap (market break, weekend, the early close before a holiday, e.g. Friday's last H4 bucket
  whose last bars are missing) it is the first primary bar of a later bucket, and the HTF bar is
  revealed at that bar's index, never earlier (nothing proves it is finished before then).
- *own file* (``sources[tf]``, the full rates of that timeframe, e.g. ``XAUUSD_H1.csv``): HTF
  bar ``k`` is revealed at the first primary index whose close time is ``>=`` its end. Bars
  ending before the first primary bar closes are history, revealed at index 0 (they warm the
  indicators up).

Each HTF series is computed by its own :class:`~trademaestro.indicators.engine.SeriesEngine`,
fed every completed HTF bar exactly once, in order, as soon as it is revealed; the engine runs
one ``update`` per bar whatever the chunking, so extending one primary bar at a time and all at
once give bit-identical values. A map ``primary index -> last revealed HTF bar`` does the
alignment (:meth:`MultiTimeframeEngine.revealed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.timeframes import Timeframe
from trademaestro.data.resample import bar_close_times, bar_open_times, resample
from trademaestro.indicators.engine import SeriesEngine
from trademaestro.indicators.keys import SeriesKey

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_DAY = 86400

__all__ = ["MultiTimeframeEngine", "StreamingResampler", "check_higher_timeframe"]


def check_higher_timeframe(primary: Timeframe, higher: Timeframe) -> None:
    """Check that bars of ``higher`` can be built from (and aligned to) bars of ``primary``.

    ``higher`` must be longer than ``primary`` and a whole multiple of it (MN1 needs a primary
    that divides a day: M1…D1), the rule :func:`trademaestro.data.resample` applies.

    Raises:
        ValueError: ``higher`` is lower than ``primary``, or not a whole multiple of it.
    """
    if higher.seconds < primary.seconds:
        raise ValueError(
            f"timeframe {higher.name}: found a timeframe lower than the primary {primary.name}; "
            f"allowed: {primary.name} or a higher timeframe (a lower timeframe's bars cannot be "
            "built from the primary bars)"
        )
    if higher is Timeframe.MN1:
        fits = primary.seconds <= _DAY and _DAY % primary.seconds == 0
    else:
        fits = higher.seconds % primary.seconds == 0
    if not fits or primary is Timeframe.MN1:
        raise ValueError(
            f"timeframe {higher.name}: found a timeframe that is not a whole multiple of the "
            f"primary {primary.name}; allowed: a timeframe whose bars are made of whole "
            f"{primary.name} bars"
        )


def _as_rates(rates: np.ndarray, what: str) -> np.ndarray:
    """``rates`` as a ``RATES_DTYPE`` array (fields copied by name; a missing ``real_volume``
    is 0)."""
    if not isinstance(rates, np.ndarray) or rates.ndim != 1 or rates.dtype.names is None:
        raise ValueError(f"{what}: found a non-structured or not 1-D array; allowed: RATES_DTYPE")
    if rates.dtype == RATES_DTYPE:
        return rates
    names = rates.dtype.names
    missing = [f for f in RATES_DTYPE.names or () if f not in names and f != "real_volume"]
    if missing:
        raise ValueError(f"{what}: missing fields {missing}; allowed: RATES_DTYPE")
    out = np.zeros(rates.shape[0], dtype=RATES_DTYPE)
    for name in RATES_DTYPE.names or ():
        if name in names:
            out[name] = rates[name]
    return out


def _check_aligned(times: IntArray, timeframe: Timeframe, what: str) -> None:
    off = np.flatnonzero(bar_open_times(times, timeframe) != times)
    if off.size:
        i = int(off[0])
        stamp = np.datetime64(int(times[i]), "s")
        raise ValueError(
            f"{what}[{i}].time: found {int(times[i])} ({stamp}), not on a {timeframe.name} "
            f"boundary; allowed: {timeframe.name} bars opening on their boundary (server time)"
        )


class _Growing:
    """A growing 1-D array (capacity doubling: appending is O(1) amortised)."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: npt.DTypeLike) -> None:
        self.data: np.ndarray = np.empty(64, dtype=dtype)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.size + values.shape[0]
        if need > self.data.shape[0]:
            grown = np.empty(max(need, 2 * self.data.shape[0]), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : need] = values
        self.size = need

    def view(self) -> np.ndarray:
        out = self.data[: self.size]
        out.flags.writeable = False
        return out

    def __deepcopy__(self, memo: dict[int, Any]) -> _Growing:
        """A copy sharing the storage (see ``engine._Buffer.__deepcopy__``)."""
        twin = _Growing.__new__(_Growing)
        twin.data = self.data
        twin.size = self.size
        return twin


class StreamingResampler:
    """Aggregates primary bars into ``target`` bars as they arrive.

    Args:
        primary: the timeframe of the bars pushed (each opening on its boundary).
        target: the higher timeframe (see :func:`check_higher_timeframe`).

    Completed bars are bit-identical to :func:`trademaestro.data.resample` of the same primary
    bars (open of the first, max high, min low, close of the last, summed volumes, minimum
    spread, ``time`` = the target boundary): the incomplete bucket is kept as one aggregated
    record and re-aggregated with the next bars by ``resample`` itself; max, min, sums of
    integers, first and last are exact, so the split changes nothing.

    Raises:
        ValueError: from :func:`check_higher_timeframe`.
    """

    def __init__(self, primary: Timeframe, target: Timeframe) -> None:
        check_higher_timeframe(primary, target)
        self.primary = primary
        self.target = target
        self._pending: np.ndarray | None = None  # one RATES_DTYPE record: the open bucket

    @property
    def pending(self) -> np.ndarray | None:
        """The target bar still forming (a copy, ``RATES_DTYPE`` of length 1) or None."""
        return None if self._pending is None else self._pending.copy()

    def push(self, rates: np.ndarray, closes: IntArray) -> tuple[np.ndarray, IntArray]:
        """Take new primary bars; return the target bars they complete.

        Args:
            rates: ``RATES_DTYPE`` primary bars, strictly ascending, aligned, after every bar
                pushed before (the caller checks this).
            closes: their close times (server seconds), ``bar_close_times(rates, primary)``.

        Returns:
            ``(bars, at)``: the completed target bars in order (``RATES_DTYPE``) and, for each,
            the index in ``rates`` of the primary bar at whose close it is known to be complete
            (the first one closing at or after its end).
        """
        if rates.shape[0] == 0:
            return np.zeros(0, dtype=RATES_DTYPE), np.zeros(0, dtype=np.int64)
        combined = rates if self._pending is None else np.concatenate((self._pending, rates))
        bars = resample(combined, self.target, source=self.primary)
        ends = bar_close_times(bars, self.target)
        at = np.searchsorted(closes, ends, side="left").astype(np.int64)
        done = int(np.searchsorted(at, rates.shape[0], side="left"))
        self._pending = bars[done:].copy() if done < bars.shape[0] else None
        return bars[:done], at[:done]


class _SourceFeed:
    """HTF bars from their own file: bar ``k`` is revealed once a primary bar closes at or
    after its end."""

    def __init__(self, rates: np.ndarray, timeframe: Timeframe, what: str) -> None:
        rates = _as_rates(rates, what)
        times = rates["time"].astype(np.int64)
        if times.size > 1 and bool((np.diff(times) <= 0).any()):
            i = int(np.flatnonzero(np.diff(times) <= 0)[0]) + 1
            raise ValueError(f"{what}[{i}].time: found {int(times[i])} after {int(times[i - 1])}; "
                             "allowed: strictly ascending bar times")
        _check_aligned(times, timeframe, what)
        for name in ("open", "high", "low", "close"):
            bad = np.flatnonzero(~np.isfinite(rates[name]))
            if bad.size:
                raise ValueError(f"{what}[{int(bad[0])}].{name}: "
                                 f"found {float(rates[name][bad[0]])!r}; "
                                 "allowed: finite")
        self._rates = rates
        self._ends = bar_close_times(rates, timeframe)
        self._next = 0

    def push(self, rates: np.ndarray, closes: IntArray) -> tuple[np.ndarray, IntArray]:
        if closes.shape[0] == 0:
            return self._rates[:0], np.zeros(0, dtype=np.int64)
        stop = int(np.searchsorted(self._ends, closes[-1], side="right"))
        start, self._next = self._next, max(self._next, stop)
        ends = self._ends[start:stop]
        at = np.searchsorted(closes, ends, side="left").astype(np.int64)
        return self._rates[start:stop], at


class _Higher:
    """One higher timeframe: its bar feed, its SeriesEngine, the index map and aligned values."""

    def __init__(self, feed: StreamingResampler | _SourceFeed, keys: list[SeriesKey],
                 timeframe: Timeframe) -> None:
        self.feed = feed
        try:
            self.engine = SeriesEngine(k.on(None) for k in keys)
        except ValueError as exc:
            raise ValueError(f"timeframe {timeframe.name}: {exc}") from exc
        self.bars = _Growing(RATES_DTYPE)
        self.index = _Growing(np.int64)
        self.aligned = {k: _Growing(np.float64) for k in keys}

    def push(self, rates: np.ndarray, closes: IntArray) -> None:
        bars, at = self.feed.push(rates, closes)
        before = len(self.engine)
        self.engine.extend(bars)
        self.bars.extend(bars)
        idx = before - 1 + np.searchsorted(at, np.arange(rates.shape[0]), side="right")
        idx = idx.astype(np.int64)
        self.index.extend(idx)
        seen = idx >= 0
        for key, out in self.aligned.items():
            full = self.engine.values(key.on(None))
            chunk = np.full(idx.shape[0], np.nan)
            chunk[seen] = full[idx[seen]]
            out.extend(chunk)


class MultiTimeframeEngine:
    """:class:`~trademaestro.indicators.engine.SeriesEngine`'s interface over primary bars, with
    higher-timeframe keys aligned without look-ahead (module docstring).

    Args:
        primary: the timeframe of the bars given to :meth:`extend` (the strategy's).
        keys: the series wanted. ``timeframe`` None or ``primary``: computed on the primary
            bars; a higher timeframe: computed on that timeframe's bars and aligned.
        sources: optional full rates per higher timeframe (``RATES_DTYPE``-like, server time,
            ascending, aligned): that timeframe's bars come from there instead of resampling.
            Every bar in it must be final: a still-forming bar (MT5's ``copy_rates_from_pos``
            position 0) would be revealed later with its partial prices, so drop it first.
            Timeframes no key uses are ignored.

    Raises:
        ValueError: a key on a timeframe lower than ``primary`` or not a whole multiple of it,
            an invalid key (as SeriesEngine), or an invalid source (not ascending, not aligned,
            non-finite prices).
    """

    def __init__(self, primary: Timeframe, keys: Iterable[SeriesKey], *,
                 sources: Mapping[Timeframe, np.ndarray] | None = None) -> None:
        if not isinstance(primary, Timeframe):
            raise ValueError(f"primary: found {primary!r}; allowed: a Timeframe")
        self.primary = primary
        self._keys: dict[SeriesKey, None] = {}
        by_tf: dict[Timeframe, list[SeriesKey]] = {}
        own: list[SeriesKey] = []
        for key in keys:
            if not isinstance(key, SeriesKey):
                raise ValueError(f"found {key!r}; allowed: a SeriesKey")
            if key in self._keys:
                continue
            self._keys[key] = None
            tf = key.timeframe
            if tf is None or tf is primary:
                own.append(key.on(None))
                continue
            try:
                check_higher_timeframe(primary, tf)
            except ValueError as exc:
                raise ValueError(f"series {key}: {exc}") from exc
            by_tf.setdefault(tf, []).append(key)
        self._primary = SeriesEngine(own)
        self._higher: dict[Timeframe, _Higher] = {}
        for tf, tf_keys in by_tf.items():
            feed: StreamingResampler | _SourceFeed
            if sources is not None and tf in sources:
                feed = _SourceFeed(sources[tf], tf, f"sources[{tf.name}]")
            else:
                feed = StreamingResampler(primary, tf)
            self._higher[tf] = _Higher(feed, tf_keys, tf)
        self._route = {key: self._higher[key.timeframe] for key in self._keys
                       if key.timeframe is not None and key.timeframe in self._higher}

    @property
    def keys(self) -> tuple[SeriesKey, ...]:
        """The series computed, as given (first occurrence order)."""
        return tuple(self._keys)

    @property
    def timeframes(self) -> tuple[Timeframe, ...]:
        """The higher timeframes computed."""
        return tuple(self._higher)

    @property
    def indicator_count(self) -> int:
        """Distinct indicator instances over every timeframe."""
        return self._primary.indicator_count + sum(
            h.engine.indicator_count for h in self._higher.values())

    def __len__(self) -> int:
        """Number of primary bars seen so far."""
        return len(self._primary)

    def extend(self, rates: np.ndarray) -> None:
        """Consume new closed primary bars (see :meth:`SeriesEngine.extend`).

        Args:
            rates: ``RATES_DTYPE``-like primary bars (server time), ascending, after the last
                bar seen; with higher-timeframe keys each must open on a ``primary`` boundary.

        Raises:
            ValueError: as :meth:`SeriesEngine.extend`, or a misaligned bar time. Nothing is
                consumed then.
        """
        if self._higher:
            rates = _as_rates(rates, "rates")
            _check_aligned(rates["time"].astype(np.int64), self.primary, "rates")
        self._primary.extend(rates)  # validates order and prices before consuming anything
        if not self._higher or rates.shape[0] == 0:
            return
        closes = bar_close_times(rates, self.primary)
        for higher in self._higher.values():
            higher.push(rates, closes)

    def values(self, key: SeriesKey) -> FloatArray:
        """Read-only float64 values of ``key``, one per primary bar seen (``len(self)`` long).

        Raises:
            KeyError: ``key`` was not given to the constructor.
        """
        if key not in self._keys:
            raise KeyError(f"series {key} is not computed by this engine")
        higher = self._route.get(key)
        if higher is None:
            return self._primary.values(key.on(None))
        out: FloatArray = higher.aligned[key].view()
        return out

    def revealed(self, timeframe: Timeframe) -> IntArray:
        """Per primary bar, the index of the last closed ``timeframe`` bar it sees (-1: none).

        Raises:
            KeyError: no key uses ``timeframe``.
        """
        out: IntArray = self._need(timeframe).index.view()
        return out

    def higher_bars(self, timeframe: Timeframe) -> np.ndarray:
        """The completed ``timeframe`` bars revealed so far (``RATES_DTYPE``, read-only).

        Raises:
            KeyError: no key uses ``timeframe``.
        """
        return self._need(timeframe).bars.view()

    def _need(self, timeframe: Timeframe) -> _Higher:
        try:
            return self._higher[timeframe]
        except KeyError:
            raise KeyError(f"no series on timeframe {getattr(timeframe, 'name', timeframe)} "
                           "is computed by this engine") from None
