"""Loading Dukascopy tick exports into MT5's tick record layout (``core.bars.TICKS_DTYPE``).

Layout (tab or comma separated)::

    Local time	Ask	Bid	AskVolume	BidVolume
    01.01.2010 00:00:07.534 GMT+0300	1.43156	1.43144	2.5	2.3

(``Gmt time`` instead of ``Local time``, with no ``GMT+HHMM`` suffix, is read too, offset 0.)
The wall-clock time is kept as written and treated as broker server time: no shift by the
offset, which is only reported (``utc_offset_seconds``) and must be the same on every row.
Volumes are in millions of units, as in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from trademaestro.core.bars import TICKS_DTYPE
from trademaestro.core.errors import DataError
from trademaestro.data import _timeparse as tp
from trademaestro.data._rowcheck import RowError, RowLoop, number
from trademaestro.data._text import TextLines, read_lines

TICK_FLAG_BID = 2
TICK_FLAG_ASK = 4
_HEADER_TIME = ("local time", "gmt time")
_HEADER_REST = ("ask", "bid", "askvolume", "bidvolume")
_LAYOUT = "Local time\\tAsk\\tBid\\tAskVolume\\tBidVolume (Dukascopy, tab or comma separated)"
# A price "changed" when it moved by more than this fraction of itself: far below any point
# (1e-5 of 1.0) and far above float noise (1e-16).
_CHANGE_REL = 1e-10
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LoadedTicks:
    """Ticks read from a Dukascopy export.

    Attributes:
        ticks: ``TICKS_DTYPE`` records in non-decreasing time. ``time`` (seconds) and
            ``time_msc`` (milliseconds) are the wall-clock time as written, treated as server
            time; ``bid``/``ask`` in price units; ``last`` 0.0, ``volume`` 0, ``volume_real``
            0.0; ``flags`` TICK_FLAG_BID (2) when bid changed from the previous tick,
            TICK_FLAG_ASK (4) when ask changed, 6 on the first tick.
        ask_volume: float64, millions of units, as in the file (one per tick).
        bid_volume: float64, millions of units.
        path: the file, as given.
        utc_offset_seconds: the offset written after the time (10800 for ``GMT+0300``), 0 when
            none is written.
        skipped: number of bad rows skipped (only with ``skip_bad_rows=True``).
        skipped_lines: 1-based line numbers of the first (at most 20) skipped rows.
    """

    ticks: np.ndarray
    ask_volume: np.ndarray
    bid_volume: np.ndarray
    path: str
    utc_offset_seconds: int
    skipped: int
    skipped_lines: tuple[int, ...]


def load_ticks(path: str | Path, *, skip_bad_rows: bool = False) -> LoadedTicks:
    """Load a Dukascopy tick export.

    Args:
        path: the file.
        skip_bad_rows: skip rows that cannot be used (unparsable, wrong column count, decreasing
            time, a UTC offset different from the first row's, crossed quote bid > ask,
            non-positive or NaN prices, negative volume) instead of raising. Equal timestamps
            are allowed.

    Raises:
        DataError: missing or empty file, unknown header, no usable row, or (without
            ``skip_bad_rows``) the first bad row, with its 1-based line number.
    """
    text = read_lines(path, lenient=skip_bad_rows)
    sep = _detect(text)
    if not text.rows:
        raise DataError(text.path, None, "empty file: header only, no ticks")
    names = [n.strip() for n in text.header.split(sep)]
    fields = [row.split(sep) for row in text.rows]
    fast = _fast(fields)
    skipped: list[int] = []
    if fast is None:
        msc, offset, prices, skipped = _exact(text, fields, names, skip_bad_rows)
    else:
        msc, offset, prices = fast
    ask, bid, ask_volume, bid_volume = prices
    ticks = np.zeros(msc.size, dtype=TICKS_DTYPE)
    ticks["time_msc"] = msc
    ticks["time"] = msc // 1000
    ticks["bid"] = bid
    ticks["ask"] = ask
    ticks["flags"] = _flags(bid, TICK_FLAG_BID) | _flags(ask, TICK_FLAG_ASK)
    return LoadedTicks(
        ticks=ticks,
        ask_volume=ask_volume,
        bid_volume=bid_volume,
        path=text.path,
        utc_offset_seconds=offset,
        skipped=len(skipped),
        skipped_lines=tuple(skipped[:20]),
    )


def _detect(text: TextLines) -> str:
    for sep in ("\t", ","):
        names = [n.strip().lower() for n in text.header.split(sep)]
        if len(names) == 5 and names[0] in _HEADER_TIME and tuple(names[1:]) == _HEADER_REST:
            return sep
    raise DataError(
        text.path,
        text.header_line,
        f"unknown tick layout: header found {text.header[:200]!r}; allowed: {_LAYOUT}",
    )


def _flags(price: F64, flag: int) -> npt.NDArray[np.uint32]:
    out = np.zeros(price.size, dtype=np.uint32)
    if price.size:
        moved = np.abs(np.diff(price)) > _CHANGE_REL * np.abs(price[1:])
        out[1:] = np.where(moved, flag, 0)
        out[0] = flag
    return out


def _fast(
    fields: list[list[str]],
) -> tuple[npt.NDArray[np.int64], int, tuple[F64, F64, F64, F64]] | None:
    """Vectorised load; None on any anomaly."""
    if set(map(len, fields)) != {5}:
        return None
    cols = list(zip(*fields, strict=True))
    parsed = tp.tick_times_fast(cols[0])
    if parsed is None:
        return None
    msc, offsets = parsed
    try:
        ask, bid, ask_volume, bid_volume = (np.array(c, dtype=np.float64) for c in cols[1:])
    except (ValueError, OverflowError):
        return None
    with np.errstate(invalid="ignore"):
        if not (
            bool((offsets == offsets[0]).all())
            and bool((np.diff(msc) >= 0).all())
            and all(bool(((p > 0) & np.isfinite(p)).all()) for p in (ask, bid))
            and all(bool(((v >= 0) & np.isfinite(v)).all()) for v in (ask_volume, bid_volume))
            and bool((bid <= ask).all())
        ):
            return None
    return msc, int(offsets[0]), (ask, bid, ask_volume, bid_volume)


def _exact(
    text: TextLines, fields: list[list[str]], names: list[str], skip: bool
) -> tuple[npt.NDArray[np.int64], int, tuple[F64, F64, F64, F64], list[int]]:
    """Row-by-row load naming the first bad line (or skipping bad lines)."""
    loop = RowLoop(text.path, skip, strict=False)
    offset: int | None = None
    offset_line = 0
    rows: list[tuple[int, float, float, float, float]] = []
    for line, parts in zip(text.numbers, fields, strict=True):
        try:
            if len(parts) != 5:
                raise RowError(f"found {len(parts)} columns, expected 5 ({_LAYOUT})")
            try:
                msc, row_offset = tp.tick_time(parts[0])
            except ValueError as exc:
                raise RowError(
                    f"column {names[0]!r} (1): cannot read {parts[0]!r} as a tick time; {exc}"
                ) from None
            if offset is not None and row_offset != offset:
                raise RowError(
                    f"UTC offset {row_offset} s differs from {offset} s on line {offset_line}; "
                    "allowed: one offset per file (export with a fixed offset)"
                )
            ask, bid, ask_vol, bid_vol = (number(parts, i, names) for i in range(1, 5))
            for name, price in (("ask", ask), ("bid", bid)):
                if not (price > 0 and price != float("inf")):
                    raise RowError(f"{name} price {price!r} is not a positive finite number")
            for name, vol in (("AskVolume", ask_vol), ("BidVolume", bid_vol)):
                if not (vol >= 0 and vol != float("inf")):
                    raise RowError(f"{name} {vol!r} is not a finite number >= 0")
            if bid > ask:
                raise RowError(f"crossed quote: bid {bid!r} is above ask {ask!r}")
        except RowError as exc:
            loop.bad(line, exc.reason)
            continue
        if loop.accept(line, msc, _show_msc):
            if offset is None:
                offset, offset_line = row_offset, line
            rows.append((msc, ask, bid, ask_vol, bid_vol))
    if not rows:
        raise DataError(text.path, None, f"no usable rows: all {loop.skipped_count} rows are bad")
    msc_arr = np.array([r[0] for r in rows], dtype=np.int64)
    cols = tuple(np.array([r[i] for r in rows], dtype=np.float64) for i in range(1, 5))
    assert offset is not None
    return msc_arr, offset, (cols[0], cols[1], cols[2], cols[3]), loop.skipped


def _show_msc(msc: int) -> str:
    return f"{tp.format_seconds(msc // 1000)}.{msc % 1000:03d}"
