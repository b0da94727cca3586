"""A strategy's trading plan: the parts of its rules that turn a signal into orders.

These are the decision core's own values, built from the validated strategy document by
:mod:`trademaestro.runtime.planning`; the core never reads JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StopKind = Literal["pips", "percentage", "atr", "fixed"]
TargetKind = Literal["pips", "percentage", "rr_ratio", "fixed"]


@dataclass(frozen=True, slots=True)
class StopRule:
    """Where the stop loss goes, as a distance from the entry price.

    ``pips``: ``value`` pips; ``percentage``: ``value`` % of the entry price; ``atr``: ``value`` ×
    ATR(``period``) of the last closed bar (price units); ``fixed``: ``value`` price units.
    """

    kind: StopKind
    value: float
    period: int = 14


@dataclass(frozen=True, slots=True)
class TargetRule:
    """Where the take profit goes: like :class:`StopRule`, or ``rr_ratio`` = ``value`` × the stop
    distance (needs a stop)."""

    kind: TargetKind
    value: float


@dataclass(frozen=True, slots=True)
class KellyRule:
    """Fractional Kelly sizing (``dynamicRisk.kelly``): risk ``fraction`` × the Kelly fraction of
    the strategy's own closed trades, in % of equity, capped at ``max_risk_percent``; until
    ``min_trades`` trades have closed, the configured ``risk_percentage`` applies."""

    fraction: float = 0.5
    max_risk_percent: float = 2.0
    min_trades: int = 30


@dataclass(frozen=True, slots=True)
class SizingRule:
    """How many lots: ``risk_percentage`` of equity at risk between entry and stop (needs a
    stop), else ``lot_size`` fixed lots. Neither set: the symbol's minimum volume.

    Optional ``dynamicRisk`` parts (the defaults keep the plain behaviour above):

    - ``atr_multiplier`` (set only with ``useATRSizing``): the risk is measured over
      ``atr_multiplier`` × ATR(``atr_period``) of the last closed bar (price units), so the
      volume is ∝ 1/ATR; without ``risk_percentage`` 1 % of equity is risked
      (:data:`trademaestro.risk.sizing.DEFAULT_ATR_RISK_PERCENT`).
    - ``volatility_threshold`` (set only with ``reduceInHighVolatility``): when
      ATR(``atr_period``) / SMA(ATR, ``volatility_lookback``) exceeds it, the size is multiplied
      by threshold / ratio.
    - ``kelly``: fractional Kelly risk percentage from the strategy's closed trades.
    """

    lot_size: float | None = None
    risk_percentage: float | None = None
    atr_multiplier: float | None = None
    atr_period: int = 14
    volatility_threshold: float | None = None
    volatility_lookback: int = 50
    kelly: KellyRule | None = None


@dataclass(frozen=True, slots=True)
class TradePlan:
    """Everything the decision core needs to act on one strategy's signals for one symbol.

    Attributes:
        strategy_id: the strategy's id.
        symbol: broker symbol.
        magic: magic number of the strategy's orders.
        tag: short base-36 prefix of the strategy's client ids (at most 6 characters).
        stop, target: exit levels (None for no SL / no TP).
        sizing: the sizing rule.
        max_positions: open positions allowed per strategy and symbol (default 1).
        close_on_opposite: an entry signal in the other direction closes open positions first.
    """

    strategy_id: str
    symbol: str
    magic: int
    tag: str
    stop: StopRule | None
    target: TargetRule | None
    sizing: SizingRule
    max_positions: int = 1
    close_on_opposite: bool = False
