"""resample / bar_close_times on real gold bars, against the broker's own H1 file and a stdlib
oracle, plus hypothesis properties."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from data_testkit import iso
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import bar_close_times, load_bars, resample
from trademaestro.data.resample import bar_open_times

FIELDS = ("open", "high", "low", "close")


@pytest.fixture(scope="session")
def gold_m15(shared_data: Path) -> np.ndarray:
    return load_bars(shared_data / "XAUUSD_M15.csv").rates


@pytest.fixture(scope="session")
def gold_h1(shared_data: Path) -> np.ndarray:
    return load_bars(shared_data / "XAUUSD_H1.csv").rates


def _points(values: np.ndarray) -> np.ndarray:
    """Gold prices (2 digits) as integer points, for exact comparison."""
    return np.rint(np.asarray(values, dtype=np.float64) * 100).astype(np.int64)


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per bar: time, OHLC (in points), tick volume and spread all identical."""
    ok = (a["time"] == b["time"]) & (a["tick_volume"] == b["tick_volume"])
    ok &= a["spread"] == b["spread"]
    for key in FIELDS:
        ok &= _points(a[key]) == _points(b[key])
    return ok


def test_m15_to_h1_equals_the_brokers_h1(gold_m15: np.ndarray, gold_h1: np.ndarray) -> None:
    """Both files are the same broker feed, so every hour matches exactly except the two that
    XAUUSD_M15.csv cuts: it starts at 2024.03.20 06:30 (06:00 and 06:15 are missing) and ends
    with the 2026.03.20 06:15 bar (06:30 and 06:45 missing)."""
    ours = resample(gold_m15, Timeframe.H1)
    first = gold_m15["time"][0] - gold_m15["time"][0] % 3600
    broker = gold_h1[(gold_h1["time"] >= first) & (gold_h1["time"] <= gold_m15["time"][-1])]
    # the same hours on both sides: no hour the broker has that the M15 file lacks, or reverse
    np.testing.assert_array_equal(ours["time"], broker["time"])
    assert ours.size == 11_810
    same = _same(ours, broker)
    mismatched = [iso(t) for t in ours["time"][~same]]
    assert mismatched == ["2024-03-20 06:00:00", "2026-03-20 06:00:00"]
    # the cut hours: our bar is made of a subset of the broker's quarter hours
    cut = ~same
    assert bool((ours["high"][cut] <= broker["high"][cut]).all())
    assert bool((ours["low"][cut] >= broker["low"][cut]).all())
    assert bool((ours["tick_volume"][cut] < broker["tick_volume"][cut]).all())


def test_m15_to_h1_complete_hours_all_identical(gold_m15: np.ndarray, gold_h1: np.ndarray) -> None:
    """The brief's comparison: every H1 bar whose four M15 bars are all present."""
    hours, counts = np.unique(gold_m15["time"] - gold_m15["time"] % 3600, return_counts=True)
    complete = hours[counts == 4]
    assert complete.size == 11_770  # 40 hours have fewer bars: 2 cut at the file's ends, 38
    # early closes before holidays/weekends (e.g. 2024-05-27 21:00 has 21:00 and 21:15 only)
    ours = resample(gold_m15, Timeframe.H1)
    ours = ours[np.isin(ours["time"], complete)]
    broker = gold_h1[np.isin(gold_h1["time"], complete)]
    assert broker.size == complete.size
    assert bool(_same(ours, broker).all())


def _oracle(rates: np.ndarray, key: Callable[[datetime], datetime]) -> np.ndarray:
    """Resampling with datetime and a dict: the plain-Python reference."""
    groups: dict[datetime, list[np.void]] = {}
    for bar in rates:
        stamp = datetime.fromtimestamp(int(bar["time"]), UTC)
        groups.setdefault(key(stamp), []).append(bar)
    out = np.zeros(len(groups), dtype=RATES_DTYPE)
    for i, (start, bars) in enumerate(groups.items()):
        out[i] = (
            int(start.timestamp()),
            bars[0]["open"],
            max(b["high"] for b in bars),
            min(b["low"] for b in bars),
            bars[-1]["close"],
            sum(int(b["tick_volume"]) for b in bars),
            min(int(b["spread"]) for b in bars),
            0,
        )
    return out


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


