"""Pydantic v2 models of the whole strategy document (STRATEGY_FORMAT.md; seed 001 "Format
Strategi Web").

Validation happens once, at load time: types, ranges, contradictions, series names and
timeframes. What validates here can be compiled (:mod:`trademaestro.strategy.rules`); whether it
is *executed* in this release is :mod:`trademaestro.strategy.support`'s business.

``riskManagement``, ``dynamicRisk``, ``filters`` and ``options`` may stand inside ``rules`` or
beside it; both mean the same and giving both is an error. Use :meth:`StrategySpec.placed` (or the
properties) rather than reading either field directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import field_validator, model_validator

from trademaestro.core.timeframes import Timeframe
from trademaestro.indicators.mtf import check_higher_timeframe
from trademaestro.strategy._base import MISSING, StrategyModel, fail, join
from trademaestro.strategy.conditions import (
    ConditionNode,
    EntryBody,
    EntryRules,
    Side,
    TimeframeField,
    check_form,
    iter_leaves,
    iter_tree,
)
from trademaestro.strategy.exits import ExitSpec
from trademaestro.strategy.limits import DynamicRisk, Filters, Options, RiskManagement

Block = Literal["riskManagement", "dynamicRisk", "filters", "options"]
BLOCKS: tuple[Block, ...] = ("riskManagement", "dynamicRisk", "filters", "options")


class EntrySpec(EntryBody):
    """The ``entry`` block: one direction (``direction`` + Form A or B), or ``buy``/``sell`` groups,
    each an :class:`EntryRules`. A missing direction is an error, never guessed or mirrored."""

    buy: EntryRules | None = None
    sell: EntryRules | None = None

    @model_validator(mode="after")
    def _check(self) -> EntrySpec:
        if self.buy is None and self.sell is None:
            check_form(self)
            if self.direction is None:
                fail(MISSING, "direction (or side/action/type) = buy, sell, long or short; "
                     "or buy/sell groups", "direction")
            return self
        for field in ("direction", "logic", "conditions", "primary", "confirmation",
                      "minConfirmations"):
            if self.has(field):
                fail(getattr(self, field),
                     "either buy/sell groups or a single direction's rules, not both",
                     self.key_of(field))
        for side in ("buy", "sell"):
            group: EntryRules | None = getattr(self, side)
            if group is not None and group.direction not in (None, side):
                fail(group.direction, f"{side} (or nothing) inside the {side} group",
                     join(side, group.key_of("direction")))
        return self

    def sides(self) -> dict[Side, tuple[EntryBody, str]]:
        """Each direction's rules with their JSON path relative to ``entry``."""
        if self.buy is None and self.sell is None:
            assert self.direction is not None
            return {self.direction: (self, "")}
        out: dict[Side, tuple[EntryBody, str]] = {}
        if self.buy is not None:
            out["buy"] = (self.buy, "buy")
        if self.sell is not None:
            out["sell"] = (self.sell, "sell")
        return out


class Rules(StrategyModel):
    """The ``rules`` block."""

    entry: EntrySpec
    exit: ExitSpec | None = None
    riskManagement: RiskManagement | None = None  # noqa: N815 - the format's key
    dynamicRisk: DynamicRisk | None = None  # noqa: N815 - the format's key
    filters: Filters | None = None
    options: Options | None = None


