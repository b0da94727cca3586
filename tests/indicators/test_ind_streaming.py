"""Backtest/live parity: bars fed one at a time (or in uneven chunks) give values bit-identical
to one extend with every bar, for every series kind."""

from __future__ import annotations

import numpy as np

from trademaestro.indicators import EMA, MACD
from trademaestro.indicators.registry import SeriesEngine, parse_series

NAMES = [
    "price", "open", "high", "low", "volume", "spread",
    "sma", "sma_9", "ema", "ema_9", "rsi", "rsi_3",
    "macd", "macd_signal", "macd_hist",
    "bb_upper", "bb_middle", "bb_lower", "bb_upper_5",
    "stoch", "stoch_d", "stoch_k_5",
    "atr", "atr_3", "adx", "plus_di", "minus_di", "adx_5",
    "cci", "cci_5", "vwap",
]  # fmt: skip
KEYS = [parse_series(name) for name in NAMES]


def _bits(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values).view(np.int64)


def _assert_bit_identical(left: SeriesEngine, right: SeriesEngine) -> None:
    assert len(left) == len(right)
    for key in KEYS:
        np.testing.assert_array_equal(_bits(left.values(key)), _bits(right.values(key)), str(key))


def test_one_bar_at_a_time_equals_one_extend(xau: np.ndarray) -> None:
    bars = xau[:4000]
    batch = SeriesEngine(KEYS)
    batch.extend(bars)
    live = SeriesEngine(KEYS)
    for i in range(bars.shape[0]):
        live.extend(bars[i : i + 1])
    _assert_bit_identical(batch, live)
    assert not np.isnan(batch.values(parse_series("adx"))[-1])


def test_uneven_chunks_equal_one_extend(eur: np.ndarray) -> None:
    batch = SeriesEngine(KEYS)
    batch.extend(eur)
    chunked = SeriesEngine(KEYS)
    rng = np.random.default_rng(20240320)
    start = 0
    while start < eur.shape[0]:
        size = int(rng.integers(1, 700))
        chunked.extend(eur[start : start + size])
        start += size
    _assert_bit_identical(batch, chunked)


def test_streaming_classes_equal_engine(xau: np.ndarray) -> None:
    """The public streaming classes are the code the engine runs: same values, same bits."""
    close = xau["close"][:3000].tolist()
    ema = EMA(9)
    macd = MACD()
    ema_values = np.array([ema.update(x) for x in close])
    macd_values = np.array([macd.update(x) for x in close])
    engine = SeriesEngine([parse_series("ema_9"), parse_series("macd_hist")])
    engine.extend(xau[:3000])
    np.testing.assert_array_equal(_bits(ema_values), _bits(engine.values(parse_series("ema_9"))))
    np.testing.assert_array_equal(
        _bits(macd_values[:, 2].copy()), _bits(engine.values(parse_series("macd_hist")))
    )
