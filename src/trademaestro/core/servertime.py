"""Broker server time ↔ UTC.

MT5 stamps bars, ticks and deals with the *wall clock of the broker's server*, written as if it
were UTC: ``int`` seconds since 1970 (MT5_API.md; ``data/README.md``). This module converts that
value to real UTC seconds and back, which sessions and news calendars need.

Two kinds of zone (:class:`ServerTimeZone`):

* ``ServerTimeZone.fixed(hours)``: server time = UTC + ``hours`` all year.
* ``ServerTimeZone.mt5_default()`` (the default): the common MT5 convention, UTC+2 in winter and
  UTC+3 while US daylight saving time (``America/New_York``) is in effect, so that server midnight
  is 17:00 New York all year. Equivalently: server wall clock = New York wall clock + 7 h.
  ``ServerTimeZone.zone(name, shift_hours)`` generalises it to any IANA zone (``Europe/Athens``
  with shift 0 is the other common broker setting: UTC+2/+3 on EU daylight saving dates).

DST-transition edges (zone-based kinds only; transitions fall on a weekend for the default):

* UTC → server (:meth:`ServerTimeZone.to_server`) is a function: every UTC instant has one
  offset.
* Server → UTC (:meth:`ServerTimeZone.to_utc`): when the clocks go back, one server hour occurs
  twice (2024-11-03 08:00–09:00 server for the default); it is read as the *first* occurrence
  (the offset before the change, +3). When the clocks go forward, one server hour does not exist
  (2024-03-10 09:00–10:00 server); it is read with the offset before the change (+2), so that
  ``to_server(to_utc(t)) == t + 3600`` there. Everywhere else the two are exact inverses.

Offsets are cached per server day and per UTC day (bounded), so a conversion costs a dict
look-up and a comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trademaestro.core.errors import ConfigError

DAY = 86_400
_HOUR = 3_600
_CACHE_LIMIT = 8_192  # days; about 22 years of each direction
_MT5_ZONE = "America/New_York"
_MT5_SHIFT_HOURS = 7.0

# One day's offsets: (first second of the day, offset before the change, second the offset changes
# (DAY past the day's end when it does not), offset from then on). Offsets in seconds, server - UTC.
_DayOffsets = tuple[int, int, int, int]


def server_day(t: int) -> int:
    """The server day number of server time ``t`` (days since 1970-01-01, server calendar)."""
    return t // DAY


def start_of_server_day(t: int) -> int:
    """Server time of 00:00 of the server day holding server time ``t``."""
    return t - t % DAY


class ServerTimeZone:
    """The broker server's clock relative to UTC. Build with :meth:`fixed`, :meth:`mt5_default`,
    :meth:`zone` or :meth:`parse`.

    All times are ``int`` seconds since 1970: server time is the server's wall clock written as
    if it were UTC; UTC is real UTC. Instances are immutable apart from their offset cache.
    """

    __slots__ = ("_by_server", "_by_utc", "_fixed", "_label", "_shift", "_zone")

    def __init__(self, *, fixed_seconds: int | None = None, zone: str | None = None,
                 shift_seconds: int = 0) -> None:
        """Prefer the named constructors; exactly one of ``fixed_seconds`` (server - UTC,
        seconds) and ``zone`` (IANA name, server = zone's wall clock + ``shift_seconds``).

        Raises:
            ConfigError: both or neither given, or an unknown zone name.
        """
        if (fixed_seconds is None) == (zone is None):
            raise ConfigError("server time zone: give either a fixed offset or a zone name")
        self._fixed = fixed_seconds
        self._shift = shift_seconds
        self._zone: ZoneInfo | None = None
        self._by_server: dict[int, _DayOffsets] = {}
        self._by_utc: dict[int, _DayOffsets] = {}
        if zone is not None:
            try:
                self._zone = ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ConfigError(f"server time zone: found {zone!r}; allowed: an IANA zone "
                                  "name such as America/New_York or Europe/Athens") from exc
            shift = f"{shift_seconds / _HOUR:+g} h" if shift_seconds else ""
            self._label = f"{zone} wall clock{shift}"
            if zone == _MT5_ZONE and shift_seconds == int(_MT5_SHIFT_HOURS * _HOUR):
                self._label = "UTC+2, UTC+3 during US DST (server midnight = 17:00 New York)"
        else:
            assert fixed_seconds is not None
            self._label = f"UTC{fixed_seconds / _HOUR:+g}"

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def fixed(cls, hours: float) -> ServerTimeZone:
        """Server time = UTC + ``hours`` all year (a multiple of 15 minutes in [-12, 14]).

        Raises:
            ConfigError: outside that range or not on a quarter hour.
        """
        if not isinstance(hours, int | float) or isinstance(hours, bool) or not math.isfinite(
                hours) or not -12 <= hours <= 14 or abs(hours * 4 - round(hours * 4)) > 1e-9:
            raise ConfigError(f"server time zone: found {hours!r}; allowed: an offset in hours "
                              "from -12 to 14 in steps of 0.25")
        return cls(fixed_seconds=round(hours * 4) * 900)

    @classmethod
    def mt5_default(cls) -> ServerTimeZone:
        """UTC+2 in winter, UTC+3 while America/New_York observes DST (server = New York + 7 h)."""
        return cls.zone(_MT5_ZONE, _MT5_SHIFT_HOURS)

    @classmethod
    def zone(cls, name: str, shift_hours: float = 0.0) -> ServerTimeZone:
        """Server time = wall clock of IANA zone ``name`` + ``shift_hours``.

        Raises:
            ConfigError: an unknown zone, or a shift outside [-24, 24] / not on a quarter hour.
        """
        if not math.isfinite(shift_hours) or not -24 <= shift_hours <= 24 or abs(
                shift_hours * 4 - round(shift_hours * 4)) > 1e-9:
            raise ConfigError(f"server time zone shift: found {shift_hours!r}; allowed: hours "
                              "from -24 to 24 in steps of 0.25")
        return cls(zone=name, shift_seconds=round(shift_hours * 4) * 900)

    @classmethod
    def parse(cls, value: object) -> ServerTimeZone:
        """From configuration: ``None``, ``"mt5"`` or ``"default"`` → :meth:`mt5_default`; a
        number or a string such as ``"+2"``/``"UTC+2"`` → :meth:`fixed`; any other string → an
        IANA zone (:meth:`zone`).

        Raises:
            ConfigError: naming the value and what is allowed.
        """
        if value is None:
            return cls.mt5_default()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls.fixed(value)
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in ("mt5", "default", "auto"):
                return cls.mt5_default()
            number = text[3:] if text.upper().startswith(("UTC", "GMT")) else text
            try:
                hours = float(number) if number else 0.0
            except ValueError:
                return cls.zone(text)
            return cls.fixed(hours)
        raise ConfigError(f"server time zone: found {value!r}; allowed: mt5 (default), an "
                          "offset in hours such as 2 or UTC+2, or an IANA zone name")

    # -- conversions -------------------------------------------------------------------------

    @property
    def is_fixed(self) -> bool:
        """True for a fixed offset (no daylight saving)."""
        return self._fixed is not None

    def offset_at_server(self, t: int) -> int:
        """Server - UTC, seconds, at server time ``t`` (edges: see the module docstring)."""
        if self._fixed is not None:
            return self._fixed
        day = t // DAY
        entry = self._by_server.get(day)
        if entry is None:
            entry = self._day_entry(self._by_server, day, self._wall_offset)
        return entry[1] if t < entry[2] else entry[3]

    def offset_at_utc(self, t_utc: int) -> int:
        """Server - UTC, seconds, at UTC instant ``t_utc``."""
        if self._fixed is not None:
            return self._fixed
        day = t_utc // DAY
        entry = self._by_utc.get(day)
        if entry is None:
            entry = self._day_entry(self._by_utc, day, self._utc_offset)
        return entry[1] if t_utc < entry[2] else entry[3]

    def to_utc(self, t: int) -> int:
        """UTC seconds of server time ``t``."""
        return t - self.offset_at_server(t)

    def to_server(self, t_utc: int) -> int:
        """Server time of UTC instant ``t_utc``."""
        return t_utc + self.offset_at_utc(t_utc)

    def describe(self) -> str:
        """A one-line description, e.g. ``UTC+2``."""
        return self._label

    def __repr__(self) -> str:
        return f"ServerTimeZone({self._label})"

    # -- offset computation (cold path) --------------------------------------------------------

    def _utc_offset(self, t_utc: int) -> int:
        assert self._zone is not None
        moment = datetime.fromtimestamp(t_utc, UTC).astimezone(self._zone)
        delta = moment.utcoffset()
        assert delta is not None
        return int(delta.total_seconds()) + self._shift

    def _wall_offset(self, t: int) -> int:
        """Offset at server wall clock ``t``; fold 0 = the offset before a change (gap or fold)."""
        assert self._zone is not None
        wall = datetime.fromtimestamp(t - self._shift, UTC).replace(tzinfo=self._zone, fold=0)
        delta = wall.utcoffset()
        assert delta is not None
        return int(delta.total_seconds()) + self._shift

    @staticmethod
    def _day_entry(cache: dict[int, _DayOffsets], day: int,
                   offset: Callable[[int], int]) -> _DayOffsets:
        start = day * DAY
        first = offset(start)
        last = offset(start + DAY - 1)
        change = start + DAY
        if first != last:  # one change a day at most: find its first second by bisection
            lo, hi = start, start + DAY - 1  # offset(lo) == first, offset(hi) == last
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == first:
                    lo = mid
                else:
                    hi = mid
            change = hi
        entry = (start, first, change, last)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[day] = entry
        return entry
