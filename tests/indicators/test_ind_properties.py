"""Invariants on random valid OHLC bars (hypothesis): oscillators in [0, 100], ATR >= 0,
Bollinger lower <= middle <= upper, NaN exactly during the warm-up and never after."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.core.bars import RATES_DTYPE
from trademaestro.indicators.registry import SeriesEngine, lookback, parse_series

# Running sums (SMA smoothing of %K, as TA-Lib) may leave a rounding residue of ~1e-13 around
# the bounds of a bounded oscillator.
EPS = 1e-9


@st.composite
def bars(draw: st.DrawFn) -> np.ndarray:
    """1..150 valid bars: low <= open, close <= high, prices > 0, strictly ascending times."""
    count = draw(st.integers(1, 150))
    moves = draw(st.lists(st.floats(-5, 5), min_size=count, max_size=count))
    wicks = draw(
        st.lists(st.tuples(st.floats(0, 3), st.floats(0, 3)), min_size=count, max_size=count)
    )
    flat = draw(st.booleans())  # also exercise runs of identical prices
    out = np.zeros(count, dtype=RATES_DTYPE)
    price = 1000.0
    for i in range(count):
        open_ = price
        close = price if flat and i % 3 else round(max(1.0, price + moves[i]), 2)
        high = max(open_, close) + (0.0 if flat else round(wicks[i][0], 2))
        low = max(0.5, min(open_, close) - (0.0 if flat else round(wicks[i][1], 2)))
        out[i] = (1_700_000_000 + 900 * i, open_, high, low, close, 1 + i % 7, 10, 0)
        price = close
    return out


def _check_warmup(values: np.ndarray, warmup: int) -> None:
    assert np.isnan(values[:warmup]).all()
    assert np.isfinite(values[warmup:]).all()


@settings(max_examples=60, deadline=None)
@given(bars(), st.integers(2, 20))
def test_invariants(rates: np.ndarray, period: int) -> None:
    keys = {
        "rsi": parse_series(f"rsi_{period}"),
        "k": parse_series("stoch_k", {"k": period}),
        "d": parse_series("stoch_d", {"k": period}),
        "atr": parse_series(f"atr_{period}"),
        "upper": parse_series("bb_upper", {"period": period}),
        "middle": parse_series("bb_middle", {"period": period}),
        "lower": parse_series("bb_lower", {"period": period}),
        "adx": parse_series(f"adx_{period}"),
        "plus_di": parse_series(f"plus_di_{period}"),
        "minus_di": parse_series(f"minus_di_{period}"),
        "cci": parse_series(f"cci_{period}"),
        "ema": parse_series(f"ema_{period}"),
        "macd": parse_series("macd_hist", {"fast": period, "slow": period + 1, "signal": 2}),
        "vwap": parse_series("vwap"),
    }
    engine = SeriesEngine(keys.values())
    engine.extend(rates)
    values = {name: engine.values(key) for name, key in keys.items()}
    for name, key in keys.items():
        assert values[name].shape == (rates.shape[0],)
        _check_warmup(values[name], min(lookback(key), rates.shape[0]))
    for name in ("rsi", "k", "d", "adx", "plus_di", "minus_di"):
        finite = values[name][np.isfinite(values[name])]
        assert (finite >= -EPS).all() and (finite <= 100 + EPS).all(), name
    atr = values["atr"][np.isfinite(values["atr"])]
    assert (atr >= 0).all()
    done = np.isfinite(values["middle"])
    assert (values["lower"][done] <= values["middle"][done]).all()
    assert (values["middle"][done] <= values["upper"][done]).all()
    low, high = rates["low"], rates["high"]
    vwap = values["vwap"]
    assert (vwap >= low.min() - EPS).all() and (vwap <= high.max() + EPS).all()
