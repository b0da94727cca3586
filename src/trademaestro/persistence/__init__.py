"""Persistence: the SQLite run store (WAL) and its models.

Public API: :class:`Store`, :class:`StoreError`, :class:`EquityCurve`.
"""

from trademaestro.persistence.errors import StoreError
from trademaestro.persistence.loaders import EquityCurve
from trademaestro.persistence.store import Store

__all__ = ["EquityCurve", "Store", "StoreError"]
