"""From a validated strategy document to the decision core's :class:`TradePlan`.

Magic numbers: ``crc32(strategyId) & 0x7FFFFFFF`` unless configured otherwise, so the same
strategy keeps its magic number across restarts and machines (that is how its positions are found
again). The client-id tag (:func:`client_tag`) is derived from the magic number and the symbol.
"""

from __future__ import annotations

import re
import zlib

from trademaestro.execution.decide import base36
from trademaestro.execution.plan import StopRule, TargetRule, TradePlan
from trademaestro.indicators.keys import SeriesKey
from trademaestro.risk.config import sizing_rule_of
from trademaestro.strategy.loader import LoadedStrategy


def strategy_id_of(loaded: LoadedStrategy) -> str:
    """The strategy's id: ``strategyId``, else a slug of ``strategyName``, else ``strategy``."""
    spec = loaded.spec
    if spec.strategyId:
        return spec.strategyId
    if spec.strategyName:
        return re.sub(r"[^a-z0-9]+", "-", spec.strategyName.lower()).strip("-") or "strategy"
    return "strategy"


def magic_of(strategy_id: str) -> int:
    """The default magic number of a strategy id (stable, 31 bits)."""
    return zlib.crc32(strategy_id.encode("utf-8")) & 0x7FFFFFFF


def client_tag(magic: int, symbol: str) -> str:
    """The client-id prefix of a strategy instance: base 36 of ``crc32("magic:symbol")``, at most
    6 characters. It must differ between the symbols of one strategy (they share its magic
    number): two instances deciding on the same bar must never produce the same client id, or the
    order journal would take the second intent for the first."""
    return base36(zlib.crc32(f"{magic}:{symbol}".encode()))[:6]


def build_plan(
    loaded: LoadedStrategy, symbol: str, magic: int | None = None
) -> tuple[TradePlan, SeriesKey | None]:
    """The trading plan of a strategy for one symbol, and the ATR series its stop needs (if any).

    ``maxPositions`` defaults to 1: one position per strategy and symbol unless the strategy asks
    for more. With ``useATRSizing`` and no ``stopLoss`` the stop is ``atrMultiplier`` × ATR
    (``atrPeriod``); with both, the risk is measured over the wider of the two
    (:func:`trademaestro.risk.sizing.size_entry`). ``options.magicNumber`` overrides the magic.

    Raises:
        StrategyError: contradictory sizing settings (JSON path named).
    """
    spec = loaded.spec
    strategy_id = strategy_id_of(loaded)
    options = spec.option_block
    if magic is None and options is not None and options.magicNumber is not None:
        magic = int(options.magicNumber)
    magic = magic_of(strategy_id) if magic is None else magic
    exit_spec = spec.rules.exit
    stop: StopRule | None = None
    target: TargetRule | None = None
    atr_key: SeriesKey | None = None
    if exit_spec is not None:
        sl = exit_spec.stop
        if sl is not None:
            if sl.type == "atr":
                stop = StopRule("atr", float(sl.multiplier or 1.0), int(sl.period))
                atr_key = SeriesKey("atr", (int(sl.period),))
            else:
                stop = StopRule(sl.type, float(sl.value or 0.0))
        tp = exit_spec.target
        if tp is not None and tp.type != "partial":
            if tp.type == "rr_ratio":
                target = TargetRule("rr_ratio", float(tp.ratio or tp.value or 0.0))
            else:
                target = TargetRule(tp.type, float(tp.value or 0.0))
    risk = spec.risk_management
    dyn = spec.dynamic_risk
    _, dyn_path = spec.placed("dynamicRisk")
    sizing = sizing_rule_of(risk, dyn, path=dyn_path or "rules.dynamicRisk")
    if stop is None and dyn is not None and dyn.useATRSizing and dyn.atrMultiplier:
        stop = StopRule("atr", float(dyn.atrMultiplier), int(dyn.atrPeriod))
        atr_key = SeriesKey("atr", (int(dyn.atrPeriod),))
    max_positions = int(risk.maxPositions) if risk is not None and risk.maxPositions else 1
    plan = TradePlan(
        strategy_id=strategy_id,
        symbol=symbol,
        magic=magic,
        tag=client_tag(magic, symbol),
        stop=stop,
        target=target,
        sizing=sizing,
        max_positions=max_positions,
        close_on_opposite=spec.close_on_opposite_signal,
    )
    return plan, atr_key
