"""Compiled condition trees: immutable nodes evaluated on closed bars.

``series`` maps each :class:`~trademaestro.indicators.keys.SeriesKey` to a 1-D array aligned to
the strategy's bars (index 0 = oldest bar, all arrays the same length; higher-timeframe series
already aligned so that bar ``i`` sees the last *closed* higher bar). ``i`` is the index of the
last closed bar ("bar-1" in the format's words); bar-2 is ``i - 1``.

Semantics (STRATEGY_FORMAT.md "Entry"):

- ``Cross(above=True)``: ``left[i-1] <= right[i-1]`` and ``left[i] > right[i]``; ``above=False``
  mirrors it (``>=`` then ``<``). False for ``i < 1``.
- ``Compare``: ``>`` and ``<`` strict; ``==`` is ``|left - right| <= tolerance`` (half a point);
  ``>=`` is ``left >= right - tolerance`` and ``<=`` is ``left <= right + tolerance``.
- ``Range``: inside ``lo <= left <= hi``; outside ``left < lo or left > hi``.
- Any NaN operand (indicator warm-up) makes a leaf False. ``And``/``Or``/``AtLeast`` combine.
- ``Confirmed(tree, bars)`` (``options.confirmationBars``: the signal must hold on ``bars``
  consecutive closed bars): the tree fired at bar ``i - bars + 1`` and its *state* version
  (:meth:`Condition.state`) held on every bar ``i - bars + 2 … i``. The state version replaces
  each ``Cross(l, r, above)`` by the relation the cross establishes (``l > r`` above, ``l < r``
  below) and keeps every other node. So with 2 bars an EMA 9/21 cross-up at bar ``c`` signals at
  bar ``c + 1`` exactly when EMA 9 is still above EMA 21 there; a level condition (``rsi > 50``)
  must hold on ``bars`` bars in a row. Bars are the strategy's own (primary) bars. False for
  ``i < bars - 1``.

``evaluate_all(series)[i] == evaluate_at(series, i)`` for every ``i``: both use the same
float64 arithmetic, one vectorised (numpy), one scalar.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from trademaestro.indicators.keys import SeriesKey

Operand = SeriesKey | float
CompareOp = Literal[">", "<", ">=", "<=", "=="]
SeriesMap = Mapping[SeriesKey, NDArray[np.floating] | NDArray[np.integer] | np.ndarray]
BoolArray = NDArray[np.bool_]


def _array(series: SeriesMap, key: SeriesKey) -> NDArray[np.float64]:
    try:
        values = series[key]
    except KeyError:
        raise KeyError(f"series {key} was not computed (the engine must provide every key of "
                       "Condition.series_keys())") from None
    return np.asarray(values, dtype=np.float64)


def _operand_all(series: SeriesMap, operand: Operand) -> NDArray[np.float64] | float:
    return _array(series, operand) if isinstance(operand, SeriesKey) else float(operand)


def _operand_at(series: SeriesMap, operand: Operand, i: int) -> float:
    return float(_array(series, operand)[i]) if isinstance(operand, SeriesKey) else float(operand)


def _keys(*operands: Operand) -> set[SeriesKey]:
    return {o for o in operands if isinstance(o, SeriesKey)}


def _check_index(values: NDArray[np.float64], i: int) -> None:
    if not 0 <= i < len(values):
        raise IndexError(f"bar index {i} outside 0..{len(values) - 1}")


class Condition(ABC):
    """A node of a compiled rule tree."""

    @abstractmethod
    def series_keys(self) -> set[SeriesKey]:
        """Every series the node reads."""

    @abstractmethod
    def evaluate_at(self, series: SeriesMap, i: int) -> bool:
        """The node's value at closed bar ``i`` (0 <= i < n; IndexError otherwise)."""

    @abstractmethod
    def evaluate_all(self, series: SeriesMap) -> BoolArray:
        """The node's value at every bar: a bool array of the series' length."""

    def state(self) -> Condition:
        """The lasting version of the node: what must keep holding after it fired.

        A node that is not an event (a comparison or a range) is its own state; ``Cross``
        and the groups override this (module docstring, ``Confirmed``).
        """
        return self


