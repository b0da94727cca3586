"""Errors of the executor's conversation with the web platform.

::

    TradeMaestroError
    └── PlatformError                 the platform could not be used for a request
        ├── PlatformAuthError         401/403: the API key/secret are wrong or not bound to this
        │                             executor. Fatal: never retried; the user must fix them.
        ├── PlatformUnavailable       network down, timeout, 5xx or 429 after the retries
        │                             (``retry_after_s`` when the platform said how long to wait)
        ├── PlatformRejected          any other 4xx (e.g. 404 unknown command id): the request
        │                             itself is wrong; retrying it unchanged cannot help
        ├── PlatformProtocolError     a reply that is not JSON or not of the agreed shape
        │                             (``json_path``, ``found``, ``allowed``)
        └── RealtimeRefused           the Pusher server refused the connection with an error
                                      code in 4000-4099 (do not reconnect)

Every message names the endpoint (``"GET /api/executor/config"``) and never contains the API
secret.
"""

from __future__ import annotations

from typing import Any

from trademaestro.core.errors import TradeMaestroError

_FOUND_MAX = 120


class PlatformError(TradeMaestroError):
    """A request to the web platform failed.

    Attributes:
        endpoint: ``"METHOD /path"`` of the request, or None when not tied to one.
        status: the HTTP status code received, or None (network error, timeout, bad reply).
    """

    def __init__(
        self, message: str, *, endpoint: str | None = None, status: int | None = None
    ) -> None:
        self.endpoint = endpoint
        self.status = status
        super().__init__(f"{endpoint}: {message}" if endpoint else message)


class PlatformAuthError(PlatformError):
    """401/403 from the platform: the credentials are wrong (401) or bound to another executor
    (403). Never retried: the executor must stop using the platform and tell the user."""


class PlatformUnavailable(PlatformError):
    """The platform could not be reached or kept failing (network error, timeout, 5xx, 429)
    after every allowed attempt.

    Attributes:
        attempts: how many attempts were made.
        retry_after_s: seconds the platform asked to wait (``Retry-After``), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        attempts: int = 1,
        retry_after_s: float | None = None,
    ) -> None:
        self.attempts = attempts
        self.retry_after_s = retry_after_s
        super().__init__(message, endpoint=endpoint, status=status)


class PlatformRejected(PlatformError):
    """A 4xx answer other than 401/403/429 (e.g. 404 for an unknown command id, 400 for a body
    the platform does not accept). Not retried."""


class PlatformProtocolError(PlatformError):
    """A platform reply that is not JSON, or not of the shape the contract defines.

    Attributes:
        json_path: where in the reply (``"$"`` for the whole reply, ``"pusher.port"``,
            ``"pendingCommands[2]"``).
        found: the offending value (shortened representation).
        allowed: what the contract allows there.
    """

    def __init__(
        self, json_path: str, found: Any, allowed: str, *, endpoint: str | None = None
    ) -> None:
        self.json_path = json_path
        self.found = found
        self.allowed = allowed
        shown = repr(found)
        if len(shown) > _FOUND_MAX:
            shown = shown[: _FOUND_MAX - 3] + "..."
        super().__init__(f"reply {json_path}: found {shown}; allowed: {allowed}", endpoint=endpoint)


class RealtimeRefused(PlatformError):
    """The Pusher server closed or refused the connection with a code in 4000-4099: the
    protocol says not to reconnect (e.g. 4001 application does not exist, 4003 application
    disabled, 4009 unauthorized connection).

    Attributes:
        code: the Pusher error / WebSocket close code.
        reason: the server's text.
    """

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"Pusher refused the connection: code {code} ({reason or 'no reason'})")
