"""Every indicator and every output equals TA-Lib's on real XAUUSD and EURUSD bars:
NaN masks identical (warm-up = TA-Lib's lookback) and values within 1e-9 relative."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from trademaestro.indicators.registry import SeriesEngine, lookback, parse_series

talib = pytest.importorskip("talib")

# (series names, params, TA-Lib call on (high, low, close) -> output(s) in the names' order)
Case = tuple[tuple[str, ...], dict[str, Any], Callable[..., Any]]
CASES: list[Case] = [
    (("sma",), {}, lambda h, lo, c: talib.SMA(c, 20)),
    (("sma_9",), {}, lambda h, lo, c: talib.SMA(c, 9)),
    (("sma_1",), {}, lambda h, lo, c: talib.SMA(c, 1)),
    (("sma_200",), {}, lambda h, lo, c: talib.SMA(c, 200)),
    (("ema",), {}, lambda h, lo, c: talib.EMA(c, 20)),
    (("ema_9",), {}, lambda h, lo, c: talib.EMA(c, 9)),
    (("ema_1",), {}, lambda h, lo, c: talib.EMA(c, 1)),
    (("ema_200",), {}, lambda h, lo, c: talib.EMA(c, 200)),
    (("rsi",), {}, lambda h, lo, c: talib.RSI(c, 14)),
    (("rsi_2",), {}, lambda h, lo, c: talib.RSI(c, 2)),
    (("rsi_30",), {}, lambda h, lo, c: talib.RSI(c, 30)),
    (("macd", "macd_signal", "macd_hist"), {}, lambda h, lo, c: talib.MACD(c, 12, 26, 9)),
    (
        ("macd", "macd_signal", "macd_hist"),
        {"fast": 5, "slow": 35, "signal": 5},
        lambda h, lo, c: talib.MACD(c, 5, 35, 5),
    ),
    (
        ("macd", "macd_signal", "macd_hist"),
        {"fast": 2, "slow": 3, "signal": 1},
        lambda h, lo, c: talib.MACD(c, 2, 3, 1),
    ),
    (("bb_upper", "bb_middle", "bb_lower"), {}, lambda h, lo, c: talib.BBANDS(c, 20, 2.0, 2.0)),
    (
        ("bb_upper", "bb_middle", "bb_lower"),
        {"period": 5, "stdDev": 1.5},
        lambda h, lo, c: talib.BBANDS(c, 5, 1.5, 1.5),
    ),
    (
        ("bb_upper", "bb_middle", "bb_lower"),
        {"period": 50, "stdDev": 3},
        lambda h, lo, c: talib.BBANDS(c, 50, 3.0, 3.0),
    ),
    (
        ("bb_upper", "bb_middle", "bb_lower"),
        {"period": 2},
        lambda h, lo, c: talib.BBANDS(c, 2, 2.0, 2.0),
    ),
    (("stoch", "stoch_d"), {}, lambda h, lo, c: talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)),
    (("stoch", "stoch_d"), {"k": 5}, lambda h, lo, c: talib.STOCH(h, lo, c, 5, 3, 0, 3, 0)),
    (
        ("stoch", "stoch_d"),
        {"k": 1, "smoothK": 1, "d": 1},
        lambda h, lo, c: talib.STOCH(h, lo, c, 1, 1, 0, 1, 0),
    ),
    (
        ("stoch", "stoch_d"),
        {"k": 9, "smoothK": 1, "d": 4},
        lambda h, lo, c: talib.STOCH(h, lo, c, 9, 1, 0, 4, 0),
    ),
    (("atr",), {}, lambda h, lo, c: talib.ATR(h, lo, c, 14)),
    (("atr_1",), {}, lambda h, lo, c: talib.ATR(h, lo, c, 1)),
    (("atr_5",), {}, lambda h, lo, c: talib.ATR(h, lo, c, 5)),
    (("atr_30",), {}, lambda h, lo, c: talib.ATR(h, lo, c, 30)),
    (
        ("adx", "plus_di", "minus_di"),
        {},
        lambda h, lo, c: (
            talib.ADX(h, lo, c, 14),
            talib.PLUS_DI(h, lo, c, 14),
            talib.MINUS_DI(h, lo, c, 14),
        ),
    ),
    (
        ("adx", "plus_di", "minus_di"),
        {"period": 2},
        lambda h, lo, c: (
            talib.ADX(h, lo, c, 2),
            talib.PLUS_DI(h, lo, c, 2),
            talib.MINUS_DI(h, lo, c, 2),
        ),
    ),
    (
        ("adx", "plus_di", "minus_di"),
        {"period": 30},
        lambda h, lo, c: (
            talib.ADX(h, lo, c, 30),
            talib.PLUS_DI(h, lo, c, 30),
            talib.MINUS_DI(h, lo, c, 30),
        ),
    ),
    (("cci",), {}, lambda h, lo, c: talib.CCI(h, lo, c, 20)),
    (("cci_2",), {}, lambda h, lo, c: talib.CCI(h, lo, c, 2)),
    (("cci_14",), {}, lambda h, lo, c: talib.CCI(h, lo, c, 14)),
    (("cci_50",), {}, lambda h, lo, c: talib.CCI(h, lo, c, 50)),
]


def _case_id(case: Case) -> str:
    names, params, _ = case
    extra = ",".join(f"{k}={v}" for k, v in params.items())
    return "+".join(names) + (f"[{extra}]" if extra else "")


def assert_equals_talib(mine: np.ndarray, reference: np.ndarray, expected_lookback: int) -> None:
    """Same NaN mask, at least one value, the NaN prefix is the lookback, values 1e-9 relative."""
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(reference))
    valid = ~np.isnan(reference)
    assert valid.sum() > 0
    assert np.isnan(mine[:expected_lookback]).all()
    assert valid[expected_lookback:].all()
    np.testing.assert_allclose(mine[valid], reference[valid], rtol=1e-9, atol=0)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_equals_talib(case: Case, rates: np.ndarray) -> None:
    names, params, call = case
    keys = [parse_series(name, params) for name in names]
    engine = SeriesEngine(keys)
    engine.extend(rates)
    reference = call(rates["high"], rates["low"], rates["close"])
    references = reference if isinstance(reference, tuple) else (reference,)
    assert len(references) == len(keys)
    for key, ref in zip(keys, references, strict=True):
        assert_equals_talib(engine.values(key), ref, lookback(key))


def test_macd_fast_ema_is_aligned_on_the_slow_seed(xau: np.ndarray) -> None:
    """TA-Lib seeds the fast EMA with the SMA of the fast bars ending at bar slow-1, not at bar
    fast-1: the first MACD value is SMA12(bars 14..25) - SMA26(bars 0..25), then EMA steps."""
    close = xau["close"][:40]
    line = talib.MACD(close, 12, 26, 1)[0]
    assert np.isnan(line[24]) and not np.isnan(line[25])
    expected = close[14:26].sum() / 12 - close[0:26].sum() / 26
    assert line[25] == pytest.approx(expected, rel=1e-12)
    key = parse_series("macd", {"fast": 12, "slow": 26, "signal": 1})
    engine = SeriesEngine([key])
    engine.extend(xau[:40])
    np.testing.assert_allclose(engine.values(key)[25:], line[25:], rtol=1e-12, atol=0)
