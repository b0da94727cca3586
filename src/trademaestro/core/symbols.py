"""Symbol specifications and the price/volume arithmetic that depends on them.

A :class:`SymbolSpec` is the part of MT5's ``SymbolInfo`` that trading decisions need. All prices
are in the symbol's price units (quote currency per unit of base), distances in price units unless
a name says ``points`` or ``pips``, volumes in lots, and money in the account currency.

Rounding happens at the boundary (MT5_API.md §10.6-10.7): prices to ``digits`` and to a multiple
of ``tick_size``; volumes *down* to a multiple of ``volume_step``. Floats are never compared for
equality: volume comparisons use a tolerance of a millionth of a step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

# Metals quoted with 2 digits use 0.10 as their pip (STRATEGY_FORMAT.md "Pips").
_METAL_PREFIXES = ("XAU", "XAG", "XPT", "XPD", "GOLD", "SILVER")


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """Trading specification of one symbol (a subset of MT5's ``SymbolInfo``).

    Attributes:
        name: symbol name as the broker spells it (``XAUUSD``).
        digits: price decimals; ``point == 10 ** -digits``.
        point: the price quantum, price units.
        tick_size: minimal price change, price units (a multiple of ``point``).
        tick_value: value of one ``tick_size`` move for 1.0 lot, account currency. For symbols
            whose profit currency is not the account currency this varies with the rate; this is
            the value at the time the spec was read.
        contract_size: units of base per lot (100 oz for XAUUSD, 100000 for FX majors).
        volume_min, volume_max, volume_step: lots.
        stops_level: minimal SL/TP distance from the market, points.
        freeze_level: distance inside which a position cannot be modified, points.
        currency_base, currency_profit, currency_margin: ISO codes.
        pip_size: one pip in price units; 0 means "derive from digits" (see :func:`default_pip`).
        spread: typical spread in points, used when market data carries none.
    """

    name: str
    digits: int
    point: float
    tick_size: float
    tick_value: float
    contract_size: float
    volume_min: float
    volume_max: float
    volume_step: float
    stops_level: int = 0
    freeze_level: int = 0
    currency_base: str = ""
    currency_profit: str = "USD"
    currency_margin: str = ""
    pip_size: float = 0.0
    spread: int = 0
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def pip(self) -> float:
        """One pip in price units (the spec's ``pip_size`` or the convention of §8.1)."""
        return self.pip_size if self.pip_size > 0 else default_pip(self.name, self.digits)

    def round_price(self, price: float) -> float:
        """Round a price to the nearest multiple of ``tick_size``, then to ``digits``."""
        ticks = round(price / self.tick_size)
        return round(ticks * self.tick_size, self.digits)

    def floor_volume(self, lots: float) -> float:
        """Round a volume *down* to a multiple of ``volume_step`` (lots); no min/max clamp.

        A value within a millionth of a step above a multiple counts as that multiple, so that
        ``0.3 / 0.1`` style float noise never loses a step.
        """
        steps = math.floor(lots / self.volume_step + 1e-6)
        return round(steps * self.volume_step, _decimals(self.volume_step))

    def normalize_volume(self, lots: float) -> float:
        """Round down to the step and clamp to ``[0, volume_max]``; below ``volume_min`` → 0.0.

        0.0 means "too small to trade"; the caller logs why.
        """
        v = self.floor_volume(min(lots, self.volume_max))
        return v if v >= self.volume_min - 1e-9 * self.volume_step else 0.0

    def money_per_price_unit(self, lots: float) -> float:
        """Account-currency value of a 1.0 price-unit move for ``lots`` (tick value / tick size)."""
        return self.tick_value / self.tick_size * lots

    def points(self, distance: float) -> float:
        """A price distance expressed in points."""
        return distance / self.point


def default_pip(name: str, digits: int) -> float:
    """The conventional pip, price units: 10 points on 5- and 3-digit quotes and on 2-digit
    metals (XAUUSD pip = 0.10), one point otherwise (STRATEGY_FORMAT.md "Pips")."""
    point = 10.0**-digits
    upper = name.upper()
    if digits in (3, 5) or (digits == 2 and upper.startswith(_METAL_PREFIXES)):
        return round(point * 10, digits)
    return point


@lru_cache(maxsize=64)
def _decimals(step: float) -> int:
    """Number of decimals needed to print a step such as 0.01 exactly (at most 8)."""
    for d in range(9):
        if abs(round(step, d) - step) < 1e-12:
            return d
    return 8
