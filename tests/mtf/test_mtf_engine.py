"""MultiTimeframeEngine on real XAUUSD M15 bars: exact higher-timeframe values at the right lag,
gaps, own-file sources, no look-ahead at any cut, streaming == batch, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import talib
from numpy.typing import NDArray

from tests.mtf.conftest import index_of, stamp
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import bar_close_times, resample
from trademaestro.indicators.keys import SeriesKey
from trademaestro.indicators.mtf import MultiTimeframeEngine
from trademaestro.strategy.nodes import Cross

M15, H1, H4, D1, W1, MN1 = (Timeframe.M15, Timeframe.H1, Timeframe.H4, Timeframe.D1,
                            Timeframe.W1, Timeframe.MN1)
EMA9, EMA21 = SeriesKey("ema", (9,)), SeriesKey("ema", (21,))
EMA20_H1 = SeriesKey("ema", (20,), timeframe=H1)
RSI_H4 = SeriesKey("rsi", (14,), timeframe=H4)
CLOSE_H1, HIGH_H1 = SeriesKey("close", timeframe=H1), SeriesKey("high", timeframe=H1)
CLOSE_H4 = SeriesKey("close", timeframe=H4)
KEYS = [
    EMA9, SeriesKey("atr", (14,)), EMA20_H1, CLOSE_H1, HIGH_H1, SeriesKey("volume", timeframe=H1),
    RSI_H4, CLOSE_H4, SeriesKey("macd", (12, 26, 9), "signal", H4),
    SeriesKey("adx", (14,), "adx", H4), SeriesKey("close", timeframe=D1),
    SeriesKey("ema", (5,), timeframe=D1), SeriesKey("ema", (3,), timeframe=W1),
    SeriesKey("low", timeframe=MN1),
]


def _engine(rates: np.ndarray, keys=KEYS, **kw) -> MultiTimeframeEngine:
    engine = MultiTimeframeEngine(M15, keys, **kw)
    engine.extend(rates)
    return engine


@pytest.fixture(scope="module")
def full(gold_m15: np.ndarray) -> MultiTimeframeEngine:
    return _engine(gold_m15)


def _expected_map(m15: np.ndarray, tf: Timeframe) -> NDArray[np.int64]:
    """Independent oracle of the lag: the last resampled bar whose end <= the M15 bar's close."""
    bars = resample(m15, tf)
    ends = bar_close_times(bars, tf)
    return np.searchsorted(ends, m15["time"] + 900, side="right") - 1


def _lagged(values: NDArray[np.float64], idx: NDArray[np.int64]) -> NDArray[np.float64]:
    out = np.full(idx.shape, np.nan)
    out[idx >= 0] = values[idx[idx >= 0]]
    return out


@pytest.mark.parametrize("tf", [H1, H4, D1, W1, MN1])
def test_lag_map_and_bars_equal_the_batch_resample(full, gold_m15, tf) -> None:
    expected = _expected_map(gold_m15, tf)
    np.testing.assert_array_equal(full.revealed(tf), expected)
    bars = resample(gold_m15, tf)
    seen = full.higher_bars(tf)
    assert seen.size == expected[-1] + 1 == bars.size - 1  # the last bar is still forming
    np.testing.assert_array_equal(seen, bars[:-1])  # bit for bit, every field


def test_h1_ema20_equals_talib_on_resampled_closes_at_the_lag(full, gold_m15) -> None:
    h1 = resample(gold_m15, H1)
    ema = talib.EMA(h1["close"], 20)
    idx = _expected_map(gold_m15, H1)
    np.testing.assert_allclose(full.values(EMA20_H1), _lagged(ema, idx), rtol=1e-12)
    assert np.isnan(full.values(EMA20_H1)).sum() == np.flatnonzero(idx == 19)[0]  # 20 H1 bars
    rsi = talib.RSI(resample(gold_m15, H4)["close"], 14)
    got, want = full.values(RSI_H4), _lagged(rsi, _expected_map(gold_m15, H4))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_hand_picked_lags_2024_03_21(full, gold_m15) -> None:
    h1 = resample(gold_m15, H1)
    ema = talib.EMA(h1["close"], 20)
    k9, k10 = (int(np.flatnonzero(h1["time"] == stamp(f"2024-03-21 {h}"))[0])
               for h in ("09:00", "10:00"))
    i1030, i1045 = index_of(gold_m15, "2024-03-21 10:30"), index_of(gold_m15, "2024-03-21 10:45")
    assert (i1030, i1045) == (108, 109)
    values, revealed = full.values(EMA20_H1), full.revealed(H1)
    # 10:30 closes 10:45: the 10:00 H1 bar is still open, the 09:00 bar is the last closed one
    assert revealed[i1030] == k9 and values[i1030] == pytest.approx(ema[k9], rel=1e-12)
    # 10:45 closes 11:00 = the end of the 10:00 H1 bar: it is closed and is the value seen
    assert revealed[i1045] == k10 and values[i1045] == pytest.approx(ema[k10], rel=1e-12)
    assert values[i1030] != values[i1045]
    # ... and stays the value seen until 11:45 closes the 11:00 bar
    assert (values[109:113] == values[109]).all() and revealed[113] == k10 + 1
    assert values[113] == pytest.approx(ema[k10 + 1], rel=1e-12)
    # the H1 10:00 bar is made of the M15 bars 10:00..10:45 (indices 106..109)
    assert gold_m15["time"][106] == stamp("2024-03-21 10:00")
    assert full.values(CLOSE_H1)[i1045] == gold_m15["close"][109]
    assert full.values(HIGH_H1)[i1045] == gold_m15["high"][106:110].max()
    assert full.values(CLOSE_H1)[i1030] == gold_m15["close"][105]  # 09:45, close of 09:00


