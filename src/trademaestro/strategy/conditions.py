"""Condition grammar of the web format: leaves, groups, entry forms A and B (STRATEGY_FORMAT.md).

A :class:`ConditionNode` is either a leaf ``{indicator, condition, value | indicatorRef | min/max,
timeframe?, and?}`` or a group ``{logic, conditions}``. Series names are resolved to
:class:`~trademaestro.indicators.keys.SeriesKey` while validating (an unknown name is an error
at load time, not at the first bar). ``timeframe`` on a condition means its series are computed
on that timeframe; the compiler maps the strategy's own timeframe to ``None``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from trademaestro.core.errors import StrategyError
from trademaestro.core.timeframes import Timeframe, parse_timeframe
from trademaestro.indicators.keys import SeriesKey
from trademaestro.strategy._base import (
    MISSING,
    Count,
    Period,
    StrategyModel,
    alias,
    describe,
    fail,
    join,
)

Side = Literal["buy", "sell"]
Logic = Literal["AND", "OR"]
#: Canonical operators; every accepted spelling maps to one of these.
Operator = Literal[
    "crosses_above", "crosses_below", ">", "<", ">=", "<=", "==", "in_range", "outside_range"
]
RANGE_OPERATORS = frozenset({"in_range", "outside_range"})

_OPERATOR_SPELLINGS: dict[str, str] = {
    "crosses_above": "crosses_above",
    "crosses_below": "crosses_below",
    "greater_than": ">",
    ">": ">",
    "less_than": "<",
    "<": "<",
    "equal": "==",
    "==": "==",
    "greater_or_equal": ">=",
    ">=": ">=",
    "less_or_equal": "<=",
    "<=": "<=",
    "in_range": "in_range",
    "outside_range": "outside_range",
}
OPERATORS_ALLOWED = ", ".join(_OPERATOR_SPELLINGS)
_SIDES = {"buy": "buy", "long": "buy", "sell": "sell", "short": "sell"}
TIMEFRAMES_ALLOWED = "M1 M5 M15 M30 H1 H4 D1 W1 MN1 (any case; also 15m / 1h / 4h / 1d style)"
SERIES_ALLOWED = "a series name such as price, ema_9, rsi, macd_signal, bollinger_upper"


def _timeframe(value: Any) -> Any:
    if value is None or isinstance(value, Timeframe):
        return value
    if not isinstance(value, str):
        fail(value, TIMEFRAMES_ALLOWED)
    try:
        return parse_timeframe(value)
    except ValueError:
        fail(value, TIMEFRAMES_ALLOWED)


TimeframeField = Annotated[Timeframe, BeforeValidator(_timeframe)]


def _word(value: Any, table: Mapping[str, str], allowed: str) -> str:
    if isinstance(value, str) and value.strip().lower() in table:
        return table[value.strip().lower()]
    fail(value, allowed)


def parse_side(value: Any) -> str:
    """``buy|long -> buy``, ``sell|short -> sell`` (any case); anything else is an error."""
    return _word(value, _SIDES, "buy, sell, long or short (any case)")


def _logic(value: Any) -> str:
    return _word(value, {"and": "AND", "or": "OR"}, "AND or OR (any case)")


def _resolve(name: Any, params: Mapping[str, Any] | None, at: str) -> SeriesKey:
    """Resolve a series name with the indicator registry; its errors become validation errors."""
    from trademaestro.indicators.registry import parse_series

    if not isinstance(name, str) or not name.strip():
        fail(name, SERIES_ALLOWED, at)
    try:
        return parse_series(name.strip(), params, json_path=at)
    except StrategyError as exc:
        fail(exc.found, exc.allowed, exc.json_path or at)


def _number(value: Any) -> float | None:
    """A JSON number (or numeric string) as float; None when ``value`` is not numeric."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


class SeriesRef(StrategyModel):
    """A right-hand series given as an object: ``{"indicator": "ema", "period": 21}``."""

    indicator: str
    period: Period | None = None
    params: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _no_extra(self) -> SeriesRef:
        for key, value in (self.model_extra or {}).items():
            fail(value, "indicator, period, params", key)
        return self


def _params(period: int | None, params: Mapping[str, Any] | None, at: str) -> dict[str, Any]:
    merged: dict[str, Any] = dict(params or {})
    if period is not None:
        if "period" in merged:
            fail(period, "period either beside indicator or inside params, not both", at)
        merged["period"] = period
    return merged


