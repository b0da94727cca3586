"""``when`` predicates of fault rules that have a plain-data form (:class:`RequestMatch`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trademaestro.core.errors import ConfigError

from .args import ArgError, PendingOverflow
from .request import parse_request

MATCH_FIELDS: dict[str, type] = {
    "action": int, "magic": int, "order": int, "symbol": str, "deviation": int, "type": int,
    "type_filling": int, "type_time": int, "expiration": int, "comment": str,
    "position": int, "position_by": int,
}
"""Request fields a :class:`RequestMatch` may test (the float fields are excluded: prices and
volumes are not compared for equality)."""


@dataclass(frozen=True, slots=True)
class RequestMatch:
    """A ``when`` predicate for ``order_send`` / ``order_check``: True when the call's request,
    parsed as the package parses it (omitted fields are 0 / ''), has every value of
    ``fields``; False for a request that does not parse."""

    fields: tuple[tuple[str, Any], ...]

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Whether the request matches."""
        try:
            req = parse_request(args, kwargs)
        except (ArgError, PendingOverflow):
            return False
        return all(getattr(req, key) == value for key, value in self.fields)

    @classmethod
    def from_dict(cls, fields: Any, where: str) -> RequestMatch:
        """Build from ``{"field": value, ...}``.

        Raises:
            ConfigError: not a dict, an unknown or float field, or a value of the wrong type
                (the message names ``where``).
        """
        if not isinstance(fields, dict) or not fields:
            raise ConfigError(f"{where}: found {fields!r}; allowed: a non-empty object of "
                              f"request fields {sorted(MATCH_FIELDS)}")
        for key, value in fields.items():
            kind = MATCH_FIELDS.get(key)
            if kind is None:
                raise ConfigError(f"{where}.{key}: unknown request field; allowed: "
                                  f"{sorted(MATCH_FIELDS)}")
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: found {value!r}; allowed: "
                                  f"{'an integer' if kind is int else 'a string'}")
        return cls(tuple(fields.items()))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict."""
        return dict(self.fields)