def test_gap_reveals_the_cut_bar_at_the_next_primary_bar(full, gold_m15) -> None:
    # 2024-05-27 (US holiday) trades until the 21:15 bar (closes 21:30); next bar 05-28 01:00.
    i = index_of(gold_m15, "2024-05-27 21:15")
    assert gold_m15["time"][i + 1] == stamp("2024-05-28 01:00")
    h1, h4 = full.higher_bars(H1), full.higher_bars(H4)
    at = {tf: full.revealed(tf) for tf in (H1, H4)}
    assert h1["time"][at[H1][i]] == stamp("2024-05-27 20:00")  # 21:00 bar ends 22:00: not yet
    assert h4["time"][at[H4][i]] == stamp("2024-05-27 16:00")
    assert h1["time"][at[H1][i + 1]] == stamp("2024-05-27 21:00")  # known complete only now
    assert h4["time"][at[H4][i + 1]] == stamp("2024-05-27 20:00")
    assert full.values(CLOSE_H1)[i + 1] == gold_m15["close"][i]  # the 2-bar hour's close
    # Friday 2024-03-22 ends with the 22:45 bar (closes 23:00 < 24:00, the 20:00 H4 bar's end):
    # that H4 bar is revealed at Monday's first bar, 2024-03-25 00:00.
    f = index_of(gold_m15, "2024-03-22 22:45")
    assert gold_m15["time"][f + 1] == stamp("2024-03-25 00:00")
    assert h4["time"][at[H4][f]] == stamp("2024-03-22 16:00")
    assert h4["time"][at[H4][f + 1]] == stamp("2024-03-22 20:00")
    assert full.values(CLOSE_H4)[f + 1] == gold_m15["close"][f]


def test_closed_bars_only_every_bar(full, gold_m15) -> None:
    closes = gold_m15["time"] + 900
    for tf in (H1, H4, D1, W1, MN1):
        idx = full.revealed(tf)
        bars = full.higher_bars(tf)
        ends = bar_close_times(bars, tf)
        seen = idx >= 0
        assert (ends[idx[seen]] <= closes[seen]).all()  # never a bar still open
        nxt = idx + 1  # and the next bar is never closed yet: the latest is used
        has_next = nxt < bars.size
        assert (ends[nxt[has_next]] > closes[has_next]).all()


def test_calendar_month_end(full, gold_m15) -> None:
    low = full.values(SeriesKey("low", timeframe=MN1))
    months = full.higher_bars(MN1)
    assert months["time"][0] == stamp("2024-03-01 00:00")
    # March 2024 closes at 2024-04-01 00:00: the 2024-03-28 22:45 bar (closes 23:00, the last of
    # the month) does not see it; the next bar (2024-04-01 01:00) does.
    i = index_of(gold_m15, "2024-03-28 22:45")
    assert np.isnan(low[i]) and low[i + 1] == gold_m15["low"][: i + 1].min()


