"""Argument checks of the run store: each names the argument, what was found and what is allowed.

numpy integers are accepted where an int is expected (and converted), as SQLite's driver cannot
bind them; booleans are refused where numbers are expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from trademaestro.persistence.errors import StoreError

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_BOOL_TYPES: frozenset[type] = frozenset({bool, np.bool_})

# TradeDeal fields (MT5_API.md §3.7) and the column type each one is stored as.
DEAL_INT_FIELDS = ("ticket", "order", "time", "type", "entry", "magic", "position_id", "reason")
DEAL_FLOAT_FIELDS = ("volume", "price", "commission", "swap", "profit")


def one_of(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """``value`` when it is one of ``allowed``; else ``StoreError``."""
    if not isinstance(value, str) or value not in allowed:
        raise StoreError(f"{name}: found {value!r}; allowed: {', '.join(allowed)}")
    return value


def integer(name: str, value: object) -> int:
    """``value`` as int (Python or numpy integer, not bool, in SQLite's signed 64-bit range);
    else ``StoreError``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise StoreError(f"{name}: found {value!r}; allowed: an integer")
    result = int(value)
    if not _INT64_MIN <= result <= _INT64_MAX:
        raise StoreError(f"{name}: found {result}; allowed: a signed 64-bit integer")
    return result


def optional_integer(name: str, value: object) -> int | None:
    """None, or ``value`` as int (see :func:`integer`)."""
    return None if value is None else integer(name, value)


def number(name: str, value: object) -> float:
    """``value`` as a finite float (int, float or numpy number, not bool); else ``StoreError``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise StoreError(f"{name}: found {value!r}; allowed: a finite number")
    result = float(value)
    if not math.isfinite(result):
        raise StoreError(f"{name}: found {result!r}; allowed: a finite number")
    return result


def text(name: str, value: object) -> str:
    """``value`` when it is a str; else ``StoreError``."""
    if not isinstance(value, str):
        raise StoreError(f"{name}: found {value!r}; allowed: a string")
    return value


def deal_row(run_id: int, index: int, deal: object) -> dict[str, Any]:
    """One deal (a mapping, or a ``TradeDeal`` named tuple) as a ``deals`` row of ``run_id``.

    ``time_msc`` defaults to ``time * 1000``; ``fee`` to 0.0, ``comment``/``external_id`` to "".

    Raises:
        StoreError: ``deals[index]`` is not a mapping, lacks a field or has a wrong-typed one.
    """
    if hasattr(deal, "_asdict"):
        deal = deal._asdict()
    where = f"deals[{index}]"
    if not isinstance(deal, Mapping):
        raise StoreError(
            f"{where}: found {type(deal).__name__}; allowed: a mapping of TradeDeal fields"
        )
    row: dict[str, Any] = {"run_id": run_id}
    for field in (*DEAL_INT_FIELDS, *DEAL_FLOAT_FIELDS, "symbol"):
        if field not in deal:
            raise StoreError(f"{where}: field {field!r} is missing (TradeDeal, MT5_API.md §3.7)")
    for field in DEAL_INT_FIELDS:
        row[field] = integer(f"{where}.{field}", deal[field])
    for field in DEAL_FLOAT_FIELDS:
        row[field] = number(f"{where}.{field}", deal[field])
    row["symbol"] = text(f"{where}.symbol", deal["symbol"])
    time_msc = deal.get("time_msc")
    row["time_msc"] = (
        row["time"] * 1000 if time_msc is None else integer(f"{where}.time_msc", time_msc)
    )
    fee = deal.get("fee")
    row["fee"] = 0.0 if fee is None else number(f"{where}.fee", fee)
    for field in ("comment", "external_id"):
        value = deal.get(field)
        row[field] = "" if value is None else text(f"{where}.{field}", value)
    return row


def _equity_point(index: int, point: object) -> tuple[int, float, float]:
    try:
        values: tuple[object, ...] = tuple(point)  # type: ignore[arg-type]
        if len(values) != 3:
            raise ValueError
    except (TypeError, ValueError):
        raise StoreError(
            f"points[{index}]: found {point!r}; allowed: a (time, balance, equity) triple"
        ) from None
    return (
        integer(f"points[{index}].time", values[0]),
        number(f"points[{index}].balance", values[1]),
        number(f"points[{index}].equity", values[2]),
    )


def _fast_column(values: tuple[Any, ...], kinds: str, dtype: type[np.generic]) -> list[Any] | None:
    """``values`` as a list of Python scalars of ``dtype`` when numpy reads them as one of
    ``kinds`` (``'i'``, ``'u'``, ``'f'``), all finite and none a bool; else None."""
    if not _BOOL_TYPES.isdisjoint(set(map(type, values))):
        return None
    column = np.asarray(values)
    if column.ndim != 1 or column.dtype.kind not in kinds:
        return None
    if column.dtype.kind == "f" and not bool(np.all(np.isfinite(column))):
        return None
    result: list[Any] = column.astype(dtype).tolist()
    return result


def equity_columns(points: Sequence[Any]) -> tuple[list[int], list[float], list[float]]:
    """``points`` ((time, balance, equity) triples) as three checked columns of Python scalars:
    integer times, finite float balances and equities.

    Fast path: each column is checked whole with numpy. When one fails, every point is checked in
    turn so that the error names the first bad one.

    Raises:
        StoreError: ``points[i]`` is not a triple, its time is not an integer, or its balance or
            equity is not a finite number.
    """
    try:
        columns = list(zip(*points, strict=True))
    except (TypeError, ValueError):
        columns = []
    if len(columns) == 3:
        times = _fast_column(columns[0], "iu", np.int64)
        balances = _fast_column(columns[1], "iuf", np.float64)
        equities = _fast_column(columns[2], "iuf", np.float64)
        if times is not None and balances is not None and equities is not None:
            return times, balances, equities
    checked = [_equity_point(i, point) for i, point in enumerate(points)]
    return [p[0] for p in checked], [p[1] for p in checked], [p[2] for p in checked]
