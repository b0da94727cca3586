"""Multi-timeframe strategies (Form B confirmations on H1/H4, Form A ``timeframe``) compiled and
evaluated on MultiTimeframeEngine values over real XAUUSD M15 bars: hand-checked bars, an
independent TA-Lib oracle, no look-ahead, and streaming == batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import talib
from numpy.typing import NDArray

from tests.mtf.conftest import index_of, stamp
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import bar_close_times, resample
from trademaestro.indicators.keys import SeriesKey
from trademaestro.indicators.mtf import MultiTimeframeEngine
from trademaestro.strategy.loader import load_strategy
from trademaestro.strategy.nodes import And, AtLeast, Compare, Condition, Confirmed, Cross
from trademaestro.strategy.rules import compile_entry

M15, H1, H4 = Timeframe.M15, Timeframe.H1, Timeframe.H4
POINT = 0.01
MACD = SeriesKey("macd", (12, 26, 9), "line")
SIGNAL = SeriesKey("macd", (12, 26, 9), "signal")
CLOSE_H4, EMA50_H4 = SeriesKey("close", timeframe=H4), SeriesKey("ema", (50,), timeframe=H4)
RSI_H1, ADX = SeriesKey("rsi", (14,), timeframe=H1), SeriesKey("adx", (14,), "adx")

FORM_B: dict[str, Any] = {
    "direction": "sell",
    "primary": [{"indicator": "macd", "condition": "crosses_below", "indicatorRef": "macd_signal"}],
    "confirmation": [
        {"timeframe": "H4", "indicator": "price", "condition": "less_than", "value": "ema_50",
         "required": True},
        {"timeframe": "1h", "indicator": "rsi", "condition": "less_than", "value": 50,
         "required": False},
        {"indicator": "adx", "condition": ">", "value": 20},
    ],
    "minConfirmations": 1,
}


def _doc(entry: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"strategyId": "mtf", "symbol": "XAUUSD", "timeframe": "M15",
            "rules": {"entry": entry}, **top}


def _series(tree: Condition, rates: np.ndarray) -> dict[SeriesKey, NDArray[np.float64]]:
    engine = MultiTimeframeEngine(M15, sorted(tree.series_keys(), key=str))
    engine.extend(rates)
    return {key: engine.values(key) for key in engine.keys}


def _lagged(rates: np.ndarray, tf: Timeframe, values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Oracle: ``values`` of resampled ``tf`` bars seen by each M15 bar (last end <= close)."""
    ends = bar_close_times(resample(rates, tf), tf)
    idx = np.searchsorted(ends, rates["time"] + 900, side="right") - 1
    out = np.full(idx.shape, np.nan)
    out[idx >= 0] = values[idx[idx >= 0]]
    return out


@pytest.fixture(scope="module")
def form_b(gold_m15: np.ndarray) -> tuple[Condition, dict[SeriesKey, NDArray[np.float64]]]:
    loaded = load_strategy(_doc(FORM_B))
    tree = compile_entry(loaded.spec, POINT)["sell"]
    return tree, _series(tree, gold_m15)


def test_form_b_loads_as_executed_and_compiles_to_timeframe_keys() -> None:
    loaded = load_strategy(_doc(FORM_B, options={"confirmationBars": 1}))
    assert loaded.unsupported == []
    assert compile_entry(loaded.spec, POINT)["sell"] == And((
        Cross(MACD, SIGNAL, above=False),
        Compare(CLOSE_H4, "<", EMA50_H4, 0.005),
        AtLeast(1, (Compare(RSI_H1, "<", 50.0, 0.005), Compare(ADX, ">", 20.0, 0.005))),
    ))


def test_form_b_equals_the_talib_oracle(form_b, gold_m15) -> None:
    tree, series = form_b
    got = tree.evaluate_all(series)
    c = gold_m15["close"]
    macd, signal, _ = talib.MACD(c, 12, 26, 9)
    primary = np.zeros(c.size, dtype=bool)
    primary[1:] = (macd[:-1] >= signal[:-1]) & (macd[1:] < signal[1:])
    h4 = resample(gold_m15, H4)["close"]
    required = _lagged(gold_m15, H4, h4) < _lagged(gold_m15, H4, talib.EMA(h4, 50))
    rsi_h1 = _lagged(gold_m15, H1, talib.RSI(resample(gold_m15, H1)["close"], 14))
    adx = talib.ADX(gold_m15["high"], gold_m15["low"], c, 14)
    optional = (rsi_h1 < 50).astype(int) + (adx > 20)
    np.testing.assert_array_equal(got, primary & required & (optional >= 1))
    assert (int(primary.sum()), int(got.sum())) == (1826, 477)
    assert np.flatnonzero(got)[:3].tolist() == [2050, 2104, 2135]