@dataclass(frozen=True, slots=True)
class Compare(Condition):
    """``left op right`` on the same bar; ``tolerance`` (price units) for ==, >=, <=."""

    left: SeriesKey
    op: CompareOp
    right: Operand
    tolerance: float = 0.0

    def series_keys(self) -> set[SeriesKey]:
        return _keys(self.left, self.right)

    def evaluate_at(self, series: SeriesMap, i: int) -> bool:
        left = _array(series, self.left)
        _check_index(left, i)
        lv, rv = float(left[i]), _operand_at(series, self.right, i)
        if math.isnan(lv) or math.isnan(rv):
            return False
        tol = self.tolerance
        if self.op == ">":
            return lv > rv
        if self.op == "<":
            return lv < rv
        if self.op == ">=":
            return lv >= rv - tol
        if self.op == "<=":
            return lv <= rv + tol
        return abs(lv - rv) <= tol

    def evaluate_all(self, series: SeriesMap) -> BoolArray:
        lv, rv = _array(series, self.left), _operand_all(series, self.right)
        tol = self.tolerance
        with np.errstate(invalid="ignore"):
            if self.op == ">":
                out = lv > rv
            elif self.op == "<":
                out = lv < rv
            elif self.op == ">=":
                out = lv >= rv - tol
            elif self.op == "<=":
                out = lv <= rv + tol
            else:
                out = np.abs(lv - rv) <= tol
        valid = ~(np.isnan(lv) | np.isnan(rv))
        return np.asarray(out & valid, dtype=np.bool_)

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(frozen=True, slots=True)
class Cross(Condition):
    """``left`` crosses ``right`` between bar ``i-1`` and bar ``i`` (above or below)."""

    left: SeriesKey
    right: Operand
    above: bool

    def series_keys(self) -> set[SeriesKey]:
        return _keys(self.left, self.right)

    def evaluate_at(self, series: SeriesMap, i: int) -> bool:
        left = _array(series, self.left)
        _check_index(left, i)
        if i < 1:
            return False
        l0, l1 = float(left[i - 1]), float(left[i])
        r0, r1 = _operand_at(series, self.right, i - 1), _operand_at(series, self.right, i)
        if self.above:
            return l0 <= r0 and l1 > r1
        return l0 >= r0 and l1 < r1

    def evaluate_all(self, series: SeriesMap) -> BoolArray:
        lv = _array(series, self.left)
        rv = _operand_all(series, self.right)
        out = np.zeros(len(lv), dtype=np.bool_)
        if len(lv) < 2:
            return out
        r0 = rv[:-1] if isinstance(rv, np.ndarray) else rv
        r1 = rv[1:] if isinstance(rv, np.ndarray) else rv
        if self.above:
            out[1:] = (lv[:-1] <= r0) & (lv[1:] > r1)
        else:
            out[1:] = (lv[:-1] >= r0) & (lv[1:] < r1)
        return out

    def state(self) -> Condition:
        """``left > right`` after a cross above, ``left < right`` after a cross below."""
        return Compare(self.left, ">" if self.above else "<", self.right)

    def __str__(self) -> str:
        return f"{self.left} crosses_{'above' if self.above else 'below'} {self.right}"


@dataclass(frozen=True, slots=True)
class Range(Condition):
    """``lo <= left <= hi`` (``inside``) or ``left < lo or left > hi`` (outside)."""

    left: SeriesKey
    lo: Operand
    hi: Operand
    inside: bool

    def series_keys(self) -> set[SeriesKey]:
        return _keys(self.left, self.lo, self.hi)

    def evaluate_at(self, series: SeriesMap, i: int) -> bool:
        left = _array(series, self.left)
        _check_index(left, i)
        lv = float(left[i])
        lo, hi = _operand_at(series, self.lo, i), _operand_at(series, self.hi, i)
        if math.isnan(lv) or math.isnan(lo) or math.isnan(hi):
            return False
        if self.inside:
            return lo <= lv <= hi
        return lv < lo or lv > hi

    def evaluate_all(self, series: SeriesMap) -> BoolArray:
        lv = _array(series, self.left)
        lo, hi = _operand_all(series, self.lo), _operand_all(series, self.hi)
        out = (lo <= lv) & (lv <= hi) if self.inside else (lv < lo) | (lv > hi)
        valid = ~(np.isnan(lv) | np.isnan(lo) | np.isnan(hi))
        return np.asarray(out & valid, dtype=np.bool_)

    def __str__(self) -> str:
        return f"{self.left} {'in' if self.inside else 'outside'} [{self.lo}, {self.hi}]"


def _need_children(children: tuple[Condition, ...], name: str) -> None:
    if not children:
        raise ValueError(f"{name} needs at least one child condition")


@dataclass(frozen=True, slots=True)
class And(Condition):
    """Every child holds."""

    children: tuple[Condition, ...]

    def __post_init__(self) -> None:
        _need_children(self.children, "And")

    def series_keys(self) -> set[SeriesKey]:
        return set().union(*(c.series_keys() for c in self.children))

    def evaluate_at(self, series: SeriesMap, i: int) -> bool:
        return all(c.evaluate_at(series, i) for c in self.children)

    def evaluate_all(self, series: SeriesMap) -> BoolArray:
        out = self.children[0].evaluate_all(series)
        for child in self.children[1:]:
            out = out & child.evaluate_all(series)
        return out

    def state(self) -> Condition:
        """The same group of the children's states."""
        return And(tuple(c.state() for c in self.children))

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")"


