"""COMMAND OBJECTS of the web platform: parse, validate and type them.

A command arrives from Pusher (event ``command-received``, ``data`` = the JSON text), from the
heartbeat's ``pendingCommands`` (an object), from the CLI or the local API. The platform's
spelling is loose; every variant below is accepted and means the same command.

Top level (a JSON object, or JSON text of one)::

    {"commandId": "cmd-1", "command": "START_STRATEGY", "parameters": {...}, "createdAt": "..."}

- id key: ``commandId`` | ``id`` (the first present wins, in that order); a non-empty string of
  at most 200 characters, or a whole number (kept as its decimal text, e.g. ``42`` -> ``"42"``);
- type key: ``command`` | ``type`` | ``commandType`` (first present wins);
- parameters key: ``parameters`` | ``payload`` | ``params`` (first present wins); missing or
  ``null`` means ``{}``;
- other top-level keys (``createdAt`` ...) are ignored.

Type spelling: any case, words joined by ``_``, ``-``, spaces or camelCase:
``START_STRATEGY``, ``start_strategy``, ``startStrategy``, ``start-strategy`` and
``Start Strategy`` all mean START_STRATEGY. Aliases: ``EMERGENCY_STOP`` and
``CLOSE_ALL_POSITIONS`` (in any of those spellings) mean CLOSE_ALL.

Parameters by type (every key below is exact; an unknown key is an ERROR, so that a misspelt
``sl`` can never open a position without its stop):

- START_STRATEGY, UPDATE_STRATEGY: the strategy document (STRATEGY_FORMAT.md), validated with
  :func:`trademaestro.strategy.loader.load_strategy`; it may also come wrapped as
  ``{"strategy": {...}}``. Unknown keys inside the document are the loader's business (warnings).
- STOP_STRATEGY: ``{"strategyId": str, "closePositions": bool = false}``
- PAUSE_STRATEGY, RESUME_STRATEGY: ``{"strategyId": str}``
- OPEN_POSITION: ``{"symbol": str, "side": "buy"|"sell", "volume": lots > 0, "sl": price|null,
  "tp": price|null, "strategyId": str|null}``; the side may be given under ``side`` | ``type`` |
  ``direction`` (value in any case: ``BUY``, ``Sell``), the volume under ``volume`` | ``lots`` |
  ``lotSize`` (only one spelling at a time).
- CLOSE_POSITION: ``{"ticket": int > 0, "volume": lots > 0 | null}`` (null/absent: the whole
  position; otherwise a partial close).
- MODIFY_POSITION: ``{"ticket": int > 0, "sl": price|null, "tp": price|null}``; null or absent
  means "leave as it is", so at least one of sl/tp must be a price.
- CLOSE_ALL: ``{"symbol": str|null, "strategyId": str|null}`` (filters; none = every position of
  ours).

Numbers: ``true``/``false`` are not numbers; NaN and infinities are refused. Tickets may be JSON
numbers or strings of decimal digits (JavaScript cannot hold every 64-bit integer). Prices are in
price units of the symbol, volumes in lots; rounding to the digits and volume step is the
executor's business at the order boundary.

Errors: :class:`CommandError` names the JSON path under the key the platform actually used
(``parameters.volume``, ``payload.side``, ``command``), what was found and what is allowed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from trademaestro.core.errors import StrategyError, TradeMaestroError
from trademaestro.strategy._base import MISSING, describe, join
from trademaestro.strategy.loader import LoadedStrategy, load_strategy

ID_KEYS = ("commandId", "id")
TYPE_KEYS = ("command", "type", "commandType")
PARAMETER_KEYS = ("parameters", "payload", "params")
MAX_ID_LENGTH = 200
_FOUND_LIMIT = 200


class CommandType(StrEnum):
    """The commands the executor obeys (canonical spelling)."""

    START_STRATEGY = "START_STRATEGY"
    STOP_STRATEGY = "STOP_STRATEGY"
    PAUSE_STRATEGY = "PAUSE_STRATEGY"
    RESUME_STRATEGY = "RESUME_STRATEGY"
    UPDATE_STRATEGY = "UPDATE_STRATEGY"
    OPEN_POSITION = "OPEN_POSITION"
    CLOSE_POSITION = "CLOSE_POSITION"
    MODIFY_POSITION = "MODIFY_POSITION"
    CLOSE_ALL = "CLOSE_ALL"


TYPE_ALIASES: dict[str, CommandType] = {
    "EMERGENCY_STOP": CommandType.CLOSE_ALL,
    "CLOSE_ALL_POSITIONS": CommandType.CLOSE_ALL,
}
_ALLOWED_TYPES = ", ".join([*CommandType, *TYPE_ALIASES]) + " (any case; _ - space or camelCase)"


def _short(value: Any) -> Any:
    """``value`` itself when its repr is short, else a truncated repr (bounded error texts)."""
    text = repr(value)
    if len(text) <= _FOUND_LIMIT:
        return value
    return f"{text[:_FOUND_LIMIT]}... ({len(text)} characters)"


class CommandError(TradeMaestroError):
    """A command that cannot be obeyed as given.

    Attributes:
        command_id: the command's id when it could be read, else None.
        json_path: where in the command object, e.g. ``parameters.volume`` or ``command``;
            ``(document)`` for the whole object.
        found: the offending value (truncated when long) or ``nothing`` for an absent key.
        allowed: what would have been accepted, in words.
    """

    def __init__(self, command_id: str | None, json_path: str, found: Any, allowed: str) -> None:
        self.command_id = command_id
        self.json_path = json_path
        self.found = _short(found)
        self.allowed = allowed
        who = f"command {command_id}: " if command_id is not None else "command: "
        super().__init__(f"{who}{json_path}: found {self.found!r}; allowed: {allowed}")

    def result(self) -> dict[str, Any]:
        """The ``result`` of the ``failed`` report: ``{"error": text, "jsonPath": path}``."""
        return {"error": str(self), "jsonPath": self.json_path}


# -- field types ------------------------------------------------------------------------------
def _fail(found: Any, allowed: str, at: str = "") -> Any:
    raise PydanticCustomError(
        "strategy", "{allowed}", {"found": found, "allowed": allowed, "at": at}
    )


def _text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        _fail(value, f"a non-empty string of at most {MAX_ID_LENGTH} characters")
    return value.strip()


def _positive(value: Any) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        _fail(value, "a finite number > 0")
    return float(value)


def _ticket(value: Any) -> Any:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and not isinstance(value, bool) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        _fail(value, "a whole number > 0 (a JSON number or a string of digits)")
    return value


def _side(value: Any) -> Any:
    if not isinstance(value, str) or value.strip().lower() not in ("buy", "sell"):
        _fail(value, '"buy" or "sell" (any case)')
    return value.strip().lower()


Text = Annotated[str, BeforeValidator(_text)]
Lots = Annotated[float, BeforeValidator(_positive)]
Price = Annotated[float, BeforeValidator(_positive)]
Ticket = Annotated[int, BeforeValidator(_ticket)]
Side = Annotated[Literal["buy", "sell"], BeforeValidator(_side)]


class _Params(BaseModel):
    """Base of the parameter models: frozen, unknown keys refused, one spelling per field."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            _fail(data, "a JSON object")
        for info in cls.model_fields.values():
            choices = info.validation_alias
            if isinstance(choices, AliasChoices):
                present = [str(c) for c in choices.choices if str(c) in data]
                if len(present) > 1:
                    _fail({k: data[k] for k in present},
                          f"one of {' / '.join(present)}, not several", present[1])
        return data


