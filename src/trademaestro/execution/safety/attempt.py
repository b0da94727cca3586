"""One attempt of a broker call as the safe broker sees it, and the helpers around it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from trademaestro.brokers.port import OrderOutcome
from trademaestro.execution.intents import Intent, OpenIntent

from .classify import Disposition

TRANSPORT_ERRORS = (ConnectionError, EOFError, TimeoutError, BrokenPipeError)
"""Exceptions a transport (a gateway pipe) raises when it breaks mid-call."""


@dataclass(slots=True)
class Try:
    """One attempt: its class, the value (read result or OrderOutcome) or the error."""

    disposition: Disposition
    value: Any = None
    error: BaseException | None = None
    detail: str = ""


def outcome_unknown(exc: BaseException) -> bool:
    """True for a gateway/transport failure whose call may have run (``outcome_unknown``)."""
    return bool(getattr(exc, "outcome_unknown", False)) or isinstance(exc, TRANSPORT_ERRORS)


def synthetic(intent: Intent, text: str, code: int | None) -> OrderOutcome:
    """An OrderOutcome for a call that produced no trade result (its request: the intent)."""
    request = asdict(intent)
    if isinstance(intent, OpenIntent):
        request["price"] = intent.price
    return OrderOutcome(
        ok=False, retcode=None, comment=text, order=0, deal=0, volume=0.0, price=0.0,
        request=request, error=(int(code) if code is not None else 0, text),
    )
