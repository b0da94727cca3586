"""News filter: no entries around economic news of the listed impact.

An event blocks entries on a symbol when its currency is one of the symbol's currencies
(``spec.currency_base`` and ``spec.currency_profit``; XAUUSD: XAU and USD) and its impact is
listed in ``impact``. The blackout around an event at UTC time ``e`` is
``[e - minutesBefore, e + minutesAfter]``, *both ends inclusive*: with 30/30, an event at 18:00
UTC blocks decisions from 17:30:00 through 18:30:00 and allows 17:29:59 and 18:30:01. The
decision time (broker server time) is converted to UTC with the server time zone first.

Events come from a :class:`NewsCalendar`; :class:`CsvNewsCalendar` reads a CSV file once, at
construction (the only I/O in the filters). Without a calendar the filter allows with the reason
``no calendar``.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from trademaestro.core.errors import ConfigError, DataError
from trademaestro.core.servertime import ServerTimeZone
from trademaestro.core.symbols import SymbolSpec
from trademaestro.filters.base import EntryContext, Verdict
from trademaestro.strategy.limits import IMPACTS
from trademaestro.strategy.limits import NewsFilter as NewsModel

HEADER = ("time", "currency", "impact", "title")


@dataclass(frozen=True, slots=True)
class NewsEvent:
    """One calendar event.

    Attributes:
        time: UTC seconds since 1970.
        currency: ISO code the event concerns (``USD``).
        impact: ``low``, ``medium`` or ``high``.
        title: e.g. ``FOMC rate decision``.
    """

    time: int
    currency: str
    impact: str
    title: str


class NewsCalendar(Protocol):
    """A source of economic calendar events (read-only)."""

    def events(self, start_utc: int, end_utc: int) -> Sequence[NewsEvent]:
        """Events with ``start_utc <= time <= end_utc`` (UTC seconds), ascending by time."""
        ...


def parse_utc(text: str) -> int:
    """UTC seconds of an ISO 8601 date-time: ``2024-03-20T18:00:00Z``, ``2024-03-20T18:00:00``
    (no offset = UTC), ``2024-03-20 18:00`` or with an explicit offset (``+02:00``).

    Raises:
        ValueError: not such a date-time (a date alone is refused).
    """
    value = text.strip()
    if len(value) < 16 or value[10] not in "Tt ":
        raise ValueError("a date and time such as 2024-03-20T18:00:00Z")
    moment = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


class CsvNewsCalendar:
    """A calendar read from a CSV file with the header ``time,currency,impact,title``.

    ``time`` is ISO 8601 UTC (:func:`parse_utc`), ``currency`` a 3-letter code (upper-cased),
    ``impact`` ``low|medium|high`` (any case), ``title`` free text (quote it when it holds
    commas). Blank lines and lines starting with ``#`` are skipped. The file is read once, here.

    Raises:
        DataError: the file cannot be read, a wrong header, or a bad row (naming file and line).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        name = str(self.path)
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(name, None, f"cannot read the news calendar: {exc}") from exc
        rows = csv.reader(text.splitlines())
        events: list[NewsEvent] = []
        header_seen = False
        for line, row in enumerate(rows, start=1):
            if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            if not header_seen:
                found = tuple(cell.strip().lower() for cell in row)
                if found != HEADER:
                    raise DataError(name, line, f"found header {','.join(row)!r}; allowed: "
                                    + ",".join(HEADER))
                header_seen = True
                continue
            events.append(self._row(name, line, row))
        if not header_seen:
            raise DataError(name, None, "empty file; expected the header " + ",".join(HEADER))
        events.sort(key=lambda e: e.time)
        self._events = tuple(events)
        self._times = [e.time for e in events]

    @staticmethod
    def _row(name: str, line: int, row: list[str]) -> NewsEvent:
        if len(row) != len(HEADER):
            raise DataError(name, line, f"found {len(row)} columns; allowed: 4 "
                            "(time,currency,impact,title; quote a title holding commas)")
        time_text, currency, impact, title = (cell.strip() for cell in row)
        try:
            t = parse_utc(time_text)
        except ValueError:
            raise DataError(name, line, f"time: found {time_text!r}; allowed: ISO 8601 UTC "
                            "such as 2024-03-20T18:00:00Z") from None
        currency = currency.upper()
        if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
            raise DataError(name, line, f"currency: found {currency!r}; allowed: a 3-letter "
                            "code such as USD")
        if impact.lower() not in IMPACTS:
            raise DataError(name, line, f"impact: found {impact!r}; allowed: "
                            + ", ".join(IMPACTS))
        return NewsEvent(t, currency, impact.lower(), title)

    def __len__(self) -> int:
        return len(self._events)

    def events(self, start_utc: int, end_utc: int) -> Sequence[NewsEvent]:
        """Events with ``start_utc <= time <= end_utc`` (UTC seconds), ascending; O(log n)."""
        lo = bisect.bisect_left(self._times, start_utc)
        hi = bisect.bisect_right(self._times, end_utc)
        return self._events[lo:hi]