class StrategyRef(_Params):
    """PAUSE_STRATEGY / RESUME_STRATEGY: ``{"strategyId": str}``."""

    strategy_id: Text = Field(validation_alias="strategyId")


class StopStrategy(_Params):
    """STOP_STRATEGY: ``{"strategyId": str, "closePositions": bool = false}``."""

    strategy_id: Text = Field(validation_alias="strategyId")
    close_positions: StrictBool = Field(default=False, validation_alias="closePositions")


class OpenPosition(_Params):
    """OPEN_POSITION: a market order. ``volume`` in lots; ``sl``/``tp`` in price units (None:
    none); ``strategy_id`` the strategy it is booked to (None: a manual position)."""

    symbol: Text
    side: Side = Field(validation_alias=AliasChoices("side", "type", "direction"))
    volume: Lots = Field(validation_alias=AliasChoices("volume", "lots", "lotSize"))
    sl: Price | None = None
    tp: Price | None = None
    strategy_id: Text | None = Field(default=None, validation_alias="strategyId")


class ClosePosition(_Params):
    """CLOSE_POSITION: close position ``ticket``, wholly (``volume`` None) or ``volume`` lots."""

    ticket: Ticket
    volume: Lots | None = None


class ModifyPosition(_Params):
    """MODIFY_POSITION: new ``sl`` and/or ``tp`` (price units) of position ``ticket``; None
    leaves that level as it is."""

    ticket: Ticket
    sl: Price | None = None
    tp: Price | None = None

    @model_validator(mode="after")
    def _something(self) -> ModifyPosition:
        if self.sl is None and self.tp is None:
            _fail({"sl": None, "tp": None}, "at least one of sl / tp as a price > 0")
        return self


