"""Signals of a strategy at a closed bar, two ways that must agree exactly.

* :class:`VectorSignals` evaluates the condition trees once over every bar (the backtest).
* :class:`StreamingSignals` evaluates them at one bar over the series computed so far (the paper
  and live runtime, which sees bars one at a time).

Both read series values from a series engine (:class:`SeriesSource`); because
the engine computes streaming and batch values with one code path, both give identical signals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from trademaestro.execution.intents import Side
from trademaestro.indicators.keys import SeriesKey
from trademaestro.strategy.rules import Condition


class SeriesSource(Protocol):
    """What the signal sources read: a series engine (single- or multi-timeframe)."""

    @property
    def keys(self) -> tuple[SeriesKey, ...]: ...
    def values(self, key: SeriesKey) -> np.ndarray: ...
    def __len__(self) -> int: ...


class SignalSource(Protocol):
    """Signals at the bar with index ``i`` (the last closed bar)."""

    def entry_at(self, i: int) -> dict[Side, bool]: ...
    def exit_at(self, i: int) -> bool: ...


class VectorSignals:
    """Signals precomputed for every bar (backtest). ``any_signal[i]`` is True where an entry
    or exit signal fires, so a loop can skip the quiet bars."""

    def __init__(
        self,
        engine: SeriesSource,
        entry: Mapping[Side, Condition],
        exit_rule: Condition | None,
    ) -> None:
        self._engine = engine
        series = {key: engine.values(key) for key in engine.keys}
        self.entry = {side: cond.evaluate_all(series) for side, cond in entry.items()}
        n = len(engine)
        self.exit = exit_rule.evaluate_all(series) if exit_rule else np.zeros(n, dtype=bool)
        any_signal = self.exit.copy()
        for arr in self.entry.values():
            any_signal |= arr
        self.any_signal = any_signal

    def entry_at(self, i: int) -> dict[Side, bool]:
        return {side: bool(arr[i]) for side, arr in self.entry.items()}

    def exit_at(self, i: int) -> bool:
        return bool(self.exit[i])


class StreamingSignals:
    """Signals evaluated on demand at one bar over the series seen so far (paper/live)."""

    def __init__(
        self,
        engine: SeriesSource,
        entry: Mapping[Side, Condition],
        exit_rule: Condition | None,
    ) -> None:
        self._engine = engine
        self._entry = dict(entry)
        self._exit = exit_rule
        self._cached: tuple[int, dict[SeriesKey, np.ndarray]] = (-1, {})

    def _series(self) -> dict[SeriesKey, np.ndarray]:
        """The series views, rebuilt only when bars were added (entry and exit share them)."""
        n = len(self._engine)
        if self._cached[0] != n:
            self._cached = (n, {key: self._engine.values(key) for key in self._engine.keys})
        return self._cached[1]

    def entry_at(self, i: int) -> dict[Side, bool]:
        series = self._series()
        return {side: cond.evaluate_at(series, i) for side, cond in self._entry.items()}

    def exit_at(self, i: int) -> bool:
        return self._exit.evaluate_at(self._series(), i) if self._exit else False