def test_own_file_h1_equals_the_resampled_h1(gold_m15, gold_h1) -> None:
    """Same broker feed; start both at 2024-03-20 07:00 (the M15 file lacks 06:00 and 06:15)."""
    m15 = gold_m15[2:]
    assert m15["time"][0] == stamp("2024-03-20 07:00")
    source = gold_h1[gold_h1["time"] >= m15["time"][0]]
    keys = [EMA20_H1, CLOSE_H1, HIGH_H1, SeriesKey("low", timeframe=H1),
            SeriesKey("open", timeframe=H1), SeriesKey("rsi", (14,), timeframe=H1),
            SeriesKey("volume", timeframe=H1), SeriesKey("spread", timeframe=H1)]
    own = _engine(m15, keys, sources={H1: source, D1: gold_h1[:0]})  # D1 unused: ignored
    ours = _engine(m15, keys)
    np.testing.assert_array_equal(own.revealed(H1), ours.revealed(H1))
    # 11,810 hours in the M15 file, minus the cut 06:00 hour and the last one (still forming)
    assert own.higher_bars(H1).size == 11_808
    np.testing.assert_array_equal(own.higher_bars(H1), ours.higher_bars(H1))  # every field
    for key in keys:
        np.testing.assert_array_equal(own.values(key), ours.values(key), err_msg=str(key))


def test_own_file_history_warms_up_from_the_first_bar(gold_m15, gold_h1) -> None:
    own = _engine(gold_m15[:400], [EMA20_H1], sources={H1: gold_h1})
    ends = bar_close_times(gold_h1, H1)
    idx = np.searchsorted(ends, gold_m15["time"][:400] + 900, side="right") - 1
    np.testing.assert_array_equal(own.revealed(H1), idx)
    assert gold_h1["time"][idx[0]] == stamp("2024-03-20 05:00")  # the file's, before the M15's
    np.testing.assert_allclose(own.values(EMA20_H1), talib.EMA(gold_h1["close"], 20)[idx],
                               rtol=1e-12)
    assert not np.isnan(own.values(EMA20_H1)).any()


def test_no_look_ahead_at_random_cuts(full, gold_m15, gold_h1) -> None:
    rng = np.random.default_rng(20240320)
    n = gold_m15.size
    cuts = sorted({1, 2, 4380, 4381, n - 1, *rng.integers(3, n, 16).tolist()})
    own_full = _engine(gold_m15, [EMA20_H1, CLOSE_H1], sources={H1: gold_h1})
    for c in cuts:
        part = _engine(gold_m15[:c])
        for key in KEYS:
            np.testing.assert_array_equal(part.values(key), full.values(key)[:c],
                                          err_msg=f"{key} at cut {c}")
        for tf in full.timeframes:
            np.testing.assert_array_equal(part.revealed(tf), full.revealed(tf)[:c])
    for c in cuts[:8]:
        own = _engine(gold_m15[:c], [EMA20_H1, CLOSE_H1], sources={H1: gold_h1})
        np.testing.assert_array_equal(own.values(EMA20_H1), own_full.values(EMA20_H1)[:c])


def test_streaming_equals_batch(full, gold_m15) -> None:
    engine = MultiTimeframeEngine(M15, KEYS)
    final = {key: full.values(key) for key in KEYS}
    for i in range(1500):  # one bar at a time, as a live run sees them
        engine.extend(gold_m15[i : i + 1])
        assert len(engine) == i + 1
        for key in KEYS:  # the newest value is already the final one: nothing repaints
            new, last = engine.values(key)[i], final[key][i]
            assert new == last or (np.isnan(new) and np.isnan(last)), (key, i)
    rng = np.random.default_rng(7)
    at = 1500
    while at < gold_m15.size:
        step = int(rng.integers(1, 700))
        engine.extend(gold_m15[at : at + step])
        at += step
    assert len(engine) == len(full) == gold_m15.size
    for key in KEYS:
        np.testing.assert_array_equal(engine.values(key), full.values(key), err_msg=str(key))
    for tf in full.timeframes:
        np.testing.assert_array_equal(engine.higher_bars(tf), full.higher_bars(tf))


def test_primary_keys_and_own_timeframe_keys(full, gold_m15) -> None:
    assert full.keys == tuple(KEYS)
    assert full.timeframes == (H1, H4, D1, W1, MN1)
    np.testing.assert_allclose(full.values(EMA9), talib.EMA(gold_m15["close"], 9), rtol=1e-12)
    both = _engine(gold_m15[:300], [EMA9, EMA9.on(M15), EMA9])
    assert both.keys == (EMA9, EMA9.on(M15)) and both.timeframes == ()
    np.testing.assert_array_equal(both.values(EMA9.on(M15)), both.values(EMA9))
    assert both.indicator_count == 1 and full.indicator_count == 8  # 2 + 1 + 3 + 1 + 1 + 0