class ConditionNode(StrategyModel):
    """A leaf condition or a nested group (see the module docstring for the grammar).

    Resolved operands (after validation): :attr:`left`, :attr:`right` (a SeriesKey or a number,
    compare and cross operators), :attr:`low` / :attr:`high` (range operators).
    """

    one_or_many = ("and",)

    indicator: str | None = None
    period: Period | None = None
    params: dict[str, Any] | None = None
    operator: Operator | None = Field(default=None, validation_alias=alias("condition", "operator"))
    value: Any = None
    indicatorRef: Any = None  # noqa: N815 - the format's key
    min: Any = None
    max: Any = None
    timeframe: TimeframeField | None = None
    and_: list[ConditionNode] | None = Field(default=None, validation_alias="and")
    logic: Logic | None = None
    conditions: list[ConditionNode] | None = None

    @field_validator("operator", mode="before")
    @classmethod
    def _operator(cls, value: Any) -> Any:
        if value is None:
            return None
        return _word(value, _OPERATOR_SPELLINGS, OPERATORS_ALLOWED)

    @field_validator("logic", mode="before")
    @classmethod
    def _logic(cls, value: Any) -> Any:
        return None if value is None else _logic(value)

    @property
    def is_group(self) -> bool:
        """True for ``{logic, conditions}``."""
        return self.conditions is not None

    @property
    def left(self) -> SeriesKey:
        """The left operand (leaves only)."""
        assert self._left is not None, "group nodes have no operands"
        return self._left

    @property
    def right(self) -> SeriesKey | float | None:
        """The right operand of compare and cross operators (None for ranges)."""
        return self._right

    @property
    def low(self) -> SeriesKey | float | None:
        """Lower bound of a range operator."""
        return self._low

    @property
    def high(self) -> SeriesKey | float | None:
        """Upper bound of a range operator."""
        return self._high

    _left: SeriesKey | None = None
    _right: SeriesKey | float | None = None
    _low: SeriesKey | float | None = None
    _high: SeriesKey | float | None = None

    @model_validator(mode="after")
    def _check(self) -> ConditionNode:
        if self.conditions is not None:
            for field in ("indicator", "operator", "value", "indicatorRef", "min", "max",
                          "period", "params", "timeframe"):
                if self.has(field):
                    fail(getattr(self, field),
                         "a group {logic, conditions} or a condition {indicator, condition, ...},"
                         " not both (put timeframe on each condition)", self.key_of(field))
            if not self.conditions:
                fail([], "at least one condition", "conditions")
            return self
        if self.logic is not None:
            fail(self.logic, "logic only on a group that has conditions", "logic")
        if self.indicator is None:
            fail(MISSING, SERIES_ALLOWED, "indicator")
        if self.operator is None:
            fail(MISSING, OPERATORS_ALLOWED, "condition")
        self._left = _resolve(self.indicator, _params(self.period, self.params, "period"),
                              "indicator")
        if self.operator in RANGE_OPERATORS:
            self._low, self._high = self._range()
        else:
            self._right = self._rhs()
        return self

    def _operand(self, value: Any, at: str) -> SeriesKey | float:
        number = _number(value)
        if number is not None:
            return number
        if isinstance(value, Mapping):
            try:
                ref = SeriesRef.model_validate(value)
            except ValidationError as exc:  # re-raised with this operand's path
                err = exc.errors(include_url=False)[0]
                rel, found, allowed = describe(err, err["loc"])
                fail(found, allowed, join(at, rel))
            return _resolve(ref.indicator, _params(ref.period, ref.params, join(at, "period")),
                            join(at, "indicator"))
        if isinstance(value, str):
            return _resolve(value, None, at)
        fail(value, f"a number or {SERIES_ALLOWED}", at)

    def _rhs(self) -> SeriesKey | float:
        for field in ("min", "max"):
            if self.has(field):
                fail(getattr(self, field),
                     "min/max only with in_range or outside_range", field)
        given = [f for f in ("value", "indicatorRef") if self.has(f)]
        if not given:
            fail(MISSING, f"value (a number or {SERIES_ALLOWED}) or indicatorRef", "value")
        if len(given) > 1:
            fail({"value": self.value, "indicatorRef": self.indicatorRef},
                 "value or indicatorRef, not both", "indicatorRef")
        raw = self.value if given[0] == "value" else self.indicatorRef
        if isinstance(raw, list):
            fail(raw, "a number or a series name (a [min, max] pair only with in_range or "
                 "outside_range)", given[0])
        return self._operand(raw, given[0])

    def _range(self) -> tuple[SeriesKey | float, SeriesKey | float]:
        if self.has("indicatorRef"):
            fail(self.indicatorRef, "value: [min, max], value: {min, max} or min/max keys",
                 "indicatorRef")
        if self.has("value"):
            if self.has("min") or self.has("max"):
                fail(self.value, "value or min/max, not both", "value")
            raw = self.value
            if isinstance(raw, list) and len(raw) == 2:
                lo = self._operand(raw[0], "value[0]")
                hi = self._operand(raw[1], "value[1]")
                where = "value"
            elif isinstance(raw, Mapping) and set(raw) == {"min", "max"}:
                lo = self._operand(raw["min"], "value.min")
                hi = self._operand(raw["max"], "value.max")
                where = "value"
            else:
                fail(raw, "a [min, max] pair or {\"min\": a, \"max\": b}", "value")
        else:
            for field in ("min", "max"):
                if not self.has(field):
                    fail(MISSING, f"both min and max for {self.operator}", field)
            lo = self._operand(self.min, "min")
            hi = self._operand(self.max, "max")
            where = ""
        if isinstance(lo, float) and isinstance(hi, float) and lo > hi:
            fail({"min": lo, "max": hi}, "min <= max", where or "min")
        return lo, hi