ORACLE_KEYS: dict[Timeframe, Callable[[datetime], datetime]] = {
    Timeframe.H4: lambda t: t.replace(hour=t.hour // 4 * 4, minute=0, second=0),
    Timeframe.D1: lambda t: _midnight(t.date()),
    # Python: Monday is 0, Sunday 6; days back to the Sunday starting the week
    Timeframe.W1: lambda t: _midnight(t.date() - timedelta(days=(t.weekday() + 1) % 7)),
    Timeframe.MN1: lambda t: _midnight(t.date().replace(day=1)),
}


@pytest.mark.parametrize("timeframe", list(ORACLE_KEYS))
def test_h1_resample_matches_oracle(gold_h1: np.ndarray, timeframe: Timeframe) -> None:
    rates = gold_h1[-8_000:]  # about 16 months, including a year end and DST changes
    ours = resample(rates, timeframe)
    expected = _oracle(rates, ORACLE_KEYS[timeframe])
    np.testing.assert_array_equal(ours["time"], expected["time"])
    assert bool(_same(ours, expected).all())
    stamps = [datetime.fromtimestamp(int(t), UTC) for t in ours["time"]]
    if timeframe is Timeframe.W1:
        assert {s.strftime("%a %H:%M") for s in stamps} == {"Sun 00:00"}
    if timeframe is Timeframe.MN1:
        assert {s.strftime("%d %H:%M") for s in stamps} == {"01 00:00"}


def test_weekly_example_by_hand(gold_h1: np.ndarray) -> None:
    """The gold week opening Sunday 2026-03-15: bars from Monday 01:00 to Friday 23:00."""
    weekly = resample(gold_h1, Timeframe.W1)
    week = weekly[weekly["time"] == int(datetime(2026, 3, 15, tzinfo=UTC).timestamp())]
    assert week.size == 1
    sunday = int(week["time"][0])
    inside = gold_h1[(gold_h1["time"] >= sunday) & (gold_h1["time"] < sunday + 7 * 86400)]
    assert float(week["open"][0]) == pytest.approx(float(inside["open"][0]), abs=1e-9)
    assert float(week["high"][0]) == pytest.approx(float(inside["high"].max()), abs=1e-9)
    assert int(week["tick_volume"][0]) == int(inside["tick_volume"].sum())


def test_bar_close_times() -> None:
    def ts(*args: int) -> int:
        return int(datetime(*args, tzinfo=UTC).timestamp())

    opens = np.array([ts(2024, 1, 1), ts(2024, 2, 1), ts(2023, 2, 1), ts(2024, 12, 1)])
    closes = bar_close_times(opens, Timeframe.MN1)
    assert closes.tolist() == [ts(2024, 2, 1), ts(2024, 3, 1), ts(2023, 3, 1), ts(2025, 1, 1)]
    rates = np.zeros(2, dtype=RATES_DTYPE)
    rates["time"] = [ts(2024, 3, 20, 6, 30), ts(2024, 3, 20, 6, 45)]
    assert bar_close_times(rates, Timeframe.M15).tolist() == [
        ts(2024, 3, 20, 6, 45),
        ts(2024, 3, 20, 7),
    ]
    assert bar_close_times(rates[:1], Timeframe.W1).tolist() == [ts(2024, 3, 27, 6, 30)]


def test_no_lookahead_on_real_bars(gold_m15: np.ndarray) -> None:
    """Every M15 bar closes no later than the H1 bar holding it."""
    h1 = resample(gold_m15, Timeframe.H1)
    index = np.searchsorted(h1["time"], gold_m15["time"], side="right") - 1
    m15_close = bar_close_times(gold_m15, Timeframe.M15)
    h1_close = bar_close_times(h1, Timeframe.H1)[index]
    assert bool((m15_close <= h1_close).all())
    assert bool((gold_m15["time"] >= h1["time"][index]).all())


def test_invalid_targets_and_inputs(gold_h1: np.ndarray, gold_m15: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"spaced 3600 s \(H1\) to M15"):
        resample(gold_h1[:100], Timeframe.M15)
    with pytest.raises(ValueError, match="whole multiple"):
        resample(gold_m15[:100], Timeframe.M20)
    weekly = resample(gold_h1, Timeframe.W1)
    with pytest.raises(ValueError, match="to MN1"):
        resample(weekly, Timeframe.MN1)
    with pytest.raises(ValueError, match="strictly increase"):
        resample(gold_h1[::-1].copy(), Timeframe.D1)
    with pytest.raises(ValueError, match="RATES_DTYPE"):
        resample(gold_h1[["time", "open"]], Timeframe.D1)
    shifted = gold_h1[:50].copy()
    shifted["time"][7] += 1800  # an H1 bar opening at :30 would straddle two H1/H4 bars
    with pytest.raises(ValueError, match="bar 7 opens at"):
        resample(shifted, Timeframe.H4)


def test_sparse_data_needs_the_source_timeframe(gold_m15: np.ndarray) -> None:
    """Two M1 bars two minutes apart look like M2 bars; naming the source resolves it."""
    pair = gold_m15[:2].copy()
    pair["time"] = [1_710_916_200, 1_710_916_320]
    with pytest.raises(ValueError, match=r"spaced 120 s \(M2\) to M5"):
        resample(pair, Timeframe.M5)
    out = resample(pair, Timeframe.M5, source=Timeframe.M1)
    assert out.size == 1
    assert int(out["tick_volume"][0]) == int(pair["tick_volume"].sum())
    with pytest.raises(ValueError, match="no MT5 timeframe is longer"):
        resample(pair, Timeframe.MN1, source=Timeframe.MN1)


def test_edge_sizes(gold_h1: np.ndarray) -> None:
    assert resample(gold_h1[:0], Timeframe.D1).size == 0
    one = resample(gold_h1[:1], Timeframe.D1)
    assert one.size == 1
    assert iso(one["time"][0]) == "2016-03-21 00:00:00"
    same = resample(gold_h1[:500], Timeframe.H1)
    np.testing.assert_array_equal(same, gold_h1[:500])


# ---------------------------------------------------------------- properties

SOURCES = [Timeframe.M1, Timeframe.M5, Timeframe.M15, Timeframe.H1]
TARGETS = [
    Timeframe.M5, Timeframe.M15, Timeframe.M30, Timeframe.H1, Timeframe.H4,
    Timeframe.H12, Timeframe.D1, Timeframe.W1, Timeframe.MN1,
]  # fmt: skip


@st.composite
def bar_series(draw: st.DrawFn) -> tuple[np.ndarray, Timeframe, Timeframe]:
    source = draw(st.sampled_from(SOURCES))
    target = draw(
        st.sampled_from(
            [t for t in TARGETS if t is Timeframe.MN1 or t.seconds % source.seconds == 0]
        )
    )
    n = draw(st.integers(2, 300))
    gaps = draw(st.lists(st.integers(1, 400), min_size=n - 1, max_size=n - 1))
    start = draw(st.integers(1_262_304_000 // source.seconds, 1_800_000_000 // source.seconds))
    steps = np.concatenate(([0], np.cumsum(gaps)))
    rates = np.zeros(n, dtype=RATES_DTYPE)
    rates["time"] = (start + steps) * source.seconds
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rates["open"] = 1000 + rng.normal(0, 5, n).round(2)
    rates["close"] = 1000 + rng.normal(0, 5, n).round(2)
    rates["high"] = np.maximum(rates["open"], rates["close"]) + rng.uniform(0, 3, n).round(2)
    rates["low"] = np.minimum(rates["open"], rates["close"]) - rng.uniform(0, 3, n).round(2)
    rates["tick_volume"] = rng.integers(1, 10_000, n)
    rates["real_volume"] = rng.integers(0, 1_000, n)
    rates["spread"] = rng.integers(0, 300, n)
    return rates, source, target


@settings(max_examples=150, deadline=None, derandomize=True)
@given(bar_series())
def test_resample_properties(case: tuple[np.ndarray, Timeframe, Timeframe]) -> None:
    rates, source, target = case
    out = resample(rates, target, source=source)
    assert bool((out["high"] >= np.maximum(out["open"], out["close"])).all())
    assert bool((out["low"] <= np.minimum(out["open"], out["close"])).all())
    assert int(out["tick_volume"].sum()) == int(rates["tick_volume"].sum())
    assert int(out["real_volume"].sum()) == int(rates["real_volume"].sum())
    assert bool((np.diff(out["time"]) > 0).all())
    np.testing.assert_array_equal(bar_open_times(out["time"], target), out["time"])
    # no bar spans a boundary: each source bar lies wholly inside the output bar holding it
    index = np.searchsorted(out["time"], rates["time"], side="right") - 1
    assert bool((index >= 0).all())
    assert bool((rates["time"] >= out["time"][index]).all())
    closes = bar_close_times(out, target)[index]
    assert bool((bar_close_times(rates, source) <= closes).all())
    # every output bar holds at least one source bar, and its extremes come from them
    assert np.unique(index).size == out.size
    firsts = np.unique(index, return_index=True)[1]
    np.testing.assert_array_equal(np.maximum.reduceat(rates["high"], firsts), out["high"])
    np.testing.assert_array_equal(rates["open"][firsts], out["open"])
    assert int(out["spread"].min()) == int(rates["spread"].min())
