"""Shared machinery of the strategy models: the base model, typed numbers, errors with JSON paths.

Every model of the document derives from :class:`StrategyModel`:

- unknown keys are kept (``extra="allow"``) so that the loader can report them as warnings with
  their JSON paths (:func:`unknown_keys`) instead of failing: the platform may add fields;
- a key given under two accepted spellings at once (``condition`` and ``operator``) is an error;
- the keys actually present are remembered, so that paths name the spelling the user wrote.

Validators raise :func:`fail`, a pydantic error carrying ``found``, ``allowed`` and an optional
sub-path ``at``; :func:`to_strategy_error` turns the first error of a ``ValidationError`` into a
:class:`~trademaestro.core.errors.StrategyError` whose ``json_path`` reads like
``rules.entry.conditions[1].condition``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, NoReturn

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from trademaestro.core.errors import StrategyError


class _Missing:
    """The ``found`` value of an error about a key that is absent."""

    def __repr__(self) -> str:
        return "nothing"


MISSING: Any = _Missing()


def fail(found: Any, allowed: str, at: str = "") -> NoReturn:
    """Raise a validation error inside a validator.

    Args:
        found: the offending value (``MISSING`` for an absent key).
        allowed: what would have been accepted, in words.
        at: path below the model being validated (``"value"``, ``"levels[2].percentage"``), or
            empty for the model itself.
    """
    raise PydanticCustomError(
        "strategy", "{allowed}", {"found": found, "allowed": allowed, "at": at}
    )


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        fail(value, "a number (not true/false)")
    return value


Number = Annotated[float, BeforeValidator(_not_bool)]
Positive = Annotated[float, BeforeValidator(_not_bool), Field(gt=0)]
NonNegative = Annotated[float, BeforeValidator(_not_bool), Field(ge=0)]
Percent = Annotated[float, BeforeValidator(_not_bool), Field(gt=0, le=100)]
Period = Annotated[int, BeforeValidator(_not_bool), Field(ge=1)]
Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=0)]


def alias(*names: str) -> Any:
    """A field read from the first of ``names`` present (several present at once is an error)."""
    return AliasChoices(*names) if len(names) > 1 else names[0]


class StrategyModel(BaseModel):
    """Base of every strategy-document model (frozen; unknown keys kept for warnings).

    Subclasses may name JSON keys in ``one_or_many`` (one object there means a list of one) and
    in ``list_as_group`` (a list there means the group ``{"conditions": [...]}``).
    """

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    one_or_many: ClassVar[tuple[str, ...]] = ()
    list_as_group: ClassVar[tuple[str, ...]] = ()

    _keys: tuple[str, ...] = PrivateAttr(default=())
    _reshaped: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_keys(cls, data: Any, handler: Any) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            fail(data, "a JSON object")
        for name, info in cls.model_fields.items():
            spellings = _spellings(name, info.validation_alias)
            present = [s for s in spellings if s in data]
            if len(present) > 1:
                fail(
                    {k: data[k] for k in present},
                    f"one of {' / '.join(present)}, not several",
                    present[1],
                )
        data, reshaped = cls._reshape(data)
        try:
            instance = handler(data)
        except ValidationError as exc:
            if not reshaped:
                raise
            err = exc.errors(include_url=False)[0]
            loc = list(err["loc"])
            if len(loc) > 1 and loc[0] in reshaped:
                del loc[1]
            rel, found, allowed = describe(err, loc)
            fail(found, allowed, rel)
        instance._keys = tuple(str(k) for k in data)
        instance._reshaped = reshaped
        return instance

    @classmethod
    def _reshape(cls, data: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, str]]:
        reshaped: dict[str, str] = {}
        changed = dict(data)
        for key in cls.one_or_many:
            if isinstance(data.get(key), Mapping):
                changed[key] = [data[key]]
                reshaped[key] = "one"
        for key in cls.list_as_group:
            if isinstance(data.get(key), list):
                changed[key] = {"conditions": data[key]}
                reshaped[key] = "group"
        return (changed if reshaped else data), reshaped

    def key_of(self, field: str) -> str:
        """The JSON key the user wrote for ``field`` (its first spelling when absent)."""
        info = type(self).model_fields[field]
        spellings = _spellings(field, info.validation_alias)
        for s in spellings:
            if s in self._keys:
                return s
        return spellings[0]

    def has(self, field: str) -> bool:
        """True when the document gave ``field`` under any spelling."""
        info = type(self).model_fields[field]
        return any(s in self._keys for s in _spellings(field, info.validation_alias))

    def reshaped(self, key: str) -> str:
        """``"one"``, ``"group"`` or ``""``: how the JSON value under ``key`` was reshaped."""
        return self._reshaped.get(key, "")


def _spellings(name: str, validation_alias: Any) -> list[str]:
    if isinstance(validation_alias, AliasChoices):
        return [str(c) for c in validation_alias.choices]
    if isinstance(validation_alias, str):
        return [validation_alias]
    return [name]


def join(path: str, key: str | int) -> str:
    """Append a key (``.key``) or an index (``[i]``) to a JSON path."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not key:
        return path
    if key.startswith("["):
        return f"{path}{key}"
    return f"{path}.{key}" if path else key