@dataclass(frozen=True, slots=True)
class Or(Condition):
    """At least one child holds."""

    children: tuple[Condition, ...]

    def __post_init__(self) -> None:
        _need_children(self.children, "Or")

    def series_keys(self) -> set[SeriesKey]:
        return set().union(*(c.series_keys() for c in self.children))

    def evaluate_at(self, series: SeriesMap, i: int) -> bool:
        return any(c.evaluate_at(series, i) for c in self.children)

    def evaluate_all(self, series: SeriesMap) -> BoolArray:
        out = self.children[0].evaluate_all(series)
        for child in self.children[1:]:
            out = out | child.evaluate_all(series)
        return out

    def state(self) -> Condition:
        """The same group of the children's states."""
        return Or(tuple(c.state() for c in self.children))

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")"


@dataclass(frozen=True, slots=True)
class AtLeast(Condition):
    """At least ``count`` children hold (Form B's ``minConfirmations``)."""

    count: int
    children: tuple[Condition, ...]

    def __post_init__(self) -> None:
        _need_children(self.children, "AtLeast")
        if not 0 <= self.count <= len(self.children):
            raise ValueError(f"AtLeast count {self.count} outside 0..{len(self.children)}")

    def series_keys(self) -> set[SeriesKey]:
        return set().union(*(c.series_keys() for c in self.children))

    def evaluate_at(self, series: SeriesMap, i: int) -> bool:
        return sum(c.evaluate_at(series, i) for c in self.children) >= self.count

    def evaluate_all(self, series: SeriesMap) -> BoolArray:
        counts = np.sum([c.evaluate_all(series) for c in self.children], axis=0)
        return np.asarray(counts >= self.count, dtype=np.bool_)

    def state(self) -> Condition:
        """At least ``count`` of the children's states."""
        return AtLeast(self.count, tuple(c.state() for c in self.children))

    def __str__(self) -> str:
        return f"AT_LEAST {self.count} of (" + ", ".join(map(str, self.children)) + ")"


def _length(node: Condition, series: SeriesMap) -> int:
    keys = sorted(node.series_keys(), key=str)
    if not keys:
        raise ValueError(f"{node} reads no series: its bar count is unknown")
    return len(_array(series, keys[0]))


@dataclass(frozen=True, slots=True)
class Confirmed(Condition):
    """``tree`` fired ``bars - 1`` bars ago and its state held on every bar since (module
    docstring). ``bars`` counts the strategy's closed bars, the signal bar included.

    Raises:
        ValueError: ``bars`` is not an int >= 1.
    """

    tree: Condition
    bars: int

    def __post_init__(self) -> None:
        if isinstance(self.bars, bool) or not isinstance(self.bars, int) or self.bars < 1:
            raise ValueError(f"confirmation bars: found {self.bars!r}; allowed: an integer >= 1")

    def series_keys(self) -> set[SeriesKey]:
        return self.tree.series_keys()

    def evaluate_at(self, series: SeriesMap, i: int) -> bool:
        n = _length(self, series)
        if not 0 <= i < n:
            raise IndexError(f"bar index {i} outside 0..{n - 1}")
        start = i - self.bars + 1
        if start < 0 or not self.tree.evaluate_at(series, start):
            return False
        held = self.tree.state()
        return all(held.evaluate_at(series, j) for j in range(start + 1, i + 1))

    def evaluate_all(self, series: SeriesMap) -> BoolArray:
        fired = self.tree.evaluate_all(series)
        n, k = len(fired), self.bars
        out = np.zeros(n, dtype=np.bool_)
        if n < k:
            return out
        if k == 1:
            return fired
        held = self.tree.state().evaluate_all(series)
        runs = np.concatenate(([0], np.cumsum(held, dtype=np.int64)))
        # held on every bar start+1 .. i, with start = i - k + 1: k - 1 bars ending at i
        ends = np.arange(k - 1, n)
        held_all = runs[ends + 1] - runs[ends + 1 - (k - 1)] == k - 1
        out[k - 1 :] = fired[: n - k + 1] & held_all
        return out

    def state(self) -> Condition:
        """The tree's state: what holds while the confirmed signal lasts."""
        return self.tree.state()

    def __str__(self) -> str:
        return f"CONFIRMED {self.bars} bars ({self.tree})"


def confirm(tree: Condition, bars: int) -> Condition:
    """``tree`` confirmed on ``bars`` consecutive closed bars; ``bars == 1`` returns ``tree``.

    Raises:
        ValueError: ``bars`` is not an int >= 1.
    """
    node = Confirmed(tree, bars)
    return tree if bars == 1 else node
