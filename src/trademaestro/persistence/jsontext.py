"""Conversion of request/result/options objects to JSON text and back.

MT5 answers are named tuples (``OrderSendResult`` with a nested ``TradeRequest``, MT5_API.md §3.8);
``json.dumps`` would turn them into bare lists and lose the field names, so they are converted to
objects first. numpy scalars become Python numbers. Anything else that JSON cannot hold is an error.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any

import numpy as np

from trademaestro.persistence.errors import StoreError


def to_jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON types (dict, list, str, int, float, bool, None).

    Named tuples (anything with ``_asdict``), dataclass instances and mappings become dicts with
    string keys; tuples, lists and numpy arrays become lists; numpy scalars become Python
    scalars; enum members become their values; paths become strings; dates and datetimes
    become ISO 8601 text (as they are: a naive datetime stays naive).

    Raises:
        StoreError: a value JSON cannot hold, naming its path below ``where``.
    """
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "_asdict"):
        value = value._asdict()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str | int):
                raise StoreError(f"{where}: key {key!r} is not a string; allowed: str keys")
            out[str(key)] = to_jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise StoreError(
        f"{where}: found {type(value).__name__} {value!r}; allowed: JSON values "
        "(dict, list, str, int, float, bool, None), named tuples, dataclasses, enums, "
        "numpy scalars, paths, dates"
    )


def dumps(value: Any, where: str) -> str:
    """JSON text of ``value`` (see :func:`to_jsonable`); raises ``StoreError`` as it does."""
    return json.dumps(to_jsonable(value, where), ensure_ascii=False)


def loads_dict(text: str | None) -> dict[str, Any] | None:
    """The dict stored as ``text`` (None stays None)."""
    if text is None:
        return None
    value = json.loads(text)
    if not isinstance(value, dict):
        raise StoreError(f"stored JSON is a {type(value).__name__}, expected an object: {text!r}")
    return value