class CloseAll(_Params):
    """CLOSE_ALL: close every position of ours, optionally only of ``symbol`` and/or
    ``strategy_id``."""

    symbol: Text | None = None
    strategy_id: Text | None = Field(default=None, validation_alias="strategyId")


@dataclass(frozen=True, slots=True)
class StrategyParams:
    """START_STRATEGY / UPDATE_STRATEGY: the validated strategy.

    Attributes:
        loaded: what :func:`load_strategy` returned (spec, warnings, unsupported paths).
        document: the strategy document as received (unwrapped from ``{"strategy": ...}``).
    """

    loaded: LoadedStrategy
    document: dict[str, Any] = field(repr=False)

    @property
    def strategy_id(self) -> str | None:
        """The document's ``strategyId`` (None when it has none)."""
        return self.loaded.spec.strategyId


Parameters = StrategyParams | StopStrategy | StrategyRef | OpenPosition | ClosePosition | \
    ModifyPosition | CloseAll

_MODELS: dict[CommandType, type[_Params]] = {
    CommandType.STOP_STRATEGY: StopStrategy,
    CommandType.PAUSE_STRATEGY: StrategyRef,
    CommandType.RESUME_STRATEGY: StrategyRef,
    CommandType.OPEN_POSITION: OpenPosition,
    CommandType.CLOSE_POSITION: ClosePosition,
    CommandType.MODIFY_POSITION: ModifyPosition,
    CommandType.CLOSE_ALL: CloseAll,
}


@dataclass(frozen=True, slots=True)
class Command:
    """A valid command.

    Attributes:
        command_id: the platform's id (text).
        type: the canonical type.
        parameters: the typed parameters (:class:`StrategyParams` for START/UPDATE, else the
            pydantic model of the type).
        raw: the command object as received (parsed from JSON text when it came as text).
    """

    command_id: str
    type: CommandType
    parameters: Parameters
    raw: dict[str, Any] = field(repr=False)


# -- parsing ----------------------------------------------------------------------------------
def _first_key(raw: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if k in raw), None)


def as_object(raw: object) -> Any:
    """``raw`` parsed when it is JSON text or UTF-8 bytes of it; otherwise ``raw`` itself.
    Never raises (text that is not JSON stays text)."""
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return raw
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return raw
    return raw


def command_id_of(raw: object) -> str | None:
    """The command id of ``raw`` (an object or its JSON text) when it can be read, else None.

    Read even when the rest of the command is invalid, so that a bad command can be reported
    ``failed`` under its id. Never raises.
    """
    try:
        obj = as_object(raw)
        if not isinstance(obj, Mapping):
            return None
        key = _first_key(obj, ID_KEYS)
        return None if key is None else _id_text(obj[key])
    except Exception:  # documented: never raises
        return None


def command_type_of(raw: object) -> CommandType | None:
    """The command type of ``raw`` (an object or its JSON text) when it can be read, else None;
    the rest of the command is not validated. Never raises."""
    obj = as_object(raw)
    if not isinstance(obj, Mapping):
        return None
    key = _first_key(obj, TYPE_KEYS)
    value = None if key is None else obj[key]
    return normalize_type(value) if isinstance(value, str) else None


