"""Spread filter: skip or shrink an entry while the spread is wide.

The spread is ``ask - bid`` rounded to whole points (MT5 quotes are on the point grid), expressed
in pips (``spec.pip``; XAUUSD: 33 points = 0.33 USD = 3.3 pips). Above ``maxSpread`` pips (a
spread equal to the maximum passes): ``SKIP`` denies, ``REDUCE_SIZE`` allows × ``multiplier``.
A missing or crossed quote (non-finite, or ask < bid) denies.
"""

from __future__ import annotations

import math
from typing import Literal

from trademaestro.core.errors import ConfigError
from trademaestro.core.symbols import SymbolSpec
from trademaestro.filters.base import EntryContext, Verdict
from trademaestro.strategy.limits import SpreadFilter as SpreadModel

_EPS = 1e-9
_CACHE_LIMIT = 1_024


def spread_pips(bid: float, ask: float, point: float, pip: float) -> float:
    """``ask - bid`` in pips, rounded to whole points first (prices in price units)."""
    return round((ask - bid) / point) * point / pip


class SpreadFilter:
    """Deny (``SKIP``) or scale (``REDUCE_SIZE``) entries whose spread exceeds ``max_pips``.

    Args:
        max_pips: the largest spread that passes, pips (> 0).
        action: ``SKIP`` or ``REDUCE_SIZE``.
        multiplier: size factor with ``REDUCE_SIZE``, in (0, 1].

    Raises:
        ConfigError: a non-positive maximum or a multiplier outside (0, 1].
    """

    name = "spread"

    def __init__(self, max_pips: float, *, action: Literal["SKIP", "REDUCE_SIZE"] = "SKIP",
                 multiplier: float = 1.0) -> None:
        if not (max_pips > 0 and math.isfinite(max_pips)):
            raise ConfigError(f"spread filter maxSpread: found {max_pips!r}; allowed: pips > 0")
        if not (0 < multiplier <= 1):
            raise ConfigError(f"spread filter multiplier: found {multiplier!r}; allowed: a size "
                              "multiplier in (0, 1]")
        self.max_pips = max_pips
        self.action = action
        self.multiplier = multiplier
        self._limit = max_pips + _EPS
        self._specs: dict[str, tuple[SymbolSpec, float, float, dict[int, Verdict]]] = {}

    @classmethod
    def from_model(cls, model: SpreadModel) -> SpreadFilter:
        """From the strategy's validated ``spreadFilter`` block (the model bounds the values)."""
        assert model.maxSpread is not None  # the model requires it when enabled
        multiplier = 1.0 if model.multiplier is None else model.multiplier
        return cls(model.maxSpread, action=model.action, multiplier=multiplier)

    def check(self, ctx: EntryContext) -> Verdict:
        """Compare the current spread in pips with the maximum (verdicts cached per symbol and
        spread in points, so a check is a division and a dict look-up)."""
        bid, ask = ctx.bid, ctx.ask
        if not (math.isfinite(bid) and math.isfinite(ask)) or ask < bid:
            return Verdict(self.name, False, 1.0, f"no valid quote (bid {bid}, ask {ask})")
        spec = ctx.spec
        entry = self._specs.get(spec.name)
        if entry is None or entry[0] is not spec:
            if len(self._specs) >= _CACHE_LIMIT:
                self._specs.clear()
            entry = self._specs[spec.name] = (spec, spec.point, spec.pip, {})
        _, point, pip, verdicts = entry
        points = round((ask - bid) / point)
        verdict = verdicts.get(points)
        if verdict is None:
            if len(verdicts) >= _CACHE_LIMIT:
                verdicts.clear()
            verdict = verdicts[points] = self._verdict(points * point / pip)
        return verdict

    def _verdict(self, pips: float) -> Verdict:
        text = f"spread {round(pips, 3):g}"
        if pips <= self._limit:
            return Verdict(self.name, True, 1.0, f"{text} <= {self.max_pips:g} pips")
        if self.action == "SKIP":
            return Verdict(self.name, False, 1.0, f"{text} > {self.max_pips:g} pips")
        return Verdict(self.name, True, self.multiplier,
                       f"{text} > {self.max_pips:g} pips: size × {self.multiplier:g}")

    def describe(self) -> str:
        """E.g. ``spread: above 3 pips skip``."""
        rest = "skip" if self.action == "SKIP" else f"size × {self.multiplier:g}"
        return f"spread: above {self.max_pips:g} pips {rest}"
