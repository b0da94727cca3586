"""The exception hierarchy, drawn once.

::

    TradeMaestroError                 base of everything raised on purpose
    ├── ConfigError                   bad configuration or command-line input
    ├── DataError                     a market-data file that cannot be read as given
    │                                 (carries ``path`` and ``line``; ``line`` is 1-based, None
    │                                 when the problem is the whole file)
    ├── StrategyError                 a strategy that cannot be evaluated correctly
    │                                 (carries ``json_path``, ``found`` and ``allowed``)
    ├── SymbolError                   a symbol with no specification, or an invalid one
    └── BrokerError                   the broker refused or could not answer
        └── OrderRejected             a trade request answered with a failure retcode
                                      (carries ``retcode`` and ``comment``)

Every message names where the problem is, what was found and what is allowed, so that a user can
fix the input without reading code.
"""

from __future__ import annotations

from typing import Any


class TradeMaestroError(Exception):
    """Base class of every error TradeMaestro raises on purpose."""


class ConfigError(TradeMaestroError):
    """Configuration or command-line input that cannot be used."""


class DataError(TradeMaestroError):
    """A market-data file that cannot be loaded.

    Attributes:
        path: the file.
        line: 1-based line number in the file, or None when the problem is the whole file.
        reason: what is wrong, in words.
    """

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")


class StrategyError(TradeMaestroError):
    """A strategy document that cannot be evaluated correctly.

    Attributes:
        json_path: where in the document, e.g. ``rules.entry.conditions[1].condition``.
        found: the offending value (or a description of it).
        allowed: what would have been accepted.
        source: the file or command the strategy came from, when known.
    """

    def __init__(
        self, json_path: str, found: Any, allowed: str, *, source: str | None = None
    ) -> None:
        self.json_path = json_path
        self.found = found
        self.allowed = allowed
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(f"{prefix}{json_path}: found {found!r}; allowed: {allowed}")


class SymbolError(TradeMaestroError):
    """A symbol with no specification, or a specification that is not usable."""


class BrokerError(TradeMaestroError):
    """The broker could not answer, or answered with an error (``last_error`` code and text)."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class OrderRejected(BrokerError):
    """A trade request that the broker answered with a failure retcode.

    Attributes:
        retcode: the ``TRADE_RETCODE_*`` value.
        comment: the broker's comment text.
    """

    def __init__(self, retcode: int, comment: str, *, request: dict[str, Any] | None = None):
        self.retcode = retcode
        self.comment = comment
        self.request = request
        super().__init__(f"order rejected: retcode {retcode} ({comment})", code=retcode)
