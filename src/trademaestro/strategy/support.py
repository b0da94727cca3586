"""What this release parses but does not execute yet: ONE table, shrinking release by release.

Executed in this release: entry Form A and Form B on the strategy's timeframe or higher ones
(multi-timeframe), ``options.confirmationBars``; exit ``stopLoss`` (pips, atr, percentage,
fixed), ``takeProfit`` (pips, rr_ratio, percentage, fixed), exit ``conditions``,
``closeOnOppositeSignal``; position management: ``takeProfit`` partial levels, ``trailing``,
``breakEven``, ``smartExit`` (:mod:`trademaestro.execution.management`); ``riskManagement.lotSize``,
``riskManagement.maxPositions``, ``maxDailyLoss``, ``maxDailyLossPercent``,
``maxDrawdownPercent`` and every ``dynamicRisk`` key (:mod:`trademaestro.risk`). Everything in
:data:`UNSUPPORTED` that is present and enabled in a strategy is reported by
:func:`unsupported_paths` (the loader's ``LoadedStrategy.unsupported``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trademaestro.strategy._base import StrategyModel, join
from trademaestro.strategy.model import BLOCKS, StrategySpec


def _enabled(value: Any) -> bool:
    return value is not None and bool(getattr(value, "enabled", True))


def _given(value: Any) -> bool:
    return value is not None


def _true(value: Any) -> bool:
    return value is True


def _non_empty(value: Any) -> bool:
    return bool(value)


@dataclass(frozen=True, slots=True)
class Unsupported:
    """One feature not executed yet.

    Attributes:
        block: ``entry`` (each direction), ``exit``, ``riskManagement``, ``dynamicRisk``,
            ``filters`` or ``options``.
        field: the model field (its JSON key) inside the block.
        active: whether the field's value counts as present and enabled.
    """

    block: str
    field: str
    active: Callable[[Any], bool]


UNSUPPORTED: tuple[Unsupported, ...] = (
    Unsupported("options", "intrabar", _enabled),
)
#: Conditions on a higher timeframe than the strategy's are executed (their series are computed by
#: :class:`~trademaestro.indicators.mtf.MultiTimeframeEngine`: last closed bar, no look-ahead).
MULTI_TIMEFRAME_CONDITIONS_SUPPORTED = True


def _blocks(spec: StrategySpec) -> list[tuple[str, StrategyModel | None, str]]:
    rules_key = spec.key_of("rules")
    out: list[tuple[str, StrategyModel | None, str]] = []
    entry_path = join(rules_key, spec.rules.key_of("entry"))
    for rules, rel in spec.rules.entry.sides().values():
        out.append(("entry", rules, join(entry_path, rel)))
    out.append(("exit", spec.rules.exit, join(rules_key, spec.rules.key_of("exit"))))
    for block in BLOCKS:
        model, path = spec.placed(block)
        out.append((block, model, path))
    return out


def unsupported_paths(spec: StrategySpec) -> list[str]:
    """JSON paths of the present-and-enabled features this release does not execute."""
    found: list[str] = []
    blocks = _blocks(spec)
    for feature in UNSUPPORTED:
        for block, model, path in blocks:
            if block != feature.block or model is None:
                continue
            if feature.active(getattr(model, feature.field)):
                found.append(join(path, model.key_of(feature.field)))
    if not MULTI_TIMEFRAME_CONDITIONS_SUPPORTED:
        for node, path in spec.condition_nodes():
            if node.timeframe is not None and node.timeframe != spec.timeframe:
                found.append(join(path, "timeframe"))
    return found
