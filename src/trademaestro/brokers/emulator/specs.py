"""Symbol specifications of the emulated broker, and their JSON overrides.

An :class:`EmulatorSymbol` holds the static part of MT5's ``SymbolInfo`` (MT5_API.md §3.3): the
live fields (bid, ask, time, spread, tick values) are added by the emulator from its quotes.
Prices are in price units, distances (``spread``, ``stops_level``, ``freeze_level``, swaps in
``SYMBOL_SWAP_MODE_POINTS``) in points, volumes in lots, ``contract_size`` in base units per lot.

The defaults (:data:`DEFAULT_SYMBOLS`) are realistic retail-broker specifications: XAUUSD
(2 digits, 100 oz, FOREX calc mode with margin currency XAU so margin = lots·100/leverage·price),
EURUSD and GBPUSD (5 digits, 100000), USDJPY (3 digits, profit in JPY). All use market execution
(``trade_exemode`` 2), allow FOK and IOC (``filling_mode`` 3), every order type
(``order_mode`` 127), swaps in points with the triple swap on Wednesday.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from trademaestro.core.errors import ConfigError, SymbolError

# Bits of SymbolInfo.filling_mode / order_mode / expiration_mode (MT5_API.md §5.11).
SYMBOL_FILLING_FOK = 1
SYMBOL_FILLING_IOC = 2
SYMBOL_FILLING_BOC = 4
SYMBOL_ORDER_MARKET = 1
SYMBOL_ORDER_LIMIT = 2
SYMBOL_ORDER_STOP = 4
SYMBOL_ORDER_STOP_LIMIT = 8
SYMBOL_ORDER_SL = 16
SYMBOL_ORDER_TP = 32
SYMBOL_ORDER_CLOSEBY = 64


@dataclass(frozen=True, slots=True)
class EmulatorSymbol:
    """Static specification of one emulated symbol (the non-live part of ``SymbolInfo``).

    Required: ``name``, ``digits``, ``contract_size``, ``currency_base``, ``currency_profit``,
    ``currency_margin``. ``tick_size`` 0.0 means "one point". ``margin_rate`` (not a
    ``SymbolInfo`` field) multiplies every margin (MQL5 ``SymbolInfoMarginRate``).
    ``market_return_allowed`` (ours) lets ``ORDER_FILLING_RETURN`` pass for market orders.

    Raises:
        SymbolError: a field value that cannot describe a tradable symbol.
    """

    name: str
    digits: int
    contract_size: float
    currency_base: str
    currency_profit: str
    currency_margin: str
    tick_size: float = 0.0
    calc_mode: int = 0
    trade_mode: int = 4
    exemode: int = 2
    filling_mode: int = SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC
    order_mode: int = 127
    expiration_mode: int = 15
    order_gtc_mode: int = 0
    volume_min: float = 0.01
    volume_max: float = 100.0
    volume_step: float = 0.01
    volume_limit: float = 0.0
    stops_level: int = 0
    freeze_level: int = 0
    spread: int = 10
    spread_float: bool = True
    swap_mode: int = 1
    swap_long: float = 0.0
    swap_short: float = 0.0
    swap_rollover3days: int = 3
    margin_initial: float = 0.0
    margin_maintenance: float = 0.0
    margin_hedged: float = 0.0
    margin_hedged_use_leg: bool = False
    margin_rate: float = 1.0
    market_return_allowed: bool = False
    select: bool = True
    chart_mode: int = 0
    ticks_bookdepth: int = 0
    description: str = ""
    path: str = ""
    category: str = ""
    exchange: str = ""
    isin: str = ""
    page: str = ""
    basis: str = ""
    bank: str = ""
    formula: str = ""
    custom: bool = False
    point: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        problems = []
        if not self.name or len(self.name) > 29:
            problems.append(f"name {self.name!r} must be 1..29 characters")
        if not 0 <= self.digits <= 8:
            problems.append(f"digits {self.digits} must be 0..8")
        for attr in ("contract_size", "volume_min", "volume_step", "volume_max", "margin_rate"):
            value = getattr(self, attr)
            if not (math.isfinite(value) and value > 0):
                problems.append(f"{attr} {value} must be a finite number > 0")
        if self.volume_max < self.volume_min:
            problems.append(f"volume_max {self.volume_max} < volume_min {self.volume_min}")
        for attr in ("stops_level", "freeze_level", "spread"):
            if getattr(self, attr) < 0:
                problems.append(f"{attr} {getattr(self, attr)} must be >= 0 points")
        if self.tick_size < 0:
            problems.append(f"tick_size {self.tick_size} must be >= 0")
        if problems:
            raise SymbolError(f"symbol {self.name!r}: " + "; ".join(problems))
        point = round(10.0**-self.digits, self.digits)
        object.__setattr__(self, "point", point)
        if self.tick_size == 0.0:
            object.__setattr__(self, "tick_size", point)
        if self.margin_hedged == 0.0:
            object.__setattr__(self, "margin_hedged", self.contract_size)


DEFAULT_SYMBOLS: dict[str, EmulatorSymbol] = {
    "XAUUSD": EmulatorSymbol(
        name="XAUUSD", digits=2, contract_size=100.0, currency_base="XAU",
        currency_profit="USD", currency_margin="XAU", volume_max=100.0, stops_level=10,
        spread=9, swap_long=-45.5, swap_short=22.3, description="Gold vs US Dollar",
        path="Metals\\XAUUSD", category="Metals",
    ),
    "EURUSD": EmulatorSymbol(
        name="EURUSD", digits=5, contract_size=100000.0, currency_base="EUR",
        currency_profit="USD", currency_margin="EUR", volume_max=500.0, spread=8,
        swap_long=-7.29, swap_short=2.35, description="Euro vs US Dollar",
        path="Forex\\EURUSD", category="Forex",
    ),
    "GBPUSD": EmulatorSymbol(
        name="GBPUSD", digits=5, contract_size=100000.0, currency_base="GBP",
        currency_profit="USD", currency_margin="GBP", volume_max=500.0, spread=12,
        swap_long=-2.65, swap_short=-3.12, description="Great Britain Pound vs US Dollar",
        path="Forex\\GBPUSD", category="Forex",
    ),
    "USDJPY": EmulatorSymbol(
        name="USDJPY", digits=3, contract_size=100000.0, currency_base="USD",
        currency_profit="JPY", currency_margin="USD", volume_max=500.0, spread=10,
        swap_long=14.52, swap_short=-34.88, description="US Dollar vs Japanese Yen",
        path="Forex\\USDJPY", category="Forex",
    ),
}
"""The built-in specifications (a fresh copy is made by :func:`default_symbols`)."""

_REQUIRED = ("digits", "contract_size", "currency_base", "currency_profit", "currency_margin")
_SETTABLE = {f.name: f.type for f in fields(EmulatorSymbol) if f.init and f.name != "name"}


def default_symbols() -> dict[str, EmulatorSymbol]:
    """A new dict of the built-in specifications, keyed by symbol name."""
    return dict(DEFAULT_SYMBOLS)


def spec_for(name: str, specs: dict[str, EmulatorSymbol] | None = None) -> EmulatorSymbol:
    """The specification of ``name`` in ``specs`` (default: the built-in ones).

    Raises:
        SymbolError: no specification for that symbol; the message lists the known names.
    """
    table = DEFAULT_SYMBOLS if specs is None else specs
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "(none)"
        raise SymbolError(f"no specification for symbol {name!r}; known: {known}") from None


def load_symbol_specs(
    path: str | Path, base: dict[str, EmulatorSymbol] | None = None
) -> dict[str, EmulatorSymbol]:
    """Read symbol overrides from a JSON file and merge them over ``base`` (default: built-ins).

    The file holds one object: ``{"XAUUSD": {"stops_level": 20}, "EURJPY": {"like": "EURUSD",
    "digits": 3, "currency_profit": "JPY"}}``. A known symbol is updated field by field; a new
    one copies the symbol named by ``"like"`` or must give ``digits``, ``contract_size`` and the
    three currencies. Field names and types are those of :class:`EmulatorSymbol` (JSON integers
    are accepted for float fields).

    Raises:
        ConfigError: unreadable file, invalid JSON, unknown field, wrong type or an invalid
            resulting specification; the message names the file and the key.
    """
    where = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read symbol specifications: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{where}:{exc.lineno}: invalid JSON in symbol specifications: {exc.msg}"
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: found {type(document).__name__}; allowed: an object "
                          "mapping symbol names to objects of fields")
    result = dict(DEFAULT_SYMBOLS if base is None else base)
    for name, overrides in document.items():
        result[name] = _merge(where, name, overrides, result)
    return result


def _merge(
    where: str, name: str, overrides: Any, known: dict[str, EmulatorSymbol]
) -> EmulatorSymbol:
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where}: {name}: found {overrides!r}; allowed: an object of fields")
    values: dict[str, Any] = {}
    like = overrides.get("like", name if name in known else None)
    if like is not None:
        if not isinstance(like, str) or like not in known:
            raise ConfigError(f"{where}: {name}.like: found {like!r}; allowed: one of "
                              f"{', '.join(sorted(known))}")
        src = known[like]
        values = {f.name: getattr(src, f.name) for f in fields(EmulatorSymbol) if f.init}
        # Derived defaults are re-derived from the new digits / contract size.
        if math.isclose(src.tick_size, src.point):
            values["tick_size"] = 0.0
        if math.isclose(src.margin_hedged, src.contract_size):
            values["margin_hedged"] = 0.0
    for key, value in overrides.items():
        if key == "like":
            continue
        if key not in _SETTABLE:
            raise ConfigError(f"{where}: {name}.{key}: unknown field; allowed: "
                              f"like, {', '.join(sorted(_SETTABLE))}")
        values[key] = _check_type(where, f"{name}.{key}", value, str(_SETTABLE[key]))
    missing = [k for k in _REQUIRED if k not in values]
    if missing:
        raise ConfigError(f"{where}: {name}: missing {', '.join(missing)} (or give \"like\": "
                          "an existing symbol to copy)")
    values["name"] = name
    try:
        return EmulatorSymbol(**values)
    except SymbolError as exc:
        raise ConfigError(f"{where}: {name}: {exc}") from None


def _check_type(where: str, key: str, value: Any, annotation: str) -> Any:
    if annotation == "bool":
        ok = isinstance(value, bool)
    elif annotation == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{where}: {key}: found {value!r}; allowed: a JSON {annotation}")
    return value
