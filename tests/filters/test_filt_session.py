"""Session filter on real XAUUSD M15 bar times: London/New York/Sydney with their own DST, the
US-vs-EU DST mismatch weeks, the Sydney switches, scale action, overrides, and a whole-file check
against an independent zoneinfo computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError

from tests.filters.conftest import bar_at
from tests.filters.helpers import ctx, st
from trademaestro.core.errors import ConfigError
from trademaestro.core.servertime import ServerTimeZone
from trademaestro.filters import DEFAULT_SESSIONS, SessionFilter, SessionHours, session_table
from trademaestro.strategy.limits import SessionFilter as SessionModel

MT5 = ServerTimeZone.mt5_default()
PLUS2 = ServerTimeZone.fixed(2)


def only(session: str, tz: ServerTimeZone = MT5) -> SessionFilter:
    return SessionFilter([session], action="disable", multiplier=1.0, server_tz=tz)


@pytest.mark.parametrize(("server", "tz", "session", "inside"), [
    # 2024-03-20: US DST (+3) but London still on GMT: 10:15 server = 07:15 UTC = 07:15 London.
    ("2024-03-20 10:15:00", MT5, "London", False),
    ("2024-03-20 10:15:00", MT5, "Tokyo", True),            # 16:15 JST
    ("2024-03-20 10:15:00", MT5, "Asia", True),
    ("2024-03-20 10:15:00", PLUS2, "London", True),         # fixed +2: 08:15 UTC = 08:15 GMT
    # Summer, BST and EDT: 10:00 server = 07:00 UTC = 08:00 BST (start inclusive).
    ("2024-07-10 10:00:00", MT5, "London", True),
    ("2024-07-10 09:45:00", MT5, "London", False),          # 07:45 BST
    ("2024-07-10 15:00:00", MT5, "NewYork", True),          # 12:00 UTC = 08:00 EDT
    ("2024-07-10 14:45:00", MT5, "NewYork", False),
    ("2024-07-10 23:45:00", MT5, "NewYork", True),          # 16:45 EDT
    ("2024-07-10 23:45:00", MT5, "Sydney", False),          # 06:45 AEST on the 11th
    # Winter, GMT and EST: 10:00 server = 08:00 UTC.
    ("2024-12-10 10:00:00", MT5, "London", True),
    ("2024-12-10 09:45:00", MT5, "London", False),
    ("2024-12-10 15:00:00", MT5, "NewYork", True),          # 13:00 UTC = 08:00 EST
    ("2024-12-10 14:45:00", MT5, "NewYork", False),
    # Sydney DST ends 2024-04-07 (AEDT +11 -> AEST +10); server +3 throughout.
    ("2024-04-04 07:45:00", MT5, "Sydney", True),           # 04:45 UTC = 15:45 AEDT
    ("2024-04-04 08:15:00", MT5, "Sydney", False),          # 16:15 AEDT
    ("2024-04-08 08:15:00", MT5, "Sydney", True),           # 15:15 AEST
    # Sydney DST starts 2024-10-06 (AEST -> AEDT).
    ("2024-10-04 08:15:00", MT5, "Sydney", True),           # 15:15 AEST
    ("2024-10-07 08:15:00", MT5, "Sydney", False),          # 16:15 AEDT
])
def test_session_membership_on_real_bars(xau: NDArray[np.void], server: str, tz: ServerTimeZone,
                                          session: str, inside: bool) -> None:
    t = st(server)
    bar_at(xau, t)  # a real bar opens at that server time
    verdict = only(session, tz).check(ctx(t))
    assert verdict.name == "session"
    assert verdict.allow is inside
    assert verdict.reason == (f"in {session}" if inside else f"outside {session}")
    assert verdict.multiplier == 1.0


def test_end_is_exclusive_to_the_second() -> None:
    f = only("NewYork")
    assert f.check(ctx(st("2024-07-10 23:59:59"))).allow       # 16:59:59 EDT
    assert not f.check(ctx(st("2024-07-11 00:00:00"))).allow   # 17:00:00 EDT
    assert not f.check(ctx(st("2024-07-10 14:59:59"))).allow   # 07:59:59 EDT
    assert f.check(ctx(st("2024-07-10 15:00:00"))).allow


def test_several_sessions_and_scale_action() -> None:
    f = SessionFilter(["London", "NewYork"], action="scale", multiplier=0.25, server_tz=MT5)
    overlap = f.check(ctx(st("2024-07-10 16:00:00")))  # 14:00 BST and 09:00 EDT
    assert (overlap.allow, overlap.multiplier, overlap.reason) == (True, 1.0, "in London")
    assert f.sessions_at(st("2024-07-10 16:00:00")) == ("London", "NewYork")
    assert f.sessions_at(st("2024-07-10 20:00:00")) == ("NewYork",)
    night = f.check(ctx(st("2024-07-10 03:00:00")))
    assert (night.allow, night.multiplier) == (True, 0.25)
    assert night.reason == "outside London, NewYork: size × 0.25"
    assert "otherwise size × 0.25" in f.describe()


def test_from_model_default_multiplier_and_bad_multiplier() -> None:
    model = SessionModel.model_validate({"allowedSessions": ["london"], "action": "scale",
                                         "riskMultiplier": 0.5})
    f = SessionFilter.from_model(model, server_tz=MT5)
    assert f.check(ctx(st("2024-07-10 03:00:00"))).multiplier == 0.5
    disable = SessionFilter.from_model(SessionModel.model_validate({"allowedSessions": ["Tokyo"]}),
                                       server_tz=MT5)
    assert disable.multiplier == 0.5  # DEFAULT_SCALE, unused with disable
    # A multiplier above 1 never gets this far: the strategy model rejects it at load.
    with pytest.raises(ValidationError, match=r"\(0, 1\]"):
        SessionModel.model_validate({"allowedSessions": ["London"], "action": "scale",
                                     "riskMultiplier": 1.5})


def test_overrides_and_sessions_past_midnight() -> None:
    table = session_table({"London": {"zone": "Europe/London", "start": "07:00", "end": "16:00"},
                           "Sydney": {"zone": "Australia/Sydney", "start": "22:00",
                                      "end": "06:00"}})
    assert table["London"] == SessionHours("Europe/London", 420, 960)
    assert table["NewYork"] == DEFAULT_SESSIONS["NewYork"]
    london = SessionFilter(["London"], action="disable", multiplier=1.0, server_tz=MT5,
                           sessions=table)
    assert london.check(ctx(st("2024-07-10 09:00:00"))).allow        # 07:00 BST
    assert not london.check(ctx(st("2024-07-10 18:00:00"))).allow    # 16:00 BST
    night = SessionFilter(["Sydney"], action="disable", multiplier=1.0, server_tz=MT5,
                          sessions=table)
    # 22:00 AEST = 12:00 UTC = 15:00 server; 06:00 AEST = 20:00 UTC = 23:00 server.
    assert not night.check(ctx(st("2024-07-10 14:59:59"))).allow
    assert night.check(ctx(st("2024-07-10 15:00:00"))).allow
    assert night.check(ctx(st("2024-07-10 22:59:59"))).allow
    assert not night.check(ctx(st("2024-07-10 23:00:00"))).allow


@pytest.mark.parametrize(("overrides", "message"), [
    ({"Frankfurt": {}}, "sessions.Frankfurt: unknown session; allowed: Sydney, Asia"),
    ({"London": {"zone": "Europe/London", "start": "8:00", "end": "17:00"}},
     "sessions.London.start: found '8:00'; allowed: a local time HH:MM"),
    ({"London": {"zone": "Europe/London", "start": "08:00", "end": "24:01"}},
     "sessions.London.end: found '24:01'"),
    ({"London": {"zone": "Europe/Londn", "start": "08:00", "end": "17:00"}},
     "sessions.London.zone: found 'Europe/Londn'; allowed: an IANA zone"),
    ({"London": {"zone": "Europe/London", "start": "08:00"}}, "sessions.London.end: missing"),
    ({"London": {"zone": "Europe/London", "start": "08:00", "end": "08:00"}}, "start != end"),
    ({"London": {"zone": "Europe/London", "start": "08:00", "end": "17:00", "tz": 1}},
     "sessions.London.tz: unknown key"),
    ({"London": "08-17"}, "sessions.London: found '08-17'"),
])
def test_bad_overrides_are_named(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        session_table(overrides)
    assert message in str(err.value)


def _in_london_or_new_york(t: int) -> bool:
    """Independent: server wall clock - 7 h is New York's wall clock; local hours via zoneinfo."""
    ny = ZoneInfo("America/New_York")
    wall = datetime.fromtimestamp(t, UTC).replace(tzinfo=None) - timedelta(hours=7)
    moment = wall.replace(tzinfo=ny)
    london = moment.astimezone(ZoneInfo("Europe/London"))
    return 8 <= london.hour < 17 or 8 <= moment.hour < 17


def test_whole_file_matches_zoneinfo(xau: NDArray[np.void]) -> None:
    f = SessionFilter(["London", "NewYork"], action="disable", multiplier=1.0, server_tz=MT5)
    times = [int(t) for t in xau["time"]]
    got = [f.check(ctx(t)).allow for t in times]
    expected = [_in_london_or_new_york(t) for t in times]
    assert got == expected
    assert 0.4 < sum(got) / len(got) < 0.75  # the two sessions cover 13-14 h of ~23 trading h
