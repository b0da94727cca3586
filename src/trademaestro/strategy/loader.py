"""Load a strategy document from a file, JSON text or a mapping, and validate it once.

Accepted documents: the strategy object itself (STRATEGY_FORMAT.md "Top level"), or the
platform's command wrapper ``{"parameters": {...}}`` (other keys of the wrapper, such as the
command type and id, are the command's business and are not reported).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trademaestro.core.errors import ConfigError, StrategyError
from trademaestro.strategy._base import to_strategy_error, unknown_keys
from trademaestro.strategy.model import StrategySpec
from trademaestro.strategy.support import unsupported_paths

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedStrategy:
    """A validated strategy and what the loader noticed about it.

    Attributes:
        spec: the validated document.
        warnings: one message per unknown key ignored, each starting with its JSON path.
        unsupported: JSON paths of keys that are parsed but not executed in this release
            (see :mod:`trademaestro.strategy.support`).
        source: the file it came from, or None.
    """

    spec: StrategySpec
    warnings: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    source: str | None = None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(text: str, source: str | None) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise StrategyError(
            f"line {exc.lineno}, column {exc.colno}", exc.msg, "valid JSON", source=source
        ) from None
    except ValueError as exc:
        raise StrategyError("(document)", str(exc), "valid JSON (numbers are finite)",
                            source=source) from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"strategy file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"strategy path is a directory, not a JSON file: {path}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"strategy file is not UTF-8 text: {path} ({exc.reason} at byte "
                          f"{exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read strategy file {path}: {exc.strerror}") from None


def load_strategy(source: str | Path | Mapping[str, Any]) -> LoadedStrategy:
    """Load and validate a strategy.

    Args:
        source: a mapping (the parsed document); a ``Path``; or a ``str`` that is JSON text when
            it starts with ``{`` (after white space) and a file path otherwise.

    Returns:
        The validated spec, the warnings (unknown keys, also logged) and the unsupported paths.

    Raises:
        StrategyError: invalid JSON (path ``line L, column C``) or an invalid document (the
            JSON path, what was found and what is allowed).
        ConfigError: the file cannot be read (not found, a directory, not UTF-8).
    """
    origin: str | None = None
    if isinstance(source, Mapping):
        document: Any = source
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        document = _parse_json(source, None)
    else:
        path = Path(source)
        origin = str(path)
        document = _parse_json(_read(path), origin)
    if not isinstance(document, Mapping):
        raise StrategyError("(document)", type(document).__name__, "a JSON object",
                            source=origin)
    prefix = ""
    params = document.get("parameters")
    if "rules" not in document and isinstance(params, Mapping):
        document, prefix = params, "parameters"
    try:
        spec = StrategySpec.model_validate(document)
    except ValidationError as exc:
        raise to_strategy_error(exc, prefix=prefix, source=origin) from None
    warnings = [f"{p}: unknown key, ignored" for p in unknown_keys(spec, prefix)]
    for message in warnings:
        log.warning("%s%s", f"{origin}: " if origin else "", message)
    unsupported = [f"{prefix}.{p}" if prefix else p for p in unsupported_paths(spec)]
    return LoadedStrategy(spec, warnings, unsupported, origin)
