"""Replayed ticks of one symbol (a "tape") and the bars built from them.

:func:`build_tape` turns real ticks (``core.bars.TICKS_DTYPE``, e.g. from
``trademaestro.data.load_ticks(path).ticks``) into:

* the ticks themselves, bid/ask rounded to the symbol's digits (a read-only array, served by
  ``copy_ticks_*``), plus Python lists of their time/bid/ask for the replay hot path;
* the bars of one timeframe built from the ticks' **bid**, aligned to broker server time exactly
  like :func:`trademaestro.data.resample.resample` (M1…D1: multiples of the timeframe length from
  00:00; W1: Sunday 00:00; MN1: the 1st of the month): ``open``/``close`` the first/last bid,
  ``high``/``low`` the max/min bid, ``tick_volume`` the number of ticks, ``spread`` the minimum
  ``ask − bid`` of the bar in points (an int), ``real_volume`` 0. A bar exists only where at
  least one tick does;
* for each tick the index of its bar, and for each bar its first and last tick.

All times are broker server time: ``time`` in seconds, ``time_msc`` in milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trademaestro.core.bars import RATES_DTYPE, TICKS_DTYPE
from trademaestro.core.errors import ConfigError
from trademaestro.core.timeframes import Timeframe
from trademaestro.data.resample import bar_open_times

from .specs import EmulatorSymbol

COPY_TICKS_ALL = -1
COPY_TICKS_INFO = 1
COPY_TICKS_TRADE = 2
_INFO_FLAGS = 2 | 4  # TICK_FLAG_BID | TICK_FLAG_ASK
_TRADE_FLAGS = 8 | 16  # TICK_FLAG_LAST | TICK_FLAG_VOLUME


class TickTape:
    """Ticks of one symbol and the bars of one timeframe built from them (see module doc).

    Attributes:
        ticks: TICKS_DTYPE, read-only, non-decreasing ``time_msc``, prices rounded to digits.
        times, bids, asks: per tick, Python lists (server seconds, price units).
        spread_points: int64 per tick, ``round((ask − bid) / point)``.
        bar_index: int64 per tick, index of its bar in :attr:`rates` (read-only);
            ``bar_of`` the same as a Python list.
        starts, ends: per bar, index of its first / last tick (Python lists).
        rates: RATES_DTYPE bars built from the ticks (read-only).
    """

    __slots__ = ("asks", "bar_index", "bar_of", "bids", "ends", "rates", "spread_points", "starts",
                 "ticks", "times")

    def __init__(self, ticks: np.ndarray[Any, Any], timeframe: Timeframe,
                 spec: EmulatorSymbol) -> None:
        self.ticks = ticks
        self.times: list[int] = ticks["time"].tolist()
        self.bids: list[float] = ticks["bid"].tolist()
        self.asks: list[float] = ticks["ask"].tolist()
        self.spread_points = np.rint((ticks["ask"] - ticks["bid"]) / spec.point).astype(np.int64)
        keys = bar_open_times(ticks["time"], timeframe)
        first = np.concatenate(([True], keys[1:] != keys[:-1]))
        starts = np.flatnonzero(first)
        ends = np.concatenate((starts[1:], [len(ticks)])) - 1
        bar_index = np.cumsum(first, dtype=np.int64) - 1
        bid = ticks["bid"]
        rates = np.zeros(starts.size, dtype=RATES_DTYPE)
        rates["time"] = keys[starts]
        rates["open"] = bid[starts]
        rates["high"] = np.maximum.reduceat(bid, starts)
        rates["low"] = np.minimum.reduceat(bid, starts)
        rates["close"] = bid[ends]
        rates["tick_volume"] = ends - starts + 1
        rates["spread"] = np.minimum.reduceat(self.spread_points, starts)
        bar_index.flags.writeable = False
        rates.flags.writeable = False
        self.bar_index = bar_index
        self.bar_of: list[int] = bar_index.tolist()
        self.rates = rates
        self.starts: list[int] = starts.tolist()
        self.ends: list[int] = ends.tolist()

    def forming(self, bar: int, k: int) -> tuple[float, float, float, float, int, int]:
        """(open, high, low, close, tick_volume, spread points) of bar ``bar`` as seen at its
        tick ``k`` (the ticks ``starts[bar] … k``)."""
        s = self.starts[bar]
        bids = self.ticks["bid"][s:k + 1]
        return (float(bids[0]), float(bids.max()), float(bids.min()), float(bids[-1]),
                k + 1 - s, int(self.spread_points[s:k + 1].min()))


def build_tape(symbol: str, timeframe: Timeframe, ticks: Any, spec: EmulatorSymbol) -> TickTape:
    """Validate and copy ``ticks`` and build their bars of ``timeframe`` (see module doc).

    Raises:
        ConfigError: not a TICKS_DTYPE array, empty, ``time_msc`` decreasing, ``time`` not
            ``time_msc // 1000``, or a bid/ask that is not a positive finite number with
            bid <= ask — naming the first offending tick.
    """
    where = f"load_ticks({symbol!r})"
    if not isinstance(ticks, np.ndarray) or ticks.dtype.names != TICKS_DTYPE.names:
        found = getattr(ticks, "dtype", type(ticks).__name__)
        raise ConfigError(f"{where}: found {found}; allowed: a numpy array of TICKS_DTYPE "
                          f"{TICKS_DTYPE.names}")
    if len(ticks) == 0:
        raise ConfigError(f"{where}: no ticks; allowed: a non-empty array")
    out = np.array(ticks, dtype=TICKS_DTYPE, copy=True)
    msc = out["time_msc"]
    _first_bad(where, np.diff(msc) < 0, 1, "time_msc decreases (ticks must be in time order)")
    _first_bad(where, out["time"] != msc // 1000, 0, "time is not time_msc // 1000")
    for name in ("bid", "ask"):
        price = out[name]
        with np.errstate(invalid="ignore"):
            _first_bad(where, ~(np.isfinite(price) & (price > 0.0)), 0,
                       f"{name} is not a positive finite price")
        out[name] = np.round(price, spec.digits)
    _first_bad(where, out["bid"] > out["ask"], 0, "crossed quote: bid above ask")
    out.flags.writeable = False
    return TickTape(out, timeframe, spec)


def _first_bad(where: str, bad: np.ndarray[Any, Any], shift: int, what: str) -> None:
    if bool(bad.any()):
        i = int(np.flatnonzero(bad)[0]) + shift
        raise ConfigError(f"{where}: tick {i}: {what}")


def select(ticks: np.ndarray[Any, Any], flags: int) -> np.ndarray[Any, Any] | None:
    """The ticks kept by a ``COPY_TICKS_*`` ``flags`` value (a fresh, writable array).

    ``COPY_TICKS_ALL`` (-1) keeps every tick; otherwise ``flags`` is read as a bit mask:
    ``COPY_TICKS_INFO`` (1) keeps the ticks whose bid and/or ask changed (``TICK_FLAG_BID`` |
    ``TICK_FLAG_ASK``), ``COPY_TICKS_TRADE`` (2) those whose last and/or volume changed
    (``TICK_FLAG_LAST`` | ``TICK_FLAG_VOLUME``; none on FX feeds), 3 both. None for a value
    without either bit (the caller reports ``Terminal: Invalid params``; inferred).
    """
    if flags == COPY_TICKS_ALL:
        return ticks.copy()
    wanted = (_INFO_FLAGS if flags & COPY_TICKS_INFO else 0) | (
        _TRADE_FLAGS if flags & COPY_TICKS_TRADE else 0)
    if not wanted:
        return None
    kept: np.ndarray[Any, Any] = ticks[(ticks["flags"] & wanted) != 0]
    return kept
