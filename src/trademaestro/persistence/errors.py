"""The error the run store raises on purpose."""

from __future__ import annotations

from trademaestro.core.errors import TradeMaestroError


class StoreError(TradeMaestroError):
    """A value the run store refuses (naming the argument, what was found and what is allowed),
    or a run that does not exist. Database errors (``sqlalchemy.exc.*``) are raised as they are,
    after the transaction has been rolled back."""
