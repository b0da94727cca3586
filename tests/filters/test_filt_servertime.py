"""ServerTimeZone: exact conversions around the 2024 and 2025 US DST changes, fixed offsets,
zone-based servers, configuration parsing, and the round trip as a property."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from tests.filters.helpers import st, text_of
from trademaestro.core.errors import ConfigError
from trademaestro.core.servertime import ServerTimeZone, server_day, start_of_server_day

MT5 = ServerTimeZone.mt5_default()
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("server", "utc"), [
    # 2024: US DST from 2024-03-10 07:00 UTC to 2024-11-03 06:00 UTC.
    ("2024-03-08 23:59:59", "2024-03-08 21:59:59"),   # winter, +2
    ("2024-03-10 08:59:59", "2024-03-10 06:59:59"),   # last second of +2
    ("2024-03-10 10:00:00", "2024-03-10 07:00:00"),   # first second of +3
    ("2024-03-11 00:00:00", "2024-03-10 21:00:00"),   # Monday midnight = 17:00 New York (EDT)
    ("2024-03-20 10:15:00", "2024-03-20 07:15:00"),   # US DST while London is still on GMT
    ("2024-07-10 12:00:00", "2024-07-10 09:00:00"),
    ("2024-11-03 08:59:59", "2024-11-03 05:59:59"),   # repeated hour: first occurrence (+3)
    ("2024-11-03 09:00:00", "2024-11-03 07:00:00"),   # +2 again
    ("2024-11-04 00:00:00", "2024-11-03 22:00:00"),   # midnight = 17:00 New York (EST)
    # 2025: US DST from 2025-03-09 07:00 UTC to 2025-11-02 06:00 UTC.
    ("2025-03-09 08:59:59", "2025-03-09 06:59:59"),
    ("2025-03-09 10:00:00", "2025-03-09 07:00:00"),
    ("2025-03-10 00:00:00", "2025-03-09 21:00:00"),
    ("2025-11-02 08:30:00", "2025-11-02 05:30:00"),
    ("2025-11-02 09:00:00", "2025-11-02 07:00:00"),
    ("2025-11-03 00:00:00", "2025-11-02 22:00:00"),
])
def test_mt5_default_conversions(server: str, utc: str) -> None:
    assert text_of(MT5.to_utc(st(server))) == utc
    assert text_of(MT5.to_server(st(utc))) == server


def test_mt5_default_gap_and_fold_edges() -> None:
    # Spring gap: server 09:00-10:00 on 2024-03-10 never occurs; read with the +2 before it.
    assert text_of(MT5.to_utc(st("2024-03-10 09:30:00"))) == "2024-03-10 07:30:00"
    assert text_of(MT5.to_server(st("2024-03-10 07:30:00"))) == "2024-03-10 10:30:00"
    # Autumn fold: server 08:00-09:00 on 2024-11-03 occurs twice; UTC 05:30 and 06:30 both map
    # to 08:30, which reads back as the first.
    assert text_of(MT5.to_server(st("2024-11-03 05:30:00"))) == "2024-11-03 08:30:00"
    assert text_of(MT5.to_server(st("2024-11-03 06:30:00"))) == "2024-11-03 08:30:00"
    assert text_of(MT5.to_utc(st("2024-11-03 08:30:00"))) == "2024-11-03 05:30:00"
    assert MT5.offset_at_server(st("2024-11-03 08:59:59")) == 3 * 3600
    assert MT5.offset_at_server(st("2024-11-03 09:00:00")) == 2 * 3600


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st_.integers(min_value=st("2000-01-01 00:00:00"), max_value=st("2037-12-31 00:00:00")))
def test_server_is_new_york_wall_clock_plus_seven_hours(t_utc: int) -> None:
    wall = datetime.fromtimestamp(t_utc, NY).replace(tzinfo=None) + timedelta(hours=7)
    server = MT5.to_server(t_utc)
    assert text_of(server) == wall.strftime("%Y-%m-%d %H:%M:%S")
    back = MT5.to_utc(server)
    if back != t_utc:  # only the second pass through the repeated autumn hour
        moment = datetime.fromisoformat(text_of(server))
        assert back == t_utc - 3600
        assert (moment.month, moment.weekday(), moment.hour) in ((10, 6, 8), (11, 6, 8))
    assert server_day(server) * 86400 == start_of_server_day(server)
    assert 0 <= server - start_of_server_day(server) < 86400


def test_fixed_offsets_and_parsing() -> None:
    plus2 = ServerTimeZone.fixed(2)
    assert text_of(plus2.to_utc(st("2024-07-10 12:00:00"))) == "2024-07-10 10:00:00"
    assert plus2.to_server(st("2024-07-10 10:00:00")) == st("2024-07-10 12:00:00")
    assert plus2.is_fixed and not MT5.is_fixed
    assert ServerTimeZone.parse("UTC+3").offset_at_server(0) == 10800
    assert ServerTimeZone.parse("GMT-5.5").offset_at_server(0) == -19800
    assert ServerTimeZone.parse(0).offset_at_server(0) == 0
    assert ServerTimeZone.parse(None).describe() == MT5.describe()
    assert ServerTimeZone.parse("mt5").describe().startswith("UTC+2, UTC+3")
    athens = ServerTimeZone.parse("Europe/Athens")  # EU DST: +3 from 2024-03-31 01:00 UTC
    assert athens.offset_at_server(st("2024-03-20 10:00:00")) == 7200
    assert athens.offset_at_server(st("2024-04-02 10:00:00")) == 10800
    assert text_of(athens.to_utc(st("2024-03-31 04:00:00"))) == "2024-03-31 01:00:00"


@pytest.mark.parametrize(("value", "message"), [
    (2.1, "steps of 0.25"), (15, "from -12 to 14"), ("Mars/Base", "IANA zone"),
    ([2], "allowed: mt5"), (True, "allowed: mt5"), (float("nan"), "from -12 to 14"),
])
def test_bad_configuration_is_named(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match="server time zone") as err:
        ServerTimeZone.parse(value)
    assert message in str(err.value)
    assert repr(value) in str(err.value) or isinstance(value, list)


def test_server_day_helpers() -> None:
    t = st("2024-03-20 10:15:00")
    assert server_day(t) == 19802
    assert text_of(start_of_server_day(t)) == "2024-03-20 00:00:00"
    assert start_of_server_day(st("2024-03-20 00:00:00")) == st("2024-03-20 00:00:00")
