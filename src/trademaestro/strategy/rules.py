"""Compile a validated :class:`~trademaestro.strategy.model.StrategySpec` into condition trees.

The nodes and their semantics are in :mod:`trademaestro.strategy.nodes` (re-exported here).
Form A compiles to ``And``/``Or`` of the conditions (a condition's ``and`` parts are AND-ed with
it). Form B compiles to ``primary AND required confirmations AND AtLeast(minConfirmations,
optional confirmations)``. A series on the strategy's own timeframe has ``timeframe=None``; a
condition on another timeframe reads keys carrying that timeframe (evaluate them on
:class:`~trademaestro.indicators.mtf.MultiTimeframeEngine` values: the last closed bar of that
timeframe, no look-ahead). ``options.confirmationBars`` N > 1 wraps each entry tree in
``Confirmed(tree, N)`` (:func:`confirm`); exit conditions are not confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence

from trademaestro.core.timeframes import Timeframe
from trademaestro.indicators.keys import SeriesKey
from trademaestro.strategy.conditions import ConditionNode, EntryBody, Side
from trademaestro.strategy.model import StrategySpec
from trademaestro.strategy.nodes import (
    And,
    AtLeast,
    Compare,
    CompareOp,
    Condition,
    Confirmed,
    Cross,
    Operand,
    Or,
    Range,
    SeriesMap,
    confirm,
)

__all__ = [
    "And",
    "AtLeast",
    "Compare",
    "Condition",
    "Confirmed",
    "Cross",
    "Or",
    "Range",
    "SeriesMap",
    "Side",
    "compile_condition",
    "compile_entry",
    "compile_exit",
    "confirm",
]


def _group(children: Sequence[Condition], logic: str) -> Condition:
    if len(children) == 1:
        return children[0]
    return Or(tuple(children)) if logic == "OR" else And(tuple(children))


def _on(operand: Operand | None, timeframe: Timeframe | None) -> Operand:
    assert operand is not None, "validated leaves always have their operands"
    if isinstance(operand, SeriesKey):
        return operand.on(timeframe)
    return operand


def compile_condition(node: ConditionNode, timeframe: Timeframe, point: float) -> Condition:
    """Compile one validated node (leaf or group, with its ``and`` parts).

    Args:
        node: a validated condition node.
        timeframe: the strategy's timeframe (conditions on it read keys with ``timeframe=None``).
        point: the symbol's point in price units; ``equal`` tolerates half of it.
    """
    if node.conditions is not None:
        children = [compile_condition(c, timeframe, point) for c in node.conditions]
        base = _group(children, node.logic or "AND")
    else:
        tf = node.timeframe if node.timeframe not in (None, timeframe) else None
        left = node.left.on(tf)
        op = node.operator
        if op in ("crosses_above", "crosses_below"):
            base = Cross(left, _on(node.right, tf), above=op == "crosses_above")
        elif op in ("in_range", "outside_range"):
            base = Range(left, _on(node.low, tf), _on(node.high, tf), inside=op == "in_range")
        else:
            compare_op: CompareOp = op  # type: ignore[assignment]
            base = Compare(left, compare_op, _on(node.right, tf), tolerance=point / 2)
    if node.and_:
        parts = [base, *(compile_condition(c, timeframe, point) for c in node.and_)]
        return And(tuple(parts))
    return base


def _compile_rules(rules: EntryBody, timeframe: Timeframe, point: float) -> Condition:
    if rules.conditions is not None:
        children = [compile_condition(c, timeframe, point) for c in rules.conditions]
        return _group(children, rules.logic or "AND")
    parts = [compile_condition(c, timeframe, point) for c in rules.primary or []]
    optional: list[Condition] = []
    for confirmation in rules.confirmation or []:
        compiled = compile_condition(confirmation, timeframe, point)
        (parts if confirmation.required else optional).append(compiled)
    if rules.min_confirmations > 0:
        parts.append(AtLeast(rules.min_confirmations, tuple(optional)))
    if not parts:  # only optional confirmations with minConfirmations 0: nothing gates entry
        raise ValueError("form B entry with no primary, no required confirmation and "
                         "minConfirmations 0 would enter on every bar")
    return _group(parts, "AND")


def _check_point(point: float) -> None:
    if not point > 0:
        raise ValueError(f"point must be a price quantum > 0, got {point!r}")


def compile_entry(spec: StrategySpec, point: float) -> dict[Side, Condition]:
    """Entry condition per direction (``buy``, ``sell`` or both), in price units of ``point``.

    With ``options.confirmationBars`` N > 1 each direction's tree is ``Confirmed(tree, N)``:
    the signal fires once the tree fired N - 1 bars ago and its state held since (nodes.py).

    Raises:
        ValueError: ``point`` is not > 0.
    """
    _check_point(point)
    options = spec.option_block
    bars = options.confirmationBars if options is not None else None
    return {
        side: confirm(_compile_rules(rules, spec.timeframe, point), bars or 1)
        for side, (rules, _) in spec.rules.entry.sides().items()
    }


def compile_exit(spec: StrategySpec, point: float) -> Condition | None:
    """The exit rule tree (``rules.exit.conditions``), or None when there is none.

    Raises:
        ValueError: ``point`` is not > 0.
    """
    _check_point(point)
    exit_ = spec.rules.exit
    if exit_ is None or exit_.conditions is None:
        return None
    return compile_condition(exit_.conditions, spec.timeframe, point)
