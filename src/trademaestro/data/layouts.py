"""The bar-file layouts :func:`trademaestro.data.loaders.load_bars` reads, and their detection.

A layout is recognised from the header line: the column names, compared case-insensitively after
stripping blanks, must be exactly those of one layout, split on that layout's separator.

- ``mt5_csv``: ``DateTime,Open,High,Low,Close,TickVolume,Spread``, time ``YYYY.MM.DD HH:MM:SS``
- ``mt5_rates``: ``time,open,high,low,close,tick_volume,spread,real_volume``, time unix seconds
- ``ohlcv``: ``time,open,high,low,close,volume`` (volume = tick volume; no spread)
- ``mt5_export``: MT5 "Export Bars", tab separated,
  ``<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>``, date ``YYYY.MM.DD``,
  time ``HH:MM`` or ``HH:MM:SS`` (``<VOL>`` is real volume)
- ``backtesting``: backtesting.py's ``,Open,High,Low,Close,Volume`` (first column the date-time
  index or a date; Volume read as tick volume; no spread)

The time column's content decides how it is read (see :func:`time_is_unix`): all digits means
unix seconds of server time (as ``mt5_rates`` writes it); anything else is date-time text.
"""

from __future__ import annotations

from dataclasses import dataclass

from trademaestro.core.errors import DataError


@dataclass(frozen=True)
class BarLayout:
    """One bar-file layout.

    Attributes:
        name: short name reported in ``LoadedBars.layout``.
        separator: the column separator.
        header: per column, the accepted lower-case names.
        example: the header as usually written (for error messages).
        time: index of the date-time column (or of the date column when ``clock`` is set).
        clock: index of a separate time-of-day column, or None.
        open, high, low, close: price column indices (bid prices, price units).
        tick_volume: index of the tick-volume column.
        spread: index of the spread column (points), or None when the layout has none.
        real_volume: index of the real-volume column, or None.
    """

    name: str
    separator: str
    header: tuple[frozenset[str], ...]
    example: str
    time: int
    clock: int | None
    open: int
    high: int
    low: int
    close: int
    tick_volume: int
    spread: int | None
    real_volume: int | None

    @property
    def columns(self) -> int:
        """Number of columns."""
        return len(self.header)

    def matches(self, header_line: str) -> bool:
        """Whether ``header_line`` is this layout's header."""
        names = [n.strip().lower() for n in header_line.split(self.separator)]
        return len(names) == len(self.header) and all(
            n in allowed for n, allowed in zip(names, self.header, strict=True)
        )


def _h(*names: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(n.split("|")) for n in names)


MT5_CSV = BarLayout(
    "mt5_csv", ",", _h("datetime", "open", "high", "low", "close", "tickvolume", "spread"),
    "DateTime,Open,High,Low,Close,TickVolume,Spread (time YYYY.MM.DD HH:MM:SS)",
    0, None, 1, 2, 3, 4, 5, 6, None,
)  # fmt: skip
MT5_RATES = BarLayout(
    "mt5_rates", ",",
    _h("time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume"),
    "time,open,high,low,close,tick_volume,spread,real_volume (time = unix seconds)",
    0, None, 1, 2, 3, 4, 5, 6, 7,
)  # fmt: skip
OHLCV = BarLayout(
    "ohlcv", ",", _h("time", "open", "high", "low", "close", "volume"),
    "time,open,high,low,close,volume (time YYYY-MM-DD HH:MM:SS, volume = tick volume)",
    0, None, 1, 2, 3, 4, 5, None, None,
)  # fmt: skip
MT5_EXPORT = BarLayout(
    "mt5_export", "\t",
    _h("<date>", "<time>", "<open>", "<high>", "<low>", "<close>", "<tickvol>", "<vol>",
       "<spread>"),
    "<DATE>\\t<TIME>\\t<OPEN>\\t<HIGH>\\t<LOW>\\t<CLOSE>\\t<TICKVOL>\\t<VOL>\\t<SPREAD> "
    "(MT5 Export Bars, tab separated, date YYYY.MM.DD, time HH:MM[:SS])",
    0, 1, 2, 3, 4, 5, 6, 8, 7,
)  # fmt: skip
BACKTESTING = BarLayout(
    "backtesting", ",", _h("|date|datetime", "open", "high", "low", "close", "volume"),
    ",Open,High,Low,Close,Volume (backtesting.py; first column the date-time index)",
    0, None, 1, 2, 3, 4, 5, None, None,
)  # fmt: skip

BAR_LAYOUTS: tuple[BarLayout, ...] = (MT5_CSV, MT5_RATES, OHLCV, MT5_EXPORT, BACKTESTING)


def detect_layout(header_line: str, path: str, line: int) -> BarLayout:
    """The layout whose header is ``header_line``.

    Raises:
        DataError: no layout has this header; the message shows the header found and lists the
            layouts allowed.
    """
    for layout in BAR_LAYOUTS:
        if layout.matches(header_line):
            return layout
    allowed = "; ".join(f"{lay.name}: {lay.example}" for lay in BAR_LAYOUTS)
    shown = header_line if len(header_line) <= 200 else header_line[:200] + "..."
    raise DataError(path, line, f"unknown layout: header found {shown!r}; allowed: {allowed}")


def time_is_unix(first_time_field: str) -> bool:
    """Whether a time column holds unix seconds, judged from its first data row."""
    text = first_time_field.strip()
    return text.isascii() and text.isdigit() and len(text) >= 9
