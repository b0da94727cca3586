"""Series names -> :class:`SeriesKey`, and TA-Lib lookbacks.

Implements the series-name table of the strategy format (``STRATEGY_FORMAT.md``, "Series
names"). Names are case-insensitive; ``<name>_<n>`` (also ``<name><n>``) sets the period of
indicators that have one. Defaults and outputs:

=================================================  =========  ==============================
names                                              kind       default params
=================================================  =========  ==============================
``price`` (= ``close``), ``open high low``         price      bid prices, price units
``volume`` (tick volume), ``spread`` (points)      price
``sma``, ``ema``                                   sma, ema   period 20
``rsi``                                            rsi        period 14
``macd`` / ``macd_signal`` / ``macd_histogram``    macd       fast 12, slow 26, signal 9
(``macd_hist``)
``bb_upper`` ``bb_middle`` ``bb_lower`` (also      bbands     period 20, nbdev 2.0
``bollinger_*``; ``bb`` = middle)
``stoch`` (= ``stoch_k``), ``stoch_d``             stoch      fastk 14, slowk 3, slowd 3
``atr``                                            atr        period 14
``adx``, ``plus_di``, ``minus_di`` (also           adx        period 14
``di_plus``, ``di_minus``)
``cci``                                            cci        period 20
``vwap``                                           vwap       (none)
=================================================  =========  ==============================

Parameters given as a mapping (keys case-insensitive; ``_``/``-``/spaces ignored):

* period of sma/ema/rsi/atr/adx/cci/bbands: ``period``, ``length``, ``timeperiod``, ``n``,
  ``window``; stoch's %K period also answers to these.
* macd: ``fast`` (``fastperiod``, ``fastlength``, ``short``), ``slow`` (``slowperiod``,
  ``slowlength``, ``long``), ``signal`` (``signalperiod``, ``signallength``).
* bbands deviation multiplier: ``stddev`` (``stdDev``, ``std_dev``, ``std``, ``nbdev``,
  ``deviation``, ``deviations``, ``dev``, ``multiplier``, ``mult``).
* stoch: ``k`` (``kperiod``, ``fastk``, ``fastkperiod``), ``smoothk`` (``slowk``,
  ``slowkperiod``, ``ksmoothing``, ``slowing``, ``smooth``), ``d`` (``dperiod``, ``slowd``,
  ``slowdperiod``, ``smoothd``).
* ``source`` / ``price`` / ``appliedprice`` / ``input``: accepted only as ``"close"`` (what
  every price indicator here is computed on).

Allowed periods (TA-Lib's ranges, up to 100000): sma, ema, atr, stoch, macd signal >= 1;
rsi, cci, adx/+DI/-DI, bbands, macd fast/slow >= 2; macd fast < slow; nbdev a finite number
>= 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from trademaestro.core.errors import StrategyError
from trademaestro.indicators.base import MAX_PERIOD
from trademaestro.indicators.engine import SeriesEngine, compute
from trademaestro.indicators.keys import PRICE_KINDS, SeriesKey

__all__ = ["ALLOWED_NAMES", "SeriesEngine", "compute", "lookback", "parse_series"]

# name -> (kind, output)
_NAMES: dict[str, tuple[str, str]] = {
    "price": ("close", "value"),
    "close": ("close", "value"),
    "open": ("open", "value"),
    "high": ("high", "value"),
    "low": ("low", "value"),
    "volume": ("volume", "value"),
    "spread": ("spread", "value"),
    "sma": ("sma", "value"),
    "ema": ("ema", "value"),
    "rsi": ("rsi", "value"),
    "macd": ("macd", "line"),
    "macd_signal": ("macd", "signal"),
    "macd_histogram": ("macd", "hist"),
    "macd_hist": ("macd", "hist"),
    "bb": ("bbands", "middle"),
    "bb_upper": ("bbands", "upper"),
    "bb_middle": ("bbands", "middle"),
    "bb_lower": ("bbands", "lower"),
    "bollinger_upper": ("bbands", "upper"),
    "bollinger_middle": ("bbands", "middle"),
    "bollinger_lower": ("bbands", "lower"),
    "stoch": ("stoch", "k"),
    "stoch_k": ("stoch", "k"),
    "stoch_d": ("stoch", "d"),
    "atr": ("atr", "value"),
    "adx": ("adx", "adx"),
    "plus_di": ("adx", "plus_di"),
    "minus_di": ("adx", "minus_di"),
    "di_plus": ("adx", "plus_di"),
    "di_minus": ("adx", "minus_di"),
    "cci": ("cci", "value"),
    "vwap": ("vwap", "value"),
}

# kind -> (parameter names in canonical order, defaults, minimum of each integer parameter)
_PARAMS: dict[str, tuple[tuple[str, ...], tuple[float, ...], tuple[int, ...]]] = {
    "sma": (("period",), (20,), (1,)),
    "ema": (("period",), (20,), (1,)),
    "rsi": (("period",), (14,), (2,)),
    "atr": (("period",), (14,), (1,)),
    "adx": (("period",), (14,), (2,)),
    "cci": (("period",), (20,), (2,)),
    "macd": (("fast", "slow", "signal"), (12, 26, 9), (2, 2, 1)),
    "bbands": (("period", "nbdev"), (20, 2.0), (2, 0)),
    "stoch": (("k", "smoothk", "d"), (14, 3, 3), (1, 1, 1)),
    "vwap": ((), (), ()),
}

_PERIOD_ALIASES = ("period", "length", "timeperiod", "n", "window")
_KEY_ALIASES: dict[str, dict[str, str]] = {
    "macd": {
        **dict.fromkeys(("fast", "fastperiod", "fastlength", "short"), "fast"),
        **dict.fromkeys(("slow", "slowperiod", "slowlength", "long"), "slow"),
        **dict.fromkeys(("signal", "signalperiod", "signallength"), "signal"),
    },
    "bbands": {
        **dict.fromkeys(_PERIOD_ALIASES, "period"),
        **dict.fromkeys(
            (
                "stddev",
                "std",
                "nbdev",
                "deviation",
                "deviations",
                "dev",
                "multiplier",
                "mult",
            ),
            "nbdev",
        ),
    },
    "stoch": {
        **dict.fromkeys((*_PERIOD_ALIASES, "k", "kperiod", "fastk", "fastkperiod"), "k"),
        **dict.fromkeys(
            ("smoothk", "slowk", "slowkperiod", "ksmoothing", "slowing", "smooth"), "smoothk"
        ),
        **dict.fromkeys(("d", "dperiod", "slowd", "slowdperiod", "smoothd"), "d"),
    },
}
for _kind in ("sma", "ema", "rsi", "atr", "adx", "cci"):
    _KEY_ALIASES[_kind] = dict.fromkeys(_PERIOD_ALIASES, "period")
_SOURCE_KEYS = ("source", "price", "appliedprice", "input")

_NAME_RE = re.compile(r"^([a-z_]*[a-z])(?:[_\- ]?(\d+(?:\.\d*)?))?$")

ALLOWED_NAMES = (
    "price, close, open, high, low, volume, spread, sma_<n>, ema_<n>, rsi[_<n>], macd, "
    "macd_signal, macd_histogram, macd_hist, bb, bb_upper, bb_middle, bb_lower, "
    "bollinger_upper, bollinger_middle, bollinger_lower, stoch, stoch_k, stoch_d, atr[_<n>], "
    "adx[_<n>], plus_di[_<n>], minus_di[_<n>], cci[_<n>], vwap"
)


def parse_series(
    name: str, params: Mapping[str, Any] | None = None, *, json_path: str = ""
) -> SeriesKey:
    """The :class:`SeriesKey` named by ``name`` (e.g. ``"ema_9"``, ``"macd_signal"``).

    Args:
        name: a series name from the table above, any case.
        params: optional parameters (see the module docstring for the accepted keys); a
            period given both in the name and here must agree.
        json_path: where the name sits in the strategy document, for error messages.

    Returns:
        A canonical key with ``timeframe`` None (equal spellings give equal keys).

    Raises:
        StrategyError: unknown name (``allowed`` lists the valid names), unknown parameter,
            or a parameter out of range (the message says the allowed range).
    """
    if not isinstance(name, str):
        raise StrategyError(json_path, name, f"a series name: {ALLOWED_NAMES}")
    raw = name.strip().lower()
    match = _NAME_RE.match(raw)
    if match is None:
        raise StrategyError(json_path, name, ALLOWED_NAMES)
    base, suffix = match.group(1), match.group(2)
    if base not in _NAMES:
        raise StrategyError(json_path, name, ALLOWED_NAMES)
    kind, output = _NAMES[base]
    values = _collect(kind, base, suffix, params, name, json_path)
    return SeriesKey(kind, values, output)


def _collect(
    kind: str,
    base: str,
    suffix: str | None,
    params: Mapping[str, Any] | None,
    name: str,
    json_path: str,
) -> tuple[float, ...]:
    """The canonical parameter tuple of ``kind`` from the name suffix and ``params``."""
    if kind in PRICE_KINDS or kind == "vwap":
        if suffix is not None:
            raise StrategyError(json_path, name, f"{base} takes no period; {ALLOWED_NAMES}")
        _reject_params(kind, params, json_path)
        return ()
    names, defaults, minimums = _PARAMS[kind]
    given: dict[str, Any] = {}
    if suffix is not None:
        if kind == "macd":
            raise StrategyError(
                json_path, name, "macd periods as params {fast, slow, signal}; " + ALLOWED_NAMES
            )
        given[names[0]] = suffix
    aliases = _KEY_ALIASES[kind]
    for key, value in (params or {}).items():
        canon = re.sub(r"[\s_\-]", "", str(key).lower())
        if value is None:
            continue
        if canon in _SOURCE_KEYS:
            if not (isinstance(value, str) and value.strip().lower() in ("close", "price")):
                raise StrategyError(json_path, f"{key}={value!r}", f"{kind} is computed on close")
            continue
        if canon not in aliases:
            allowed = ", ".join(sorted(set(aliases)))
            raise StrategyError(json_path, f"{key}={value!r}", f"{kind} parameters: {allowed}")
        target = aliases[canon]
        if target in given and _number(given[target]) != _number(value):
            raise StrategyError(
                json_path,
                f"{target}={given[target]!r} and {key}={value!r}",
                f"one value for the {kind} {target}",
            )
        given[target] = value
    result: list[float] = []
    for pname, default, minimum in zip(names, defaults, minimums, strict=True):
        value = given.get(pname, default)
        if pname == "nbdev":
            result.append(_deviation(value, json_path))
        else:
            result.append(_period(kind, pname, value, minimum, json_path))
    if kind == "macd" and result[0] >= result[1]:
        raise StrategyError(
            json_path, f"fast={result[0]:g}, slow={result[1]:g}", "macd fast < slow"
        )
    return tuple(result)


def _reject_params(kind: str, params: Mapping[str, Any] | None, json_path: str) -> None:
    for key, value in (params or {}).items():
        if value is not None:
            raise StrategyError(json_path, f"{key}={value!r}", f"{kind} takes no parameters")


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a number or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _period(kind: str, pname: str, value: Any, minimum: int, json_path: str) -> int:
    number = _number(value)
    allowed = f"{kind} {pname}: an integer from {minimum} to {MAX_PERIOD}"
    if minimum >= 2:
        allowed += " (TA-Lib requires at least 2)"
    if number is None or not math.isfinite(number) or number != int(number):
        raise StrategyError(json_path, f"{pname}={value!r}", allowed)
    period = int(number)
    if not minimum <= period <= MAX_PERIOD:
        raise StrategyError(json_path, f"{pname}={value!r}", allowed)
    return period


def _deviation(value: Any, json_path: str) -> float:
    number = _number(value)
    if number is None or not math.isfinite(number) or number < 0:
        raise StrategyError(
            json_path, f"stddev={value!r}", "bbands deviation multiplier: a finite number >= 0"
        )
    return number


def lookback(key: SeriesKey) -> int:
    """Number of leading NaN bars of ``key``'s series: TA-Lib's lookback (unstable period 0).

    Raises:
        ValueError: ``key`` is not a series this package computes.
    """
    kind, params, output = key.kind, key.params, key.output
    if kind in PRICE_KINDS or kind == "vwap":
        return 0
    ints = tuple(int(p) for p in params)
    if kind in ("sma", "ema", "cci") and len(ints) == 1:
        return ints[0] - 1
    if kind in ("rsi", "atr") and len(ints) == 1:
        return ints[0]
    if kind == "adx" and len(ints) == 1:
        return 2 * ints[0] - 1 if output == "adx" else ints[0]
    if kind == "macd" and len(ints) == 3:
        return (ints[1] - 1) + (ints[2] - 1)
    if kind == "bbands" and len(ints) == 2:
        return ints[0] - 1
    if kind == "stoch" and len(ints) == 3:
        return (ints[0] - 1) + (ints[1] - 1) + (ints[2] - 1)
    raise ValueError(f"series {key}: found kind {kind!r} with params {params!r}; not computable")