class ConfirmationNode(ConditionNode):
    """A Form B confirmation: a condition (or group) with ``required`` (default false)."""

    required: bool = False


class EntryBody(StrategyModel):
    """Fields shared by :class:`EntryRules` and the ``entry`` block itself."""

    direction: Side | None = Field(
        default=None, validation_alias=alias("direction", "side", "action", "type")
    )
    logic: Logic | None = None
    conditions: list[ConditionNode] | None = None
    primary: list[ConditionNode] | None = None
    confirmation: list[ConfirmationNode] | None = None
    minConfirmations: Count | None = None  # noqa: N815 - the format's key

    @field_validator("direction", mode="before")
    @classmethod
    def _direction(cls, value: Any) -> Any:
        return None if value is None else parse_side(value)

    @field_validator("logic", mode="before")
    @classmethod
    def _logic(cls, value: Any) -> Any:
        return None if value is None else _logic(value)

    @property
    def form(self) -> Literal["A", "B"]:
        """``A`` for a condition tree, ``B`` for primary + confirmation."""
        return "A" if self.conditions is not None else "B"

    @property
    def min_confirmations(self) -> int:
        """At least this many non-required confirmations must hold (Form B; default 0)."""
        return self.minConfirmations or 0



class EntryRules(EntryBody):
    """One direction's entry rules: Form A (``conditions``) or Form B (``primary`` and
    ``confirmation``)."""

    @model_validator(mode="after")
    def _check_form(self) -> EntryRules:
        check_form(self)
        return self


def check_form(rules: EntryBody) -> None:
    """Validate that ``rules`` is exactly one of Form A and Form B, and non-empty."""
    form_b = [f for f in ("primary", "confirmation") if rules.has(f)]
    if rules.conditions is not None and form_b:
        fail(getattr(rules, form_b[0]),
             "either conditions (form A) or primary/confirmation (form B), not both", form_b[0])
    if rules.conditions is None and not form_b:
        fail(MISSING, "conditions (form A) or primary/confirmation (form B)", "conditions")
    for field in ("conditions", "primary", "confirmation"):
        if getattr(rules, field) == []:
            fail([], "at least one condition", field)
    if rules.conditions is not None:
        if rules.minConfirmations is not None:
            fail(rules.minConfirmations, "minConfirmations only with confirmation (form B)",
                 "minConfirmations")
        return
    if rules.logic not in (None, "AND"):
        fail(rules.logic, "AND (form B's primary conditions are AND-ed)", "logic")
    optional = sum(1 for c in rules.confirmation or [] if not c.required)
    gates = len(rules.primary or []) + len(rules.confirmation or []) - optional
    if gates == 0 and rules.min_confirmations == 0:
        fail(rules.minConfirmations if rules.minConfirmations is not None else MISSING,
             "a primary condition, a required confirmation, or minConfirmations >= 1 "
             "(otherwise every bar would enter)", "minConfirmations")
    if rules.min_confirmations > optional:
        fail(rules.minConfirmations,
             f"at most {optional} (the number of confirmations with required: false)",
             "minConfirmations")


def iter_tree(node: ConditionNode, path: str) -> Iterator[tuple[ConditionNode, str]]:
    """``node`` and every node below it (groups, leaves, ``and`` parts) with its JSON path."""
    yield node, path
    if node.conditions is not None:
        yield from iter_leaves(node.conditions, join(path, "conditions"))
    if node.and_ is not None:
        if node.reshaped("and") == "one":
            yield from iter_tree(node.and_[0], join(path, "and"))
        else:
            yield from iter_leaves(node.and_, join(path, "and"))


def iter_leaves(nodes: list[Any] | None, path: str) -> Iterator[tuple[ConditionNode, str]]:
    """Every node of the list ``nodes`` (at ``path``) and below, with its JSON path."""
    for i, node in enumerate(nodes or []):
        yield from iter_tree(node, join(path, i))