# bar, time, H4 bar seen, H4 close, H4 EMA50, H1 bar seen, H1 RSI, M15 ADX, signal
HAND = [
    # signal: 12:00 H4 still open at 14:15, so 08:00 is seen: 2359.60 < 2363.4683; RSI 35.18
    (2050, "2024-04-22 14:00", "2024-04-22 08:00", 2359.60, 2363.4683, "2024-04-22 13:00",
     35.1764, 43.5255, True),
    # primary and H4 hold but neither optional one does (RSI 52.91 >= 50, ADX 19.44 <= 20)
    (2217, "2024-04-24 09:45", "2024-04-24 04:00", 2326.59, 2348.7433, "2024-04-24 09:00",
     52.9145, 19.4420, False),
    # one optional (RSI 48.55 < 50) is enough with minConfirmations 1
    (2294, "2024-04-25 06:00", "2024-04-25 00:00", 2319.14, 2343.6108, "2024-04-25 05:00",
     48.5518, 13.8447, True),
    # the required H4 condition fails: 2337.21 > 2295.7699 (RSI and ADX would confirm)
    (1338, "2024-04-10 20:00", "2024-04-10 16:00", 2337.21, 2295.7699, "2024-04-10 19:00",
     41.3456, 24.5807, False),
    # no look-ahead: the forming 08:00 H4 bar (close 2359.60 at 12:00) would say "below";
    # the last closed one, 04:00, closed at 2369.63 above the EMA
    (2028, "2024-04-22 08:30", "2024-04-22 04:00", 2369.63, 2363.6262, "2024-04-22 07:00",
     None, None, False),
]


@pytest.mark.parametrize(("i", "time", "h4_time", "h4_close", "h4_ema", "h1_time", "rsi", "adx",
                          "signal"), HAND)
def test_form_b_hand_checked_bars(form_b, gold_m15, i, time, h4_time, h4_close, h4_ema, h1_time,
                                  rsi, adx, signal) -> None:
    tree, series = form_b
    assert index_of(gold_m15, time) == i
    assert Cross(MACD, SIGNAL, above=False).evaluate_at(series, i)  # the primary fires
    assert series[CLOSE_H4][i] == pytest.approx(h4_close, abs=1e-9)
    assert series[EMA50_H4][i] == pytest.approx(h4_ema, abs=5e-5)
    h4 = resample(gold_m15, H4)
    assert h4["close"][h4["time"] == stamp(h4_time)][0] == series[CLOSE_H4][i]
    # that H4 bar closed at or before this bar's close; the next H4 bar had not
    assert stamp(h4_time) + 4 * 3600 <= gold_m15["time"][i] + 900 < stamp(h4_time) + 8 * 3600
    rsi_h1 = talib.RSI(resample(gold_m15, H1)["close"], 14)
    h1_at = np.flatnonzero(resample(gold_m15, H1)["time"] == stamp(h1_time))[0]
    assert series[RSI_H1][i] == pytest.approx(rsi_h1[h1_at], rel=1e-9)
    if rsi is not None:
        assert series[RSI_H1][i] == pytest.approx(rsi, abs=5e-5)
        assert series[ADX][i] == pytest.approx(adx, abs=5e-5)
    assert tree.evaluate_at(series, i) is signal
    assert bool(tree.evaluate_all(series)[i]) is signal


def test_form_a_condition_timeframe(gold_m15) -> None:
    entry = {"direction": "buy", "conditions": [
        {"indicator": "ema_9", "condition": "crosses_above", "indicatorRef": "ema_21"},
        {"indicator": "price", "condition": ">", "value": "ema_50", "timeframe": "H1"},
        {"indicator": "rsi", "condition": "<", "value": 70, "timeframe": "M15"},
    ]}
    loaded = load_strategy(_doc(entry))
    assert loaded.unsupported == []
    tree = compile_entry(loaded.spec, POINT)["buy"]
    close_h1 = SeriesKey("close", timeframe=H1)
    assert tree.series_keys() == {SeriesKey("ema", (9,)), SeriesKey("ema", (21,)), close_h1,
                                  SeriesKey("ema", (50,), timeframe=H1), SeriesKey("rsi", (14,))}
    series = _series(tree, gold_m15)
    c = gold_m15["close"]
    e9, e21 = talib.EMA(c, 9), talib.EMA(c, 21)
    cross = np.zeros(c.size, dtype=bool)
    cross[1:] = (e9[:-1] <= e21[:-1]) & (e9[1:] > e21[1:])
    h1 = resample(gold_m15, H1)["close"]
    above = _lagged(gold_m15, H1, h1) > _lagged(gold_m15, H1, talib.EMA(h1, 50))
    expected = cross & above & (talib.RSI(c, 14) < 70)
    got = tree.evaluate_all(series)
    np.testing.assert_array_equal(got, expected)
    assert int(got.sum()) == 558
    # bar 38 (2024-03-20 16:00) crosses, but the H1 EMA(50) needs 50 closed hours: not yet
    assert cross[38] and np.isnan(series[SeriesKey("ema", (50,), timeframe=H1)][38])
    assert not got[38]


def test_confirmation_bars_on_a_multi_timeframe_strategy_streaming_equals_batch(gold_m15) -> None:
    loaded = load_strategy(_doc(FORM_B, options={"confirmationBars": 2}))
    assert loaded.unsupported == []
    tree = compile_entry(loaded.spec, POINT)["sell"]
    assert isinstance(tree, Confirmed) and tree.bars == 2
    rates = gold_m15[:2400]
    batch = tree.evaluate_all(_series(tree, rates))
    engine = MultiTimeframeEngine(M15, sorted(tree.series_keys(), key=str))
    streamed = []
    for i in range(rates.size):  # as the paper/live runtime sees the bars
        engine.extend(rates[i : i + 1])
        series = {key: engine.values(key) for key in engine.keys}
        streamed.append(tree.evaluate_at(series, i))
    np.testing.assert_array_equal(np.array(streamed), batch)
    # the unconfirmed signal at 2050 held one more bar (2051) with close H4 < EMA, MACD below
    # its signal (the cross's state) and RSI H1 < 50: confirmed there
    assert np.flatnonzero(batch).tolist()[:3] == [2051, 2105, 2136]
