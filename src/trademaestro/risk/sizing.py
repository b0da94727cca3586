"""Position sizing (functional core).

``riskPercentage``: the volume whose loss between entry and stop equals that percentage of equity:

    lots = equity × risk% / 100 / (stop_distance / tick_size × tick_value)

(MT5_API.md §10.7), then rounded *down* to the volume step and capped at the maximum. A size below
the minimum volume is no trade, with the reason. Fixed ``lotSize`` is rounded down the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.plan import SizingRule


@dataclass(frozen=True, slots=True)
class Size:
    """A sizing result: ``volume`` in lots (0.0 = no trade) and ``reason`` in words."""

    volume: float
    reason: str


def size_volume(rule: SizingRule, spec: SymbolSpec, equity: float, stop_distance: float) -> Size:
    """Lots to trade.

    Args:
        rule: the plan's sizing rule.
        spec: symbol specification (tick value in account currency per tick per lot).
        equity: account equity, account currency.
        stop_distance: |entry − stop| in price units; 0.0 when there is no stop.
    """
    if rule.risk_percentage is not None:
        if stop_distance <= 0:
            if rule.lot_size is None:
                return Size(0.0, "riskPercentage needs a stop loss; no lotSize to fall back on")
        else:
            risk_money = equity * rule.risk_percentage / 100.0
            loss_per_lot = stop_distance / spec.tick_size * spec.tick_value
            raw = risk_money / loss_per_lot
            volume = spec.normalize_volume(raw)
            if volume <= 0:
                return Size(
                    0.0,
                    f"risk {rule.risk_percentage}% of {equity:.2f} = {risk_money:.2f} buys "
                    f"{raw:.4f} lots, below the minimum {spec.volume_min}",
                )
            return Size(volume, f"risk {rule.risk_percentage}% of equity: {raw:.4f} -> {volume}")
    lots = rule.lot_size if rule.lot_size is not None else spec.volume_min
    volume = spec.normalize_volume(lots)
    if volume <= 0:
        return Size(0.0, f"lotSize {lots} is below the minimum volume {spec.volume_min}")
    return Size(volume, f"fixed {volume} lots")
