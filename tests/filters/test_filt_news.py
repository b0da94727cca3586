"""News filter and the CSV calendar: real 2024 release times against real XAUUSD M15 bars, exact
blackout edges (both ends inclusive), impacts, currencies, and bad calendar rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.filters.conftest import bar_at
from tests.filters.helpers import EUR, XAU, ctx, st
from trademaestro.core.errors import ConfigError, DataError
from trademaestro.core.servertime import ServerTimeZone
from trademaestro.core.symbols import SymbolSpec
from trademaestro.filters import CsvNewsCalendar, NewsEvent, NewsFilter
from trademaestro.filters.news import parse_utc, symbol_currencies
from trademaestro.strategy.limits import NewsFilter as NewsModel

CSV = Path(__file__).with_name("news_2024.csv")
MT5 = ServerTimeZone.mt5_default()
FOMC = "high USD news at 2024-03-20 18:00 UTC: FOMC rate decision"


@pytest.fixture(scope="module")
def calendar() -> CsvNewsCalendar:
    return CsvNewsCalendar(CSV)


def news(calendar: CsvNewsCalendar | None, before: float = 30, after: float = 30,
         impact: tuple[str, ...] = ("high",), tz: ServerTimeZone = MT5) -> NewsFilter:
    return NewsFilter(minutes_before=before, minutes_after=after, impact=impact, server_tz=tz,
                      calendar=calendar)


def test_calendar_reads_the_sample(calendar: CsvNewsCalendar) -> None:
    assert len(calendar) == 8
    first = calendar.events(0, st("2024-03-20 14:30:00"))
    assert first == (NewsEvent(st("2024-03-20 14:30:00"), "USD", "low",
                               "EIA crude oil inventories, weekly"),)
    last = calendar.events(st("2024-05-01 18:00:00"), st("2030-01-01 00:00:00"))
    assert last == (NewsEvent(st("2024-05-01 18:00:00"), "USD", "high", "FOMC rate decision"),)
    assert calendar.events(st("2024-03-20 14:30:01"), st("2024-03-20 17:59:59")) == ()


@pytest.mark.parametrize(("server", "allow"), [
    # FOMC 18:00 UTC = 21:00 server (+3 under US DST); blackout 20:30:00 .. 21:30:00 inclusive.
    ("2024-03-20 20:15:00", True),
    ("2024-03-20 20:30:00", False),
    ("2024-03-20 21:00:00", False),
    ("2024-03-20 21:30:00", False),
    ("2024-03-20 21:45:00", True),
])
def test_fomc_blackout_on_real_bars(xau: NDArray[np.void], calendar: CsvNewsCalendar,
                                    server: str, allow: bool) -> None:
    t = st(server)
    bar_at(xau, t)
    verdict = news(calendar).check(ctx(t))
    assert verdict.allow is allow
    assert verdict.reason == ("no news" if allow else FOMC)


def test_edges_to_the_second(calendar: CsvNewsCalendar) -> None:
    f = news(calendar)
    assert f.check(ctx(st("2024-03-20 20:29:59"))).allow
    assert not f.check(ctx(st("2024-03-20 20:30:00"))).allow
    assert not f.check(ctx(st("2024-03-20 21:30:00"))).allow
    assert f.check(ctx(st("2024-03-20 21:30:01"))).allow
    zero = news(calendar, before=0, after=0)
    assert not zero.check(ctx(st("2024-03-20 21:00:00"))).allow
    assert zero.check(ctx(st("2024-03-20 20:59:59"))).allow
    assert zero.check(ctx(st("2024-03-20 21:00:01"))).allow
    asym = news(calendar, before=5, after=90)  # 20:55 .. 22:30 server
    assert not asym.check(ctx(st("2024-03-20 22:30:00"))).allow
    assert asym.check(ctx(st("2024-03-20 20:54:59"))).allow
    plus2 = news(calendar, tz=ServerTimeZone.fixed(2))  # FOMC = 20:00 server
    assert not plus2.check(ctx(st("2024-03-20 20:30:00"))).allow
    assert plus2.check(ctx(st("2024-03-20 20:30:01"))).allow


def test_impact_and_currency_matching(calendar: CsvNewsCalendar) -> None:
    eia = st("2024-03-20 17:30:00")  # 14:30 UTC, low impact
    assert news(calendar).check(ctx(eia)).allow
    assert not news(calendar, impact=("low", "high")).check(ctx(eia)).allow
    claims = st("2024-03-21 15:30:00")  # 12:30 UTC, medium USD; BoE GBP at 12:00 UTC
    assert news(calendar).check(ctx(claims)).allow
    medium = news(calendar, impact=("medium",)).check(ctx(claims))
    assert medium.reason == ("medium USD news at 2024-03-21 12:30 UTC: Initial jobless claims")
    boe = st("2024-03-21 15:00:00")
    assert news(calendar).check(ctx(boe)).allow  # GBP news does not touch XAUUSD
    gbp = SymbolSpec(name="GBPUSD", digits=5, point=1e-5, tick_size=1e-5, tick_value=1.0,
                     contract_size=1e5, volume_min=0.01, volume_max=100, volume_step=0.01,
                     currency_profit="")
    assert symbol_currencies(gbp) == {"GBP", "USD"}
    assert not news(calendar).check(ctx(boe, symbol="GBPUSD", spec=gbp)).allow
    ecb = st("2024-04-11 15:15:00")
    assert not news(calendar).check(ctx(ecb, symbol="EURUSD", spec=EUR)).allow
    assert news(calendar).check(ctx(ecb)).allow
    assert symbol_currencies(XAU) == {"XAU", "USD"}
    # No offset in the file means UTC; impact and currency are case-insensitive.
    assert not news(calendar).check(ctx(st("2024-05-01 21:00:00"))).allow


def test_no_calendar_and_model() -> None:
    verdict = news(None).check(ctx(st("2024-03-20 21:00:00")))
    assert (verdict.allow, verdict.reason) == (True, "no calendar")
    model = NewsModel.model_validate({"minutesBefore": 15, "minutesAfter": 45,
                                      "impact": ["High", "medium"]})
    f = NewsFilter.from_model(model, server_tz=MT5, calendar=None)
    assert (f.before, f.after, f.impact) == (900, 2700, frozenset({"high", "medium"}))
    assert "(no calendar: inactive)" in f.describe()
    with pytest.raises(ConfigError, match="minutes >= 0"):
        news(None, before=-1)
    with pytest.raises(ConfigError, match="impact"):
        news(None, impact=("huge",))


def test_parse_utc_forms() -> None:
    assert parse_utc("2024-03-20T18:00:00Z") == st("2024-03-20 18:00:00")
    assert parse_utc("2024-03-20T18:00:00") == st("2024-03-20 18:00:00")
    assert parse_utc("2024-03-20 18:00") == st("2024-03-20 18:00:00")
    assert parse_utc("2024-03-20T20:00:00+02:00") == st("2024-03-20 18:00:00")
    with pytest.raises(ValueError):
        parse_utc("2024-03-20")


HEAD = "time,currency,impact,title\n"


@pytest.mark.parametrize(("text", "line", "message"), [
    ("when,ccy,impact,title\n", 1, "found header 'when,ccy,impact,title'; allowed: time,"),
    (HEAD + "2024-03-20T18:00:00Z,USD,high,FOMC\n2024-03-20,USD,high,x\n", 3,
     "time: found '2024-03-20'; allowed: ISO 8601 UTC"),
    (HEAD + "2024-03-20T25:00:00Z,USD,high,x\n", 2, "time: found"),
    (HEAD + "\n2024-03-20T18:00:00Z,US,high,x\n", 3, "currency: found 'US'"),
    (HEAD + "2024-03-20T18:00:00Z,USD,severe,x\n", 2,
     "impact: found 'severe'; allowed: low, medium, high"),
    (HEAD + "2024-03-20T18:00:00Z,USD,high,FOMC, rates\n", 2, "found 5 columns; allowed: 4"),
    ("", None, "empty file"),
])
def test_bad_calendar_rows_name_file_and_line(tmp_path: Path, text: str, line: int | None,
                                              message: str) -> None:
    path = tmp_path / "cal.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        CsvNewsCalendar(path)
    assert err.value.path == str(path) and err.value.line == line
    assert message in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read the news calendar"):
        CsvNewsCalendar(tmp_path / "nope.csv")
