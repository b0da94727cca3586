"""The identity of a computed series: what is computed, with which parameters, which output.

A :class:`SeriesKey` is what strategy rules refer to (``ema_9`` -> ``SeriesKey("ema", (9,))``) and
what the indicator engine caches on. It is hashable and canonical: two spellings of the same series
(``bb_upper`` and ``bollinger_upper``; ``rsi`` and ``rsi_14``) give equal keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from trademaestro.core.timeframes import Timeframe

# Bar columns read directly from the rates array (no computation).
PRICE_KINDS = frozenset({"open", "high", "low", "close", "volume", "spread"})


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One computed series.

    Attributes:
        kind: ``open high low close volume spread`` (bar columns; ``price`` is ``close``) or an
            indicator: ``sma ema rsi macd bbands stoch atr adx cci vwap``.
        params: canonical parameter tuple: sma/ema/rsi/atr/adx/cci ``(period,)``, macd
            ``(fast, slow, signal)``, bbands ``(period, nbdev)``, stoch ``(fastk, slowk, slowd)``,
            price kinds and vwap ``()``.
        output: ``value`` for single-output kinds; macd ``line|signal|hist``; bbands
            ``upper|middle|lower``; stoch ``k|d``; adx ``adx|plus_di|minus_di``.
        timeframe: the bars it is computed on; None means the strategy's own timeframe.
    """

    kind: str
    params: tuple[float, ...] = ()
    output: str = "value"
    timeframe: Timeframe | None = None

    def __copy__(self) -> SeriesKey:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> SeriesKey:
        return self  # immutable: engine copies (intrabar evaluation) share their keys

    @property
    def is_price(self) -> bool:
        """True for bar columns that need no computation."""
        return self.kind in PRICE_KINDS

    def on(self, timeframe: Timeframe | None) -> SeriesKey:
        """The same series computed on another timeframe."""
        return SeriesKey(self.kind, self.params, self.output, timeframe)

    def __str__(self) -> str:
        params = ",".join(f"{p:g}" for p in self.params)
        out = "" if self.output == "value" else f".{self.output}"
        tf = f"@{self.timeframe.name}" if self.timeframe is not None else ""
        return f"{self.kind}({params}){out}{tf}"
