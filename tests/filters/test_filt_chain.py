"""Cooldown edges, the filter chain built from a strategy (order, skipping, multiplier products,
stop at the first deny) on real XAUUSD bars, and chain invariants as hypothesis properties."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as hs
from numpy.typing import NDArray

from tests.filters.conftest import bar_at
from tests.filters.helpers import ctx, st
from trademaestro.core.errors import ConfigError, StrategyError
from trademaestro.core.servertime import ServerTimeZone
from trademaestro.filters import (
    ORDER,
    CooldownFilter,
    CsvNewsCalendar,
    EntryContext,
    FilterChain,
    SessionFilter,
    SpreadFilter,
    VolatilityFilter,
)
from trademaestro.filters.base import Filter
from trademaestro.strategy import load_strategy

MT5 = ServerTimeZone.mt5_default()


def test_cooldown_edges() -> None:
    f = CooldownFilter(15)
    last = st("2024-07-10 10:00:00")
    assert f.check(ctx(last + 899, last_trade_time=last)).allow is False
    assert f.check(ctx(last + 899, last_trade_time=last)).reason == (
        "899 s since the last trade (< 900 s)")
    assert f.check(ctx(last + 900, last_trade_time=last)).allow
    assert not f.check(ctx(last - 60, last_trade_time=last)).allow  # clock behind the trade
    first = f.check(ctx(last))
    assert (first.allow, first.reason) == (True, "no previous trade")
    assert f.check(ctx(last + 900, last_trade_time=last)).reason == "cooldown of 15 min over"
    assert CooldownFilter(0).check(ctx(last, last_trade_time=last)).allow
    assert CooldownFilter(0.5).seconds == 30
    with pytest.raises(ConfigError):
        CooldownFilter(-1)


def strategy(filters: dict[str, Any], **options: Any) -> Any:
    doc: dict[str, Any] = {
        "strategyId": "s1", "symbol": "XAUUSD", "timeframe": "M15",
        "rules": {"entry": {"direction": "buy", "conditions": [
            {"indicator": "rsi", "condition": "less_than", "value": 30}]}},
        "filters": filters,
    }
    if options:
        doc["options"] = options
    return load_strategy(doc).spec


FULL = {
    "sessionFilter": {"enabled": True, "allowedSessions": ["London", "NewYork"],
                      "action": "disable"},
    "spreadFilter": {"enabled": True, "maxSpread": 3.0, "action": "REDUCE_SIZE",
                     "multiplier": 0.5},
    "volatilityFilter": {"enabled": True, "minATR": 1.0, "maxATR": 2.0, "period": 21,
                         "action": "REDUCE_SIZE", "multiplier": 0.8},
    "correlationFilter": {"enabled": True, "threshold": 0.8, "lookbackDays": 30},
    "newsFilter": {"enabled": True, "minutesBefore": 30, "minutesAfter": 30,
                   "impact": ["high"]},
}


@pytest.fixture(scope="module")
def atr21(xau: NDArray[np.void]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = talib.ATR(xau["high"], xau["low"], xau["close"], timeperiod=21)
    return out


def bar_ctx(xau: NDArray[np.void], atr21: NDArray[np.float64], server: str,
            **kw: Any) -> EntryContext:
    """Decision at the open of a real bar: bid = its open, ask = bid + its spread, its ATR(21)
    (TA-Lib, bar before)."""
    t = st(server)
    bar = bar_at(xau, t)
    i = int(np.searchsorted(xau["time"], t))
    bid = float(bar["open"])
    return ctx(t, bid=bid, ask=round(bid + int(bar["spread"]) * 0.01, 2),
               atr={21: float(atr21[i - 1])}, **kw)


def test_chain_from_strategy_order_and_products(xau: NDArray[np.void],
                                                atr21: NDArray[np.float64]) -> None:
    calendar = CsvNewsCalendar(Path(__file__).with_name("news_2024.csv"))
    chain = FilterChain.from_strategy(strategy(FULL, cooldownMinutes=60), server_tz=MT5,
                                      news=calendar)
    assert [f.name for f in chain.filters] == list(ORDER)
    assert chain.atr_periods() == {21}
    assert chain.describe().splitlines()[0].startswith("1. session: London 08:00–17:00")
    assert chain.describe().splitlines()[5] == "6. cooldown: 60 min after the last trade"

    # 2024-07-17 10:45 server = 08:45 BST: London; spread 33 points = 3.3 pips > 3.
    # ATR(21) of the bar before (TA-Lib) = 3.5848 > 2: volatility × 0.8.
    c = bar_ctx(xau, atr21, "2024-07-17 10:45:00")
    assert c.atr[21] == pytest.approx(3.58483866, abs=1e-8)
    result = chain.evaluate(c)
    assert result.allow
    assert [v.name for v in result.verdicts] == list(ORDER)
    spread = result.verdicts[1]
    assert (spread.multiplier, spread.reason) == (0.5, "spread 3.3 > 3 pips: size × 0.5")
    vol = result.verdicts[2]
    assert (vol.multiplier, vol.reason) == (0.8, "ATR(21) 3.58484 outside [1, 2]: size × 0.8")
    assert result.multiplier == pytest.approx(0.4, abs=1e-15)
    assert result.verdicts[3].reason == "no other open symbol"
    assert result.verdicts[4].reason == "no news"
    assert result.verdicts[5].reason == "no previous trade"

    # 2024-07-17 03:00 server = 01:00 BST: outside both sessions, the chain stops at once.
    night = chain.evaluate(bar_ctx(xau, atr21, "2024-07-17 03:00:00"))
    assert not night.allow and len(night.verdicts) == 1
    assert night.reason == "session: outside London, NewYork"

    # FOMC 2024-03-20 18:00 UTC = 21:00 server (New York session): stops at news.
    fomc = chain.evaluate(bar_ctx(xau, atr21, "2024-03-20 21:00:00"))
    assert [v.name for v in fomc.verdicts] == list(ORDER[:5]) and not fomc.allow
    assert fomc.reason.startswith("news: high USD news at 2024-03-20 18:00 UTC")

    # Cooldown: the last trade 59 minutes before.
    t = st("2024-07-17 10:45:00")
    cool = chain.evaluate(bar_ctx(xau, atr21, "2024-07-17 10:45:00",
                                  last_trade_time=t - 59 * 60))
    assert not cool.allow and cool.verdicts[-1].name == "cooldown"


def test_quiet_and_wild_atr_products(xau: NDArray[np.void], atr21: NDArray[np.float64]) -> None:
    chain = FilterChain.from_strategy(strategy({k: FULL[k] for k in (
        "sessionFilter", "spreadFilter", "volatilityFilter")}), server_tz=MT5)
    # 2024-07-10 10:00 server (08:00 BST, start inclusive), spread 8 points = 0.8 pips,
    # ATR(21) of the bar before 1.9024 within [1, 2]: no effect.
    quiet = bar_ctx(xau, atr21, "2024-07-10 10:00:00")
    assert quiet.atr[21] == pytest.approx(1.90244794, abs=1e-8)
    r = chain.evaluate(quiet)
    assert (r.allow, r.multiplier) == (True, 1.0)
    assert chain.evaluate(quiet) is r  # same verdicts: the previous result object
    assert [v.reason for v in r.verdicts] == ["in London", "spread 0.8 <= 3 pips",
                                              "ATR(21) within [1, 2]"]
    # 2026-02-02 10:00 server = 08:00 GMT, spread 4 points; ATR(21) 63.84 > 2: × 0.8 only.
    wild = bar_ctx(xau, atr21, "2026-02-02 10:00:00")
    assert wild.atr[21] == pytest.approx(63.84444667, abs=1e-7)
    r = chain.evaluate(wild)
    assert (r.allow, r.multiplier) == (True, 0.8)
    assert r.verdicts[0].reason == "in London"


def test_disabled_and_absent_filters_are_skipped() -> None:
    spec = strategy({"sessionFilter": {"enabled": False, "allowedSessions": ["London"]},
                     "spreadFilter": {"maxSpread": 2}})
    chain = FilterChain.from_strategy(spec, server_tz=MT5)
    assert [f.name for f in chain.filters] == ["spread"]
    assert chain.atr_periods() == set()
    empty = FilterChain.from_strategy(strategy({}), server_tz=MT5)
    assert len(empty) == 0 and empty.describe() == "no entry filters"
    r = empty.evaluate(ctx(0))
    assert (r.allow, r.multiplier, r.verdicts) == (True, 1.0, ())


def test_bad_multiplier_names_the_json_path() -> None:
    # Rejected when the strategy loads (the model), before any chain is built.
    with pytest.raises(StrategyError) as err:
        strategy({"sessionFilter": {"allowedSessions": ["London"], "action": "scale",
                                    "riskMultiplier": 2}})
    assert err.value.json_path.endswith("filters.sessionFilter.riskMultiplier")
    with pytest.raises(ConfigError, match=r"sessions\.Tokyo"):
        FilterChain.from_strategy(strategy(FULL), server_tz=MT5,
                                  sessions={"Tokyo": {"zone": "Asia/Tokyo"}})


# -- properties -------------------------------------------------------------------------------

multipliers = hs.floats(min_value=0.01, max_value=1.0)


@hs.composite
def chains(draw: hs.DrawFn) -> FilterChain:
    filters: list[Filter] = []
    if draw(hs.booleans()):
        filters.append(SessionFilter(
            draw(hs.lists(hs.sampled_from(["Sydney", "Tokyo", "London", "NewYork"]),
                          min_size=1, max_size=4)),
            action=draw(hs.sampled_from(["disable", "scale"])), multiplier=draw(multipliers),
            server_tz=MT5))
    if draw(hs.booleans()):
        filters.append(SpreadFilter(draw(hs.floats(0.1, 10)),
                                    action=draw(hs.sampled_from(["SKIP", "REDUCE_SIZE"])),
                                    multiplier=draw(multipliers)))
    if draw(hs.booleans()):
        lo = draw(hs.floats(0, 5))
        filters.append(VolatilityFilter(period=14, min_atr=lo, max_atr=lo + draw(hs.floats(0, 5)),
                                        action=draw(hs.sampled_from(["SKIP", "REDUCE_SIZE"])),
                                        multiplier=draw(multipliers)))
    if draw(hs.booleans()):
        filters.append(CooldownFilter(draw(hs.floats(0, 120))))
    return FilterChain(filters)


contexts = hs.builds(
    lambda t, bid, spread, atr, ago: ctx(t, bid=bid, ask=round(bid + spread * 0.01, 2),
                                         atr={14: atr}, last_trade_time=None if ago is None
                                         else t - ago),
    hs.integers(st("2024-01-01 00:00:00"), st("2026-12-31 00:00:00")),
    hs.floats(1000, 4000).map(lambda x: round(x, 2)), hs.integers(0, 200),
    hs.one_of(hs.just(math.nan), hs.floats(0, 12)), hs.one_of(hs.none(), hs.integers(0, 9000)))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(chains(), contexts)
def test_chain_invariants(chain: FilterChain, c: EntryContext) -> None:
    r = chain.evaluate(c)
    names = [v.name for v in r.verdicts]
    assert names == [f.name for f in chain.filters][:len(names)]
    assert 0.0 < r.multiplier <= 1.0
    assert all(0.0 < v.multiplier <= 1.0 for v in r.verdicts)
    assert r.multiplier == pytest.approx(math.prod(v.multiplier for v in r.verdicts if v.allow))
    if r.allow:
        assert len(r.verdicts) == len(chain.filters) and all(v.allow for v in r.verdicts)
    else:  # the first deny is the last verdict
        assert not r.verdicts[-1].allow and all(v.allow for v in r.verdicts[:-1])
    # each verdict is what the filter alone says
    for f, v in zip(chain.filters, r.verdicts, strict=False):
        assert f.check(c) == v
