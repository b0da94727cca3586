"""The two Pusher signatures, as pure functions.

* Private-channel auth (Pusher Channels, "Authorizing users"): ``auth = "{key}:{sig}"`` with
  ``sig = hex HMAC-SHA256(app_secret, f"{socket_id}:{channel_name}")``.
* HTTP API request signature (Pusher REST API, "Authentication"): ``auth_signature = hex
  HMAC-SHA256(app_secret, f"{METHOD}\\n{path}\\n{query}")`` where ``query`` is every query
  parameter except ``auth_signature``, sorted by key, joined as ``k=v&...`` (values not
  URL-encoded, as the official ``pusher`` library builds it); ``body_md5`` is the hex MD5 of the
  raw body. Every comparison uses :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

SOCKET_ID_RE = re.compile(r"\A\d+\.\d+\Z")
MAX_CLOCK_SKEW_S = 600.0  # Pusher rejects auth_timestamp further than 600 s from its clock


def hmac_sha256_hex(secret: str, message: str) -> str:
    """Hex HMAC-SHA256 of ``message`` (UTF-8) under ``secret`` (UTF-8)."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def channel_auth(app_key: str, app_secret: str, socket_id: str, channel: str) -> str:
    """The ``auth`` string of a private-channel subscription: ``"{key}:{hex signature}"``."""
    return f"{app_key}:{hmac_sha256_hex(app_secret, f'{socket_id}:{channel}')}"


def channel_auth_ok(
    app_key: str, app_secret: str, socket_id: str, channel: str, auth: object
) -> bool:
    """Whether ``auth`` is the right private-channel signature for this socket and channel."""
    if not isinstance(auth, str):
        return False
    expected = channel_auth(app_key, app_secret, socket_id, channel)
    return hmac.compare_digest(auth.encode(), expected.encode())


def request_signature(secret: str, method: str, path: str, params: Mapping[str, str]) -> str:
    """Pusher's HTTP API signature of ``method path?params`` (``auth_signature`` excluded)."""
    query = "&".join(
        f"{k}={v}" for k, v in sorted(params.items()) if k != "auth_signature"
    )
    return hmac_sha256_hex(secret, f"{method.upper()}\n{path}\n{query}")


def check_request(
    *,
    app_key: str,
    app_secret: str,
    method: str,
    path: str,
    params: Mapping[str, str],
    body: bytes,
    now: float,
) -> str | None:
    """Check a signed Pusher HTTP API request.

    Args:
        params: the decoded query parameters.
        body: the raw request body.
        now: the current Unix time, seconds.

    Returns:
        None when the request is authentic, else the reason (no secret in it).
    """
    for name in ("auth_key", "auth_timestamp", "auth_version", "auth_signature"):
        if name not in params:
            return f"missing query parameter {name}"
    if not hmac.compare_digest(params["auth_key"].encode(), app_key.encode()):
        return "unknown auth_key"
    if params["auth_version"] != "1.0":
        return f"auth_version {params['auth_version']!r} (allowed: 1.0)"
    try:
        timestamp = float(params["auth_timestamp"])
    except ValueError:
        return f"auth_timestamp {params['auth_timestamp']!r} is not a Unix time"
    if abs(now - timestamp) > MAX_CLOCK_SKEW_S:
        return f"auth_timestamp more than {MAX_CLOCK_SKEW_S:.0f} s away from the server clock"
    if body:
        md5 = params.get("body_md5", "")
        if not hmac.compare_digest(md5.encode(), hashlib.md5(body).hexdigest().encode()):
            return "body_md5 does not match the body"
    expected = request_signature(app_secret, method, path, params)
    if not hmac.compare_digest(params["auth_signature"].encode(), expected.encode()):
        return "invalid auth_signature"
    return None
