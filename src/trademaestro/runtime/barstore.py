"""An instance's closed bars and the series computed on them.

Fed the same bars in both drivers: all at once by the backtest, one at a time (read back through
the adapter) by the paper/live runtime. Every series is computed by streaming state machines, so
the values at bar ``i`` are identical either way.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from trademaestro.core.timeframes import Timeframe
from trademaestro.execution.management import ClosedBar
from trademaestro.indicators.keys import SeriesKey
from trademaestro.indicators.mtf import MultiTimeframeEngine
from trademaestro.risk.volatility import AtrAverage


class BarStore:
    """Closed bars of one symbol on the strategy's timeframe, with its series.

    Args:
        timeframe: the strategy's timeframe (the bars fed).
        keys: the series wanted (higher-timeframe keys allowed).
        point: the symbol's point, to express bar spreads in price units.
        spread_override: a fixed spread in points (``--spread``) replacing the bars' spreads.
        default_spread: the symbol's typical spread in points, for bars without one.
        has_spread: whether the bars carry a spread column.
        volatility: (ATR period, lookback) of the volatility sizing rule, or None.
        sources: higher-timeframe bars from their own files.
    """

    def __init__(
        self,
        timeframe: Timeframe,
        keys: list[SeriesKey],
        *,
        point: float,
        spread_override: int | None,
        default_spread: int,
        has_spread: bool,
        volatility: tuple[int, int] | None = None,
        sources: dict[Timeframe, np.ndarray] | None = None,
    ) -> None:
        self.timeframe = timeframe
        self.engine = MultiTimeframeEngine(timeframe, keys, sources=sources)
        self.point = point
        self.spread_override = spread_override
        self.default_spread = default_spread
        self.has_spread = has_spread
        self.times: list[int] = []
        self.opens: list[float] = []
        self.highs: list[float] = []
        self.lows: list[float] = []
        self.closes: list[float] = []
        self.spreads: list[int] = []
        self._atr_avg = AtrAverage(*volatility) if volatility else None
        self.atr_now: list[float] = []
        self.atr_average: list[float] = []

    def __len__(self) -> int:
        return len(self.times)

    def extend(self, rates: np.ndarray) -> None:
        """Append closed bars (RATES dtype, ascending, after the last one fed)."""
        self.engine.extend(rates)
        self.times.extend(rates["time"].tolist())
        highs, lows, closes = rates["high"].tolist(), rates["low"].tolist(), rates["close"].tolist()
        self.opens.extend(rates["open"].tolist())
        self.highs.extend(highs)
        self.lows.extend(lows)
        self.closes.extend(closes)
        if self.spread_override is not None:
            self.spreads.extend([self.spread_override] * len(rates))
        elif self.has_spread:
            self.spreads.extend(rates["spread"].tolist())
        else:
            self.spreads.extend([self.default_spread] * len(rates))
        if self._atr_avg is not None:
            update = self._atr_avg.update
            for h, low, c in zip(highs, lows, closes, strict=True):
                atr, avg = update(h, low, c)
                self.atr_now.append(atr)
                self.atr_average.append(avg)

    def with_forming(self, forming: np.ndarray) -> BarStore:
        """A scratch copy extended with the forming bar (intrabar evaluation); self is untouched.

        The engine's series buffers are shared with the copy (appending to the copy never changes
        what this store shows); the indicator states are copied, the bar lists copied flat."""
        scratch = copy.copy(self)
        scratch.engine = copy.deepcopy(self.engine)
        scratch._atr_avg = copy.deepcopy(self._atr_avg)
        lists = ("times", "opens", "highs", "lows", "closes", "spreads", "atr_now", "atr_average")
        for name in lists:
            setattr(scratch, name, getattr(self, name).copy())
        scratch.extend(np.asarray(forming).reshape(-1)[-1:])
        return scratch

    def value(self, key: SeriesKey, i: int) -> float:
        """Series value at bar ``i`` (NaN when unknown)."""
        v = float(self.engine.values(key)[i])
        return v if math.isfinite(v) else math.nan

    def closed_bar(self, i: int) -> ClosedBar:
        """Bar ``i`` as the position manager sees it (spread in price units)."""
        return ClosedBar(
            self.times[i],
            self.opens[i],
            self.highs[i],
            self.lows[i],
            self.closes[i],
            self.spreads[i] * self.point,
        )

    def volatility(self, i: int) -> tuple[float, float]:
        """(ATR, its average) at bar ``i`` for the volatility sizing rule (NaN when unused)."""
        if self._atr_avg is None:
            return math.nan, math.nan
        return self.atr_now[i], self.atr_average[i]