def unknown_keys(model: BaseModel, path: str) -> Iterator[str]:
    """JSON paths of every key of ``model`` and its sub-models that no field reads."""
    for key in model.model_extra or {}:
        yield join(path, key)
    for name in type(model).model_fields:
        value = getattr(model, name)
        if not isinstance(model, StrategyModel):
            yield from _unknown_in(value, join(path, name))
            continue
        key = model.key_of(name)
        how = model.reshaped(key)
        if how == "one" and isinstance(value, list) and len(value) == 1:
            yield from _unknown_in(value[0], join(path, key))
        elif how == "group" and isinstance(value, BaseModel):
            for group_key in value.model_extra or {}:
                yield join(join(path, key), group_key)
            yield from _unknown_in(getattr(value, "conditions", None), join(path, key))
        else:
            yield from _unknown_in(value, join(path, key))


def _unknown_in(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, BaseModel):
        yield from unknown_keys(value, path)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for i, item in enumerate(value):
            yield from _unknown_in(item, join(path, i))


_ALLOWED_BY_TYPE = {
    "missing": "a value (this key is required)",
    "greater_than": "a number > {gt}",
    "greater_than_equal": "a number >= {ge}",
    "less_than": "a number < {lt}",
    "less_than_equal": "a number <= {le}",
    "finite_number": "a finite number",
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a JSON array",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "too_short": "at least {min_length} item(s)",
}


def render_loc(prefix: str, loc: Sequence[str | int]) -> str:
    """Render a pydantic ``loc`` as a JSON path below ``prefix``."""
    path = prefix
    for part in loc:
        path = join(path, part)
    return path


def describe(err: Mapping[str, Any], loc: Sequence[str | int]) -> tuple[str, Any, str]:
    """(path relative to the validated object, found, allowed) of one pydantic error dict."""
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    path = render_loc("", loc)
    if err["type"] == "strategy":
        return join(path, str(ctx.get("at", ""))), ctx.get("found"), str(ctx.get("allowed"))
    found = MISSING if err["type"] == "missing" else err.get("input")
    template = _ALLOWED_BY_TYPE.get(err["type"])
    allowed = str(err["msg"]).removeprefix("Input should be ").removeprefix("Value error, ")
    if template is not None:
        with contextlib.suppress(KeyError, IndexError):
            allowed = template.format(**ctx)
    return path, found, allowed


def to_strategy_error(
    exc: ValidationError, *, prefix: str = "", source: str | None = None
) -> StrategyError:
    """The first error of ``exc`` as a StrategyError (path below ``prefix``, found, allowed)."""
    err = exc.errors(include_url=False)[0]
    rel, found, allowed = describe(err, err["loc"])
    return StrategyError(join(prefix, rel) or "(document)", found, allowed, source=source)
