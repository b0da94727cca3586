"""The error the report raises on purpose."""

from __future__ import annotations

from trademaestro.core.errors import TradeMaestroError


class ReportError(TradeMaestroError):
    """Report inputs that cannot be used: naming the argument, what was found, what is allowed."""
