"""Volatility filter: trade only while ATR is within bounds.

ATR(``period``) of the last closed bar (price units, Wilder's ATR as computed by the engine:
``indicators.atr``) is compared with ``minATR`` and ``maxATR`` (either may be absent), bounds
inclusive. Outside: ``SKIP`` denies, ``REDUCE_SIZE`` allows × ``multiplier``. An unknown ATR (NaN
or missing: indicator warm-up) denies, whatever the action, because the filter cannot tell.

The strategy model accepts the actions ``SKIP``, ``REDUCE_SIZE`` and ``NORMAL`` (trade at normal
size; the decision is still logged with the ATR), and a number as the action (``REDUCE_SIZE`` × that
number): the format's "SKIP, NORMAL or a multiplier".
"""

from __future__ import annotations

import math
from typing import Literal

from trademaestro.core.errors import ConfigError, StrategyError
from trademaestro.filters.base import EntryContext, Verdict
from trademaestro.strategy.limits import VolatilityFilter as VolatilityModel


class VolatilityFilter:
    """Deny (``SKIP``) or scale (``REDUCE_SIZE``) entries while ATR(``period``) is outside
    [``min_atr``, ``max_atr``] (price units; None = unbounded on that side).

    Raises:
        ConfigError: no bound, ``min_atr > max_atr``, a period < 1 or a multiplier outside (0, 1].
    """

    name = "volatility"

    def __init__(self, *, period: int, min_atr: float | None = None,
                 max_atr: float | None = None,
                 action: Literal["SKIP", "REDUCE_SIZE", "NORMAL"] = "SKIP",
                 multiplier: float = 1.0) -> None:
        if min_atr is None and max_atr is None:
            raise ConfigError("volatility filter: give minATR and/or maxATR (price units)")
        if min_atr is not None and max_atr is not None and min_atr > max_atr:
            raise ConfigError(f"volatility filter: found minATR {min_atr} > maxATR {max_atr}; "
                              "allowed: minATR <= maxATR")
        if period < 1:
            raise ConfigError(f"volatility filter period: found {period}; allowed: >= 1")
        if not (0 < multiplier <= 1):
            raise ConfigError(f"volatility filter multiplier: found {multiplier!r}; allowed: "
                              "a size multiplier in (0, 1]")
        self.period = period
        self.min_atr = min_atr
        self.max_atr = max_atr
        self.action = action
        self.multiplier = multiplier
        self._lo = -math.inf if min_atr is None else min_atr
        self._hi = math.inf if max_atr is None else max_atr
        self._bounds = (f"[{'-' if min_atr is None else f'{min_atr:g}'}, "
                        f"{'-' if max_atr is None else f'{max_atr:g}'}]")
        self._unknown = Verdict(self.name, False, 1.0, f"ATR({period}) unknown (warm-up)")
        self._within = Verdict(self.name, True, 1.0, f"ATR({period}) within {self._bounds}")

    @classmethod
    def from_model(cls, model: VolatilityModel,
                   path: str = "filters.volatilityFilter") -> VolatilityFilter:
        """From the strategy's validated ``volatilityFilter`` block (JSON path ``path``).

        Raises:
            StrategyError: a ``multiplier`` above 1 (a filter never enlarges a trade).
        """
        multiplier = (
            1.0 if model.multiplier is None or model.action == "NORMAL" else model.multiplier
        )
        if model.action == "REDUCE_SIZE" and multiplier > 1:
            raise StrategyError(f"{path}.{model.key_of('multiplier')}", multiplier,
                                "a size multiplier in (0, 1]")
        return cls(period=model.period, min_atr=model.minATR, max_atr=model.maxATR,
                   action=model.action, multiplier=min(multiplier, 1.0))

    def check(self, ctx: EntryContext) -> Verdict:
        """Compare ``ctx.atr[period]`` with the bounds (the allowing verdict is one constant
        object; the value is written into deny and scale reasons)."""
        atr = ctx.atr.get(self.period, math.nan)
        if not math.isfinite(atr):
            return self._unknown
        if self._lo <= atr <= self._hi:
            return self._within
        text = f"ATR({self.period}) {atr:.6g}"
        if self.action == "SKIP":
            return Verdict(self.name, False, 1.0, f"{text} outside {self._bounds}")
        if self.action == "NORMAL":
            return Verdict(self.name, True, 1.0, f"{text} outside {self._bounds}: normal size")
        return Verdict(self.name, True, self.multiplier,
                       f"{text} outside {self._bounds}: size × {self.multiplier:g}")

    def describe(self) -> str:
        """E.g. ``volatility: ATR(14) within [1, 15] else skip``."""
        rest = {"SKIP": "skip", "NORMAL": "normal size"}.get(
            self.action, f"size × {self.multiplier:g}"
        )
        return f"volatility: ATR({self.period}) within {self._bounds} else {rest}"
