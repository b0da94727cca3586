"""Session filter: trade only during the allowed trading sessions.

Sessions are local business hours in their own time zones, daylight saving included
(STRATEGY_FORMAT.md "Filters"); start inclusive, end exclusive:

=========  ===========  ==================
name       hours        zone
=========  ===========  ==================
Sydney     07:00–16:00  Australia/Sydney
Asia       09:00–18:00  Asia/Tokyo
Tokyo      09:00–18:00  Asia/Tokyo
London     08:00–17:00  Europe/London
NewYork    08:00–17:00  America/New_York
=========  ===========  ==================

The table can be overridden by configuration (:func:`session_table`). The decision time (broker
server time) is converted to UTC with the broker's :class:`~trademaestro.core.servertime.
ServerTimeZone`, then compared with the sessions' UTC windows, which are precomputed once per UTC
day (a check is a dict look-up and a few comparisons). A local start or end time that falls in a
DST gap is read with the offset before the change (zoneinfo ``fold=0``); the shipped hours never do.

Outside every allowed session: action ``disable`` denies; ``scale`` allows with the size
multiplied by ``riskMultiplier`` (:data:`DEFAULT_SCALE` = 0.5 if it were absent; the strategy
model already requires it with ``scale``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trademaestro.core.errors import ConfigError, StrategyError
from trademaestro.core.servertime import DAY, ServerTimeZone
from trademaestro.filters.base import EntryContext, Verdict
from trademaestro.strategy.limits import SessionFilter as SessionModel

#: Size multiplier outside the sessions with action ``scale`` when ``riskMultiplier`` is absent.
DEFAULT_SCALE = 0.5
_CACHE_LIMIT = 4_096  # UTC days
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class SessionHours:
    """One session's local business hours.

    Attributes:
        zone: IANA time zone name (``Europe/London``).
        start, end: minutes after local midnight, start inclusive, end exclusive; ``end`` may be
            1440 (midnight); ``end < start`` means the session runs past local midnight.
    """

    zone: str
    start: int
    end: int

    @classmethod
    def parse(cls, where: str, value: object) -> SessionHours:
        """From configuration: a :class:`SessionHours`, or a mapping ``{"zone": "Europe/London",
        "start": "08:00", "end": "17:00"}``.

        Raises:
            ConfigError: naming ``where`` (e.g. ``sessions.London.start``), what was found and
                what is allowed.
        """
        if isinstance(value, SessionHours):
            hours = value
        elif isinstance(value, Mapping):
            extra = sorted(set(map(str, value)) - {"zone", "start", "end"})
            if extra:
                raise ConfigError(f"{where}.{extra[0]}: unknown key; allowed: zone, start, end")
            for key in ("zone", "start", "end"):
                if key not in value:
                    raise ConfigError(f"{where}.{key}: missing; allowed: "
                                      + ("an IANA zone name" if key == "zone" else "HH:MM"))
            zone = value["zone"]
            if not isinstance(zone, str):
                raise ConfigError(f"{where}.zone: found {zone!r}; allowed: an IANA zone name")
            hours = cls(zone, _minutes(f"{where}.start", value["start"], 1439),
                        _minutes(f"{where}.end", value["end"], 1440))
        else:
            raise ConfigError(f"{where}: found {value!r}; allowed: an object with zone, start "
                              "and end (HH:MM)")
        try:
            ZoneInfo(hours.zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"{where}.zone: found {hours.zone!r}; allowed: an IANA zone name "
                              "such as Europe/London") from exc
        if not 0 <= hours.start < 1440 or not 0 <= hours.end <= 1440 or hours.start == hours.end:
            raise ConfigError(f"{where}: found {hours.start}-{hours.end} minutes; allowed: "
                              "start in [00:00, 23:59], end in [00:01, 24:00], start != end")
        return hours

    def text(self) -> str:
        """``08:00–17:00 Europe/London``."""
        return f"{_hhmm(self.start)}–{_hhmm(self.end)} {self.zone}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(where: str, value: object, most: int) -> int:
    if isinstance(value, str):
        parts = value.strip().split(":")
        if len(parts) == 2 and all(p.isdigit() and len(p) == 2 for p in parts):
            h, m = int(parts[0]), int(parts[1])
            if m < 60 and h * 60 + m <= most:
                return h * 60 + m
    raise ConfigError(f"{where}: found {value!r}; allowed: a local time HH:MM from 00:00 to "
                      + _hhmm(most))


DEFAULT_SESSIONS: Mapping[str, SessionHours] = {
    "Sydney": SessionHours("Australia/Sydney", 7 * 60, 16 * 60),
    "Asia": SessionHours("Asia/Tokyo", 9 * 60, 18 * 60),
    "Tokyo": SessionHours("Asia/Tokyo", 9 * 60, 18 * 60),
    "London": SessionHours("Europe/London", 8 * 60, 17 * 60),
    "NewYork": SessionHours("America/New_York", 8 * 60, 17 * 60),
}


def session_table(overrides: Mapping[str, object] | None = None) -> dict[str, SessionHours]:
    """The default table with ``overrides`` (session name → :class:`SessionHours` or mapping)
    applied; configuration path ``sessions.<name>``.

    Raises:
        ConfigError: an unknown session name or bad hours.
    """
    table = dict(DEFAULT_SESSIONS)
    for name, value in (overrides or {}).items():
        if name not in DEFAULT_SESSIONS:
            raise ConfigError(f"sessions.{name}: unknown session; allowed: "
                              + ", ".join(DEFAULT_SESSIONS))
        table[name] = SessionHours.parse(f"sessions.{name}", value)
    return table


def _local_to_utc(zone: ZoneInfo, day: date, minutes: int) -> int:
    moment = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=minutes)
    # ``+ timedelta`` keeps the wall clock (aware arithmetic is wall-clock arithmetic in Python).
    return int(moment.timestamp())


# One UTC window: (start, end, the verdict while inside), UTC seconds, end exclusive.
_Window = tuple[int, int, Verdict]


class SessionFilter:
    """Allow entries only inside ``allowed`` sessions (see the module docstring).

    Args:
        allowed: session names (keys of ``sessions``), in the strategy's order.
        action: ``disable`` (deny outside) or ``scale`` (allow × ``multiplier`` outside).
        multiplier: size factor outside the sessions with ``scale``, in (0, 1].
        server_tz: the broker's server time zone.
        sessions: the session table (default :data:`DEFAULT_SESSIONS`).

    Raises:
        ConfigError: an allowed name missing from ``sessions`` or a multiplier outside (0, 1].
    """

    name = "session"

    def __init__(self, allowed: Sequence[str], *, action: Literal["disable", "scale"],
                 multiplier: float, server_tz: ServerTimeZone,
                 sessions: Mapping[str, SessionHours] = DEFAULT_SESSIONS) -> None:
        if not allowed:
            raise ConfigError("session filter: no allowed sessions")
        for session in allowed:
            if session not in sessions:
                raise ConfigError(f"session filter: found {session!r}; allowed: "
                                  + ", ".join(sessions))
        if not (0 < multiplier <= 1) or not math.isfinite(multiplier):
            raise ConfigError(f"session filter multiplier: found {multiplier!r}; allowed: a "
                              "size multiplier in (0, 1]")
        self.allowed = tuple(dict.fromkeys(allowed))
        self.action = action
        self.multiplier = multiplier
        self._tz = server_tz
        self._hours = [(s, sessions[s], ZoneInfo(sessions[s].zone)) for s in self.allowed]
        self._inside = {s: Verdict(self.name, True, 1.0, f"in {s}") for s in self.allowed}
        outside = "outside " + ", ".join(self.allowed)
        self._outside = (Verdict(self.name, False, 1.0, outside) if action == "disable"
                         else Verdict(self.name, True, multiplier, f"{outside}: size × "
                                      f"{multiplier:g}"))
        self._days: dict[int, tuple[_Window, ...]] = {}

    @classmethod
    def from_model(cls, model: SessionModel, *, server_tz: ServerTimeZone,
                   sessions: Mapping[str, SessionHours] = DEFAULT_SESSIONS,
                   path: str = "filters.sessionFilter") -> SessionFilter:
        """From the strategy's validated ``sessionFilter`` block (JSON path ``path``).

        Raises:
            StrategyError: ``riskMultiplier`` above 1 (a filter never enlarges a trade).
        """
        multiplier = DEFAULT_SCALE if model.riskMultiplier is None else model.riskMultiplier
        if model.action == "scale" and multiplier > 1:
            raise StrategyError(f"{path}.{model.key_of('riskMultiplier')}", multiplier,
                                "a size multiplier in (0, 1]")
        return cls(model.allowedSessions, action=model.action, multiplier=multiplier,
                   server_tz=server_tz, sessions=sessions)

    def windows(self, utc_day: int) -> tuple[_Window, ...]:
        """The allowed sessions' UTC windows overlapping UTC day ``utc_day`` (days since 1970),
        as ``(start, end, verdict)`` with UTC seconds, end exclusive; cached per day."""
        cached = self._days.get(utc_day)
        if cached is not None:
            return cached
        lo, hi = utc_day * DAY, (utc_day + 1) * DAY
        out: list[_Window] = []
        for session, hours, zone in self._hours:
            for k in (-1, 0, 1):  # local dates that can overlap this UTC day
                local = _EPOCH + timedelta(days=utc_day + k)
                start = _local_to_utc(zone, local, hours.start)
                end_day = local + timedelta(days=1) if hours.end <= hours.start else local
                end = _local_to_utc(zone, end_day, hours.end)
                if start < hi and end > lo:
                    out.append((start, end, self._inside[session]))
        windows = tuple(out)
        if len(self._days) >= _CACHE_LIMIT:
            self._days.clear()
        self._days[utc_day] = windows
        return windows

    def sessions_at(self, t: int) -> tuple[str, ...]:
        """The allowed sessions open at server time ``t``."""
        utc = self._tz.to_utc(t)
        inside = (v.reason.removeprefix("in ") for s, e, v in self.windows(utc // DAY)
                  if s <= utc < e)
        return tuple(dict.fromkeys(inside))

    def check(self, ctx: EntryContext) -> Verdict:
        """Allow inside an allowed session, else deny (``disable``) or scale (``scale``)."""
        utc = self._tz.to_utc(ctx.time)
        for start, end, verdict in self.windows(utc // DAY):
            if start <= utc < end:
                return verdict
        return self._outside

    def describe(self) -> str:
        """E.g. ``session: London 08:00–17:00 Europe/London; otherwise deny``."""
        hours = ", ".join(f"{s} {h.text()}" for s, h, _ in self._hours)
        rest = "deny" if self.action == "disable" else f"size × {self.multiplier:g}"
        return f"session: {hours} (server {self._tz.describe()}); otherwise {rest}"
