"""VWAP against hand-computed values on real XAUUSD bars, and the SeriesEngine contract."""

from __future__ import annotations

import numpy as np
import pytest

from trademaestro.core.timeframes import Timeframe
from trademaestro.indicators import ADX, ATR, CCI, EMA, MACD, RSI, SMA, BollingerBands, Stochastic
from trademaestro.indicators.keys import SeriesKey
from trademaestro.indicators.registry import SeriesEngine, compute, parse_series

VWAP_KEY = parse_series("vwap")


def test_vwap_first_bars_by_hand(xau: np.ndarray) -> None:
    # XAUUSD_M15.csv rows 1-3 (2024.03.20 06:30, 06:45, 07:00), columns H, L, C, TickVolume.
    tp1 = (2159.15 + 2158.60 + 2158.60) / 3
    tp2 = (2158.82 + 2156.83 + 2156.85) / 3
    tp3 = (2157.72 + 2156.73 + 2157.27) / 3
    values = compute(VWAP_KEY, xau[:3])
    assert values[0] == pytest.approx(tp1, rel=1e-12)
    assert values[1] == pytest.approx((tp1 * 208 + tp2 * 381) / (208 + 381), rel=1e-12)
    assert values[2] == pytest.approx(
        (tp1 * 208 + tp2 * 381 + tp3 * 378) / (208 + 381 + 378), rel=1e-12
    )
    # tp1 = 6476.35 / 3 = 2158.78333.., tp2 = 6472.50 / 3 = 2157.5: (449026.9333 + 822007.5) / 589
    assert values[1] == pytest.approx(2157.9531975099, abs=1e-9)


def test_vwap_resets_on_the_server_day(xau: np.ndarray) -> None:
    # Row 67 (index 66) is 2024.03.20 23:45; row 68 (index 67) is 2024.03.21 00:00, volume 633.
    days = xau["time"] // 86400
    first = int(np.argmax(days != days[0]))
    assert first == 66
    values = compute(VWAP_KEY, xau[:70])
    tp = (xau["high"] + xau["low"] + xau["close"]) / 3
    vol = xau["tick_volume"].astype(float)
    day1 = slice(0, first)
    assert values[first - 1] == pytest.approx(
        (tp[day1] * vol[day1]).sum() / vol[day1].sum(), rel=1e-12
    )
    assert values[first] == pytest.approx((2193.34 + 2186.60 + 2193.05) / 3, rel=1e-12)
    tp2 = (2222.65 + 2192.74 + 2207.97) / 3
    expected = ((2193.34 + 2186.60 + 2193.05) / 3 * 633 + tp2 * 1599) / (633 + 1599)
    assert values[first + 1] == pytest.approx(expected, rel=1e-12)


def test_vwap_zero_volume_day_gives_the_typical_price(xau: np.ndarray) -> None:
    bars = xau[60:70].copy()
    bars["tick_volume"][6:8] = 0  # the first two bars of 2024.03.21 without ticks
    values = compute(VWAP_KEY, bars)
    tp = (bars["high"] + bars["low"] + bars["close"]) / 3
    assert values[6] == tp[6] and values[7] == tp[7]
    assert values[8] == pytest.approx(tp[8], rel=1e-12)  # only bar 8 has volume so far


def test_shared_outputs_use_one_indicator() -> None:
    keys = [parse_series(n) for n in ("macd", "macd_signal", "macd_hist", "bb_upper", "bb")]
    keys += [parse_series("bollinger_lower"), parse_series("adx"), parse_series("plus_di")]
    keys += [parse_series("price"), parse_series("close"), parse_series("ema_9")]
    engine = SeriesEngine(keys)
    assert engine.indicator_count == 4  # macd, bbands, adx, ema


def test_price_series_and_length(xau: np.ndarray) -> None:
    keys = [parse_series(n) for n in ("price", "open", "high", "low", "volume", "spread")]
    engine = SeriesEngine(keys)
    assert len(engine) == 0
    engine.extend(xau[:100])
    engine.extend(xau[100:101])
    assert len(engine) == 101
    np.testing.assert_array_equal(engine.values(keys[0]), xau["close"][:101])
    np.testing.assert_array_equal(engine.values(keys[4]), xau["tick_volume"][:101].astype(float))
    np.testing.assert_array_equal(engine.values(keys[5]), xau["spread"][:101].astype(float))
    assert engine.values(keys[0]).dtype == np.float64
    assert engine.values(keys[5])[0] == 6.0


def test_values_are_read_only_and_grow(xau: np.ndarray) -> None:
    key = parse_series("ema_9")
    engine = SeriesEngine([key])
    for i in range(300):
        engine.extend(xau[i : i + 1])
        assert engine.values(key).shape == (i + 1,)
    with pytest.raises(ValueError):
        engine.values(key)[0] = 1.0
    np.testing.assert_array_equal(engine.values(key), compute(key, xau[:300]))


def test_extend_rejects_bad_input(xau: np.ndarray) -> None:
    engine = SeriesEngine([parse_series("ema_9")])
    with pytest.raises(ValueError, match="RATES_DTYPE"):
        engine.extend(np.zeros(3))
    with pytest.raises(ValueError, match="missing fields"):
        engine.extend(np.zeros(3, dtype=[("time", "<i8"), ("close", "<f8")]))
    with pytest.raises(ValueError, match=r"rates\[2\]: found time"):
        engine.extend(xau[[0, 1, 1, 2]])
    engine.extend(xau[:5])
    with pytest.raises(ValueError, match="not after the last bar"):
        engine.extend(xau[4:6])
    bad = xau[5:7].copy()
    bad["high"][1] = np.nan
    with pytest.raises(ValueError, match=r"rates\[1\].high"):
        engine.extend(bad)
    assert len(engine) == 5  # nothing consumed by the refused chunks
    engine.extend(xau[5:5])
    engine.extend(xau[5:6])
    assert len(engine) == 6


def test_engine_rejects_bad_keys() -> None:
    with pytest.raises(ValueError, match="timeframe H1"):
        SeriesEngine([parse_series("ema_9").on(Timeframe.H1)])
    with pytest.raises(ValueError, match="kind 'ichimoku'"):
        SeriesEngine([SeriesKey("ichimoku", (9,))])
    with pytest.raises(ValueError, match="output 'upper'"):
        SeriesEngine([SeriesKey("macd", (12, 26, 9), "upper")])
    with pytest.raises(ValueError, match="fast < slow"):
        SeriesEngine([SeriesKey("macd", (26, 12, 9), "line")])
    with pytest.raises(ValueError, match="integer"):
        SeriesEngine([SeriesKey("ema", (9.5,))])
    with pytest.raises(KeyError, match="not computed"):
        SeriesEngine([parse_series("ema_9")]).values(parse_series("ema_10"))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: SMA(0), "SMA period"),
        (lambda: EMA(True), "EMA period"),
        (lambda: RSI(1), "from 2"),
        (lambda: MACD(12, 12, 9), "fast < slow"),
        (lambda: BollingerBands(20, -1.0), ">= 0"),
        (lambda: BollingerBands(1), "from 2"),
        (lambda: Stochastic(14, 0, 3), "slowing"),
        (lambda: ATR(100_001), "100000"),
        (lambda: ADX(1), "from 2"),
        (lambda: CCI(1), "from 2"),
    ],
)
def test_streaming_constructors_validate(make: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        make()  # type: ignore[operator]
