"""Safe broker calls, the connection circuit breaker, exactly-once orders and reconciliation.

Public API:

- :mod:`.classify`: :class:`Disposition` and the tables of every retcode / last_error code;
- :class:`SafeBroker` (:mod:`.calls`), :class:`RetryPolicy`, :class:`Credentials`;
- :class:`CircuitBreaker`, :class:`BreakerConfig`, :class:`BreakerState`, :class:`BreakerAlert`;
- :class:`ExactlyOnceExecutor`, :class:`LookupConfig` (:mod:`.exactly_once`);
- :func:`reconcile`, :class:`ReconcileReport`, :class:`Discrepancy`, :class:`LocalPosition`,
  :class:`StoreBook`, :class:`MemoryBook`;
- :class:`CircuitOpenError`.

The journal itself is :class:`trademaestro.persistence.journal.OrderJournal`.
"""

from .books import MemoryBook, StoreBook
from .breaker import BreakerAlert, BreakerConfig, BreakerState, CircuitBreaker
from .calls import Credentials, SafeBroker
from .classify import Disposition, classify_read_error, classify_retcode, classify_send_error
from .errors import CircuitOpenError
from .exactly_once import ExactlyOnceExecutor, LookupConfig
from .policy import RetryPolicy
from .reconcile import Discrepancy, LocalBook, LocalPosition, ReconcileReport, reconcile

__all__ = [
    "BreakerAlert",
    "BreakerConfig",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "Credentials",
    "Discrepancy",
    "Disposition",
    "ExactlyOnceExecutor",
    "LocalBook",
    "LocalPosition",
    "LookupConfig",
    "MemoryBook",
    "ReconcileReport",
    "RetryPolicy",
    "SafeBroker",
    "StoreBook",
    "classify_read_error",
    "classify_retcode",
    "classify_send_error",
    "reconcile",
]