class StrategySpec(StrategyModel):
    """A validated strategy document (the ``parameters`` of START_STRATEGY, or a ``.json`` file).

    Attributes:
        strategyId, strategyName: the platform's identifiers (optional in files).
        symbol / symbols: one symbol, or several (one instance per symbol); see :attr:`symbol_list`.
        timeframe: the bars the strategy is evaluated on (MT5 timeframe; broker server time).
        rules: entry, exit and the optional blocks.
    """

    strategyId: str | None = None  # noqa: N815 - the format's key
    strategyName: str | None = None  # noqa: N815 - the format's key
    symbol: str | None = None
    symbols: list[str] | None = None
    timeframe: TimeframeField
    rules: Rules
    riskManagement: RiskManagement | None = None  # noqa: N815 - the format's key
    dynamicRisk: DynamicRisk | None = None  # noqa: N815 - the format's key
    filters: Filters | None = None
    options: Options | None = None

    @field_validator("strategyId", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                fail(value, "a symbol name such as XAUUSD")
            return value.strip()
        return value

    @field_validator("symbols", mode="before")
    @classmethod
    def _symbols(cls, value: Any) -> Any:
        if isinstance(value, list):
            for i, name in enumerate(value):
                if not isinstance(name, str) or not name.strip():
                    fail(name, "a symbol name such as EURUSD", f"[{i}]")
            return [name.strip() for name in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> StrategySpec:
        for block in BLOCKS:
            if self.has(block) and self.rules.has(block):
                fail(f"both rules.{block} and {block}",
                     f"{block} either inside rules or beside it, not both", block)
        if self.symbols is not None:
            if not self.symbols:
                fail([], "a non-empty list of symbol names", "symbols")
            if len(set(self.symbols)) != len(self.symbols):
                fail(self.symbols, "each symbol once", "symbols")
            if self.symbol is not None and self.symbol not in self.symbols:
                fail(self.symbol, f"one of symbols {self.symbols} (or leave symbol out)", "symbol")
        exit_ = self.rules.exit
        options = self.option_block
        if (exit_ is not None and exit_.closeOnOppositeSignal is not None and options is not None
                and options.closeOnOppositeSignal is not None
                and exit_.closeOnOppositeSignal != options.closeOnOppositeSignal):
            fail(options.closeOnOppositeSignal,
                 "the same closeOnOppositeSignal as rules.exit (or give it once)",
                 join(self.placed("options")[1], "closeOnOppositeSignal"))
        for node, path in self.condition_nodes():
            tf = node.timeframe
            if tf is not None and tf.seconds < self.timeframe.seconds:
                fail(tf.name, f"{self.timeframe.name} or a higher timeframe "
                     "(the strategy's own timeframe or above)", join(path, "timeframe"))
            if tf is not None and tf != self.timeframe:
                try:
                    check_higher_timeframe(self.timeframe, tf)
                except ValueError:
                    fail(tf.name, f"a whole multiple of the strategy's {self.timeframe.name} "
                         "(its bars are built from the strategy's bars)", join(path, "timeframe"))
        return self

    def condition_nodes(self) -> Iterator[tuple[ConditionNode, str]]:
        """Every condition node of entry and exit rules with its JSON path."""
        entry_path = join(self.key_of("rules"), self.rules.key_of("entry"))
        for rules, rel in self.rules.entry.sides().values():
            base = join(entry_path, rel)
            for field in ("conditions", "primary", "confirmation"):
                nodes: list[Any] | None = getattr(rules, field)
                yield from iter_leaves(nodes, join(base, rules.key_of(field)))
        exit_ = self.rules.exit
        if exit_ is not None and exit_.conditions is not None:
            path = join(join(self.key_of("rules"), self.rules.key_of("exit")),
                        exit_.key_of("conditions"))
            if exit_.reshaped("conditions") == "group":
                yield from iter_leaves(exit_.conditions.conditions, path)
            else:
                yield from iter_tree(exit_.conditions, path)

    def placed(self, block: Block) -> tuple[Any, str]:
        """(the block's model or None, its JSON path): inside ``rules`` or beside it."""
        if self.rules.has(block):
            return getattr(self.rules, block), join(self.key_of("rules"), block)
        return getattr(self, block), block

    @property
    def risk_management(self) -> RiskManagement | None:
        """``riskManagement``, wherever it stands."""
        value: RiskManagement | None = self.placed("riskManagement")[0]
        return value

    @property
    def dynamic_risk(self) -> DynamicRisk | None:
        """``dynamicRisk``, wherever it stands."""
        value: DynamicRisk | None = self.placed("dynamicRisk")[0]
        return value

    @property
    def filter_block(self) -> Filters | None:
        """``filters``, wherever it stands."""
        value: Filters | None = self.placed("filters")[0]
        return value

    @property
    def option_block(self) -> Options | None:
        """``options``, wherever it stands."""
        value: Options | None = self.placed("options")[0]
        return value

    @property
    def close_on_opposite_signal(self) -> bool:
        """``closeOnOppositeSignal`` from ``exit`` or ``options`` (default false)."""
        exit_ = self.rules.exit
        if exit_ is not None and exit_.closeOnOppositeSignal is not None:
            return exit_.closeOnOppositeSignal
        options = self.option_block
        return bool(options is not None and options.closeOnOppositeSignal)

    @property
    def symbol_list(self) -> list[str]:
        """The symbols to run on: ``symbols``, else ``[symbol]``, else empty (given elsewhere)."""
        if self.symbols:
            return list(self.symbols)
        return [self.symbol] if self.symbol else []


__all__ = [
    "ConditionNode",
    "DynamicRisk",
    "EntryRules",
    "EntrySpec",
    "ExitSpec",
    "Filters",
    "Options",
    "RiskManagement",
    "Rules",
    "StrategySpec",
    "Timeframe",
]