def symbol_currencies(spec: SymbolSpec) -> frozenset[str]:
    """The currencies news can move the symbol by: base and profit currency; for a spec without
    them, the two halves of a 6-letter name (``EURUSD`` → EUR, USD)."""
    found = {c.upper() for c in (spec.currency_base, spec.currency_profit) if c}
    if not spec.currency_base and len(spec.name) >= 6 and spec.name[:6].isalpha():
        found |= {spec.name[:3].upper(), spec.name[3:6].upper()}
    return frozenset(found)


class NewsFilter:
    """Deny entries inside the blackout around matching events (see the module docstring).

    Args:
        minutes_before, minutes_after: blackout before and after an event, minutes (>= 0).
        impact: the impacts that count (subset of ``low``, ``medium``, ``high``).
        server_tz: the broker's server time zone.
        calendar: event source; None → allow with the reason ``no calendar``.

    Raises:
        ConfigError: negative minutes or an unknown impact.
    """

    name = "news"

    def __init__(self, *, minutes_before: float, minutes_after: float,
                 impact: Sequence[str], server_tz: ServerTimeZone,
                 calendar: NewsCalendar | None) -> None:
        if not (minutes_before >= 0 and minutes_after >= 0):
            raise ConfigError(f"news filter: found minutesBefore {minutes_before!r}, "
                              f"minutesAfter {minutes_after!r}; allowed: minutes >= 0")
        unknown = sorted(set(impact) - set(IMPACTS))
        if unknown or not impact:
            raise ConfigError(f"news filter impact: found {list(impact)!r}; allowed: a "
                              "non-empty list of " + ", ".join(IMPACTS))
        self.before = round(minutes_before * 60)
        self.after = round(minutes_after * 60)
        self.impact = frozenset(impact)
        self._tz = server_tz
        self._calendar = calendar
        self._no_calendar = Verdict(self.name, True, 1.0, "no calendar")
        self._no_news = Verdict(self.name, True, 1.0, "no news")
        self._currencies: dict[str, frozenset[str]] = {}

    @classmethod
    def from_model(cls, model: NewsModel, *, server_tz: ServerTimeZone,
                   calendar: NewsCalendar | None) -> NewsFilter:
        """From the strategy's validated ``newsFilter`` block."""
        return cls(minutes_before=model.minutesBefore, minutes_after=model.minutesAfter,
                   impact=model.impact, server_tz=server_tz, calendar=calendar)

    def check(self, ctx: EntryContext) -> Verdict:
        """Deny when a matching event lies within ``[t - after, t + before]`` (UTC)."""
        if self._calendar is None:
            return self._no_calendar
        currencies = self._currencies.get(ctx.symbol)
        if currencies is None:
            currencies = self._currencies[ctx.symbol] = symbol_currencies(ctx.spec)
        utc = self._tz.to_utc(ctx.time)
        for event in self._calendar.events(utc - self.after, utc + self.before):
            if event.impact in self.impact and event.currency in currencies:
                when = datetime.fromtimestamp(event.time, UTC).strftime("%Y-%m-%d %H:%M UTC")
                return Verdict(self.name, False, 1.0,
                               f"{event.impact} {event.currency} news at {when}: {event.title}")
        return self._no_news

    def describe(self) -> str:
        """E.g. ``news: no entries 30 min before to 30 min after high events``."""
        source = "" if self._calendar is not None else " (no calendar: inactive)"
        return (f"news: no entries {self.before / 60:g} min before to {self.after / 60:g} min "
                f"after {'/'.join(sorted(self.impact))} events{source}")
