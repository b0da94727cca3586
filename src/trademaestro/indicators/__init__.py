"""Technical indicators equal to TA-Lib's output, as streaming state machines, and the
series-name registry.

Streaming classes (one ``update`` per closed bar): :class:`SMA`, :class:`EMA`, :class:`RSI`,
:class:`MACD`, :class:`BollingerBands`, :class:`Stochastic`, :class:`ATR`, :class:`ADX`,
:class:`CCI`, :class:`VWAP`. Names and batch/incremental computation:
:mod:`trademaestro.indicators.registry` (``parse_series``, ``lookback``, ``SeriesEngine``,
``compute``).
"""

from trademaestro.indicators.adx import ADX
from trademaestro.indicators.atr import ATR, true_range
from trademaestro.indicators.bollinger import BollingerBands
from trademaestro.indicators.cci import CCI
from trademaestro.indicators.macd import MACD
from trademaestro.indicators.moving import EMA, SMA
from trademaestro.indicators.rsi import RSI
from trademaestro.indicators.stochastic import Stochastic
from trademaestro.indicators.vwap import VWAP

__all__ = [
    "ADX",
    "ATR",
    "CCI",
    "EMA",
    "MACD",
    "RSI",
    "SMA",
    "VWAP",
    "BollingerBands",
    "Stochastic",
    "true_range",
]