def test_htf_cross_fires_once_at_the_revealing_bar(full, gold_m15) -> None:
    keys = [EMA9.on(H1), EMA21.on(H1)]
    engine = _engine(gold_m15, keys)
    series = {k: engine.values(k) for k in keys}
    hits = np.flatnonzero(Cross(keys[0], keys[1], above=True).evaluate_all(series))
    closes = resample(gold_m15, H1)["close"][:-1]
    e9, e21 = talib.EMA(closes, 9), talib.EMA(closes, 21)
    h1_cross = np.flatnonzero((e9[:-1] <= e21[:-1]) & (e9[1:] > e21[1:])) + 1
    revealed = engine.revealed(H1)
    first_seen = np.searchsorted(revealed, h1_cross, side="left")  # revealed is non-decreasing
    np.testing.assert_array_equal(hits, first_seen)
    assert hits.size == h1_cross.size == 247


def test_bad_input(gold_m15, gold_h1) -> None:
    with pytest.raises(ValueError, match="M5: found a timeframe lower than the primary M15"):
        MultiTimeframeEngine(M15, [SeriesKey("ema", (9,), timeframe=Timeframe.M5)])
    with pytest.raises(ValueError, match="H6: found a timeframe that is not a whole multiple"):
        MultiTimeframeEngine(H4, [SeriesKey("close", timeframe=Timeframe.H6)])
    with pytest.raises(ValueError, match="not a whole multiple of the primary W1"):
        MultiTimeframeEngine(W1, [SeriesKey("close", timeframe=MN1)])
    with pytest.raises(ValueError, match="timeframe H1: series foo"):
        MultiTimeframeEngine(M15, [SeriesKey("foo", timeframe=H1)])
    with pytest.raises(ValueError, match="allowed: a SeriesKey"):
        MultiTimeframeEngine(M15, ["ema_9"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="allowed: a Timeframe"):
        MultiTimeframeEngine("M15", [EMA9])  # type: ignore[arg-type]

    engine = _engine(gold_m15[:10], KEYS)
    shifted = gold_m15[10:13].copy()
    shifted["time"][1] += 60
    with pytest.raises(ValueError, match=r"rates\[1\]\.time: found .* not on a M15 boundary"):
        engine.extend(shifted)
    with pytest.raises(ValueError, match="not after the last bar seen"):
        engine.extend(gold_m15[5:12])
    assert len(engine) == 10 and engine.values(EMA20_H1).size == 10  # nothing consumed
    engine.extend(gold_m15[10:20])
    np.testing.assert_array_equal(engine.values(CLOSE_H1), _engine(gold_m15[:20]).values(CLOSE_H1))

    with pytest.raises(KeyError, match="not computed"):
        engine.values(SeriesKey("ema", (9,), timeframe=H4))
    with pytest.raises(KeyError, match="no series on timeframe H12"):
        engine.revealed(Timeframe.H12)

    bad = gold_h1[:50].copy()
    bad["time"][3] += 900
    with pytest.raises(ValueError, match=r"sources\[H1\]\[3\]\.time: .* not on a H1 boundary"):
        MultiTimeframeEngine(M15, [CLOSE_H1], sources={H1: bad})
    with pytest.raises(ValueError, match=r"sources\[H1\]\[2\]\.time: found .* strictly ascend"):
        MultiTimeframeEngine(M15, [CLOSE_H1], sources={H1: gold_h1[[0, 2, 1]]})
    nan = gold_h1[:5].copy()
    nan["close"][4] = np.nan
    with pytest.raises(ValueError, match=r"sources\[H1\]\[4\]\.close: found nan"):
        MultiTimeframeEngine(M15, [CLOSE_H1], sources={H1: nan})
    with pytest.raises(ValueError, match=r"sources\[H1\]: found a non-structured"):
        MultiTimeframeEngine(M15, [CLOSE_H1], sources={H1: np.zeros(3)})


def test_other_rates_dtypes_are_accepted(gold_m15) -> None:
    """MT5's rates may come without ``real_volume`` or in another field order."""
    names = ["time", "open", "high", "low", "close", "tick_volume", "spread"]
    narrow = np.zeros(400, dtype=[(n, gold_m15.dtype[n]) for n in reversed(names)])
    for name in names:
        narrow[name] = gold_m15[name][:400]
    a, b = _engine(narrow, [EMA20_H1, CLOSE_H4]), _engine(gold_m15[:400], [EMA20_H1, CLOSE_H4])
    for key in (EMA20_H1, CLOSE_H4):
        np.testing.assert_array_equal(a.values(key), b.values(key))
