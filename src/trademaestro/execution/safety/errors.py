"""Errors raised on purpose by the safety layer.

::

    BrokerError                      (core.errors)
    └── CircuitOpenError             a new entry refused while the connection breaker is open
    TradeMaestroError
    └── JournalError                 (persistence.journal) a refused journal write or transition
"""

from __future__ import annotations

from trademaestro.core.errors import BrokerError


class CircuitOpenError(BrokerError):
    """A new entry was refused, before anything was journalled or sent, because the connection
    circuit breaker is not CLOSED (state named in the message)."""