def _id_text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value.strip()) <= MAX_ID_LENGTH:
        return value.strip()
    return None


def normalize_type(text: str) -> CommandType | None:
    """The command type a spelling means (module docstring), or None when it is none of them."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text.strip())
    canonical = re.sub(r"[\s_\-]+", "_", words).strip("_").upper()
    if canonical in TYPE_ALIASES:
        return TYPE_ALIASES[canonical]
    try:
        return CommandType(canonical)
    except ValueError:
        return None


def parse_command(raw: object) -> Command:
    """Parse and validate one command object (or its JSON text / UTF-8 bytes).

    Returns:
        The typed :class:`Command`.

    Raises:
        CommandError: anything invalid, with the command id when readable, the JSON path, what
            was found and what is allowed. Nothing else is raised.
    """
    obj = as_object(raw)
    if not isinstance(obj, Mapping):
        raise CommandError(None, "(document)", obj, "a JSON object (the command object)")
    document = dict(obj)
    id_key = _first_key(document, ID_KEYS)
    if id_key is None:
        raise CommandError(None, "commandId", MISSING, "a command id under commandId or id")
    command_id = _id_text(document[id_key])
    if command_id is None:
        raise CommandError(None, id_key, document[id_key],
                           f"a non-empty string of at most {MAX_ID_LENGTH} characters or a "
                           "whole number")
    ctype = _parse_type(command_id, document)
    params_key = _first_key(document, PARAMETER_KEYS) or "parameters"
    params = document.get(params_key)
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise CommandError(command_id, params_key, params, "a JSON object")
    typed = _parse_parameters(command_id, ctype, params, params_key)
    return Command(command_id, ctype, typed, document)


def _parse_type(command_id: str, document: Mapping[str, Any]) -> CommandType:
    type_key = _first_key(document, TYPE_KEYS)
    if type_key is None:
        raise CommandError(command_id, "command", MISSING,
                           f"a command type under command, type or commandType: {_ALLOWED_TYPES}")
    value = document[type_key]
    ctype = normalize_type(value) if isinstance(value, str) else None
    if ctype is None:
        raise CommandError(command_id, type_key, value, _ALLOWED_TYPES)
    return ctype


def _parse_parameters(
    command_id: str, ctype: CommandType, params: Mapping[str, Any], key: str
) -> Parameters:
    if ctype in (CommandType.START_STRATEGY, CommandType.UPDATE_STRATEGY):
        return _parse_strategy(command_id, params, key)
    model = _MODELS[ctype]
    try:
        return model.model_validate(dict(params))  # type: ignore[return-value]
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [p for p in err["loc"] if p not in ("function-before", "function-after")]
        rel, found, allowed = describe(err, loc)
        if err["type"] == "extra_forbidden":
            allowed = f"only the keys {', '.join(_keys_of(model))} ({ctype.value})"
        raise CommandError(command_id, join(key, rel), found, allowed) from None


def _keys_of(model: type[_Params]) -> list[str]:
    keys: list[str] = []
    for name, info in model.model_fields.items():
        choices = info.validation_alias
        if isinstance(choices, AliasChoices):
            keys.extend(str(c) for c in choices.choices)
        else:
            keys.append(str(choices) if isinstance(choices, str) else name)
    return keys


def _parse_strategy(command_id: str, params: Mapping[str, Any], key: str) -> StrategyParams:
    document: Any = params
    prefix = key
    wrapped = params.get("strategy")
    if "rules" not in params and wrapped is not None:
        document, prefix = wrapped, f"{key}.strategy"
        if not isinstance(document, Mapping):
            raise CommandError(command_id, prefix, document, "a strategy document (JSON object)")
    try:
        loaded = load_strategy(document)
    except StrategyError as exc:
        path = prefix if exc.json_path == "(document)" else join(prefix, exc.json_path)
        raise CommandError(command_id, path, exc.found, exc.allowed) from None
    except Exception as exc:  # a loader defect must not escape as a crash
        raise CommandError(command_id, prefix, f"{type(exc).__name__}: {exc}",
                           "a valid strategy document") from None
    return StrategyParams(loaded, dict(document))
