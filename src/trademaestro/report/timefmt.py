"""Broker server time as report text."""

from __future__ import annotations

from datetime import UTC, datetime


def server_iso(seconds: int) -> str:
    """Server time ``seconds`` (s since 1970-01-01, server clock) as ``YYYY-MM-DDTHH:MM:SS``.

    No offset is written: the value is the broker's wall clock, whatever its zone. E.g.
    ``server_iso(1710916200) == '2024-03-20T06:30:00'``.
    """
    return datetime.fromtimestamp(int(seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
