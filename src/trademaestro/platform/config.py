"""The executor's configuration as the platform serves it (``GET /api/executor/config``).

Reply shape (keys in the platform's camelCase; unknown keys are ignored)::

    {"executorId": "exec-1",
     "pusher": {"key": "app-key", "cluster": "mt1", "host": "127.0.0.1", "port": 8765,
                "useTLS": false},
     "heartbeatIntervalSeconds": 30,
     "supervisor": {"mode": "off"|"observe"|"enforce", "policyVersion": "v1",
                    "timeoutMs": 4000, "conservativePolicy": "require_confirmation"|"deny"},
     "autoRestartStrategies": false}

:func:`parse_config` turns it into an :class:`ExecutorConfig` or raises
:class:`~trademaestro.platform.errors.PlatformProtocolError` naming the JSON path.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trademaestro.platform.errors import PlatformProtocolError

CONFIG_ENDPOINT = "GET /api/executor/config"
PUSHER_PROTOCOL = 7
CLIENT_NAME = "trademaestro"
CLIENT_VERSION = "1.0"
# Pusher channel names: letters, digits and _-=@,.; (Pusher Channels protocol).
_ID_PATTERN = r"^[A-Za-z0-9_\-=@,.;]{1,160}$"

_MODEL_CONFIG = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class PusherSettings(BaseModel):
    """Where the Pusher Channels WebSocket is.

    ``host`` absent means the real Pusher service of ``cluster``. ``useTLS`` absent means TLS
    (Pusher's default); ``port`` absent means 443 with TLS, 80 without.
    """

    model_config = _MODEL_CONFIG

    key: str = Field(min_length=1, max_length=200)
    cluster: str = Field(default="mt1", pattern=r"^[A-Za-z0-9-]{1,64}$")
    host: str | None = Field(default=None, min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    use_tls: bool | None = Field(default=None, alias="useTLS")

    def ws_url(self) -> str:
        """The WebSocket URL (Pusher Channels protocol 7).

        ``ws[s]://{host}:{port}/app/{key}?protocol=7&client=trademaestro&version=1.0``, or
        ``wss://ws-{cluster}.pusher.com:443/app/{key}?...`` when ``host`` is absent.
        """
        query = f"protocol={PUSHER_PROTOCOL}&client={CLIENT_NAME}&version={CLIENT_VERSION}"
        key = quote(self.key, safe="")
        if self.host is None:
            return f"wss://ws-{self.cluster}.pusher.com:443/app/{key}?{query}"
        tls = True if self.use_tls is None else self.use_tls
        port = self.port if self.port is not None else (443 if tls else 80)
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{'wss' if tls else 'ws'}://{host}:{port}/app/{key}?{query}"


class SupervisorSettings(BaseModel):
    """The LLM supervisor settings the platform sets for this executor.

    ``mode``: ``off`` (never asked), ``observe`` (asked, decisions logged, trades allowed),
    ``enforce`` (decisions applied). ``timeout_ms``: the time budget of one evaluation in
    milliseconds. ``conservative_policy``: what ``enforce`` does when the platform cannot answer.
    Mode and policy are accepted in any case.
    """

    model_config = _MODEL_CONFIG

    mode: Literal["off", "observe", "enforce"] = "off"
    policy_version: str = Field(default="v1", alias="policyVersion", min_length=1, max_length=64)
    timeout_ms: int = Field(default=4000, alias="timeoutMs", ge=100, le=60_000)
    conservative_policy: Literal["require_confirmation", "deny"] = Field(
        default="require_confirmation", alias="conservativePolicy"
    )

    @field_validator("mode", "conservative_policy", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class ExecutorConfig(BaseModel):
    """The whole config reply.

    ``executor_id`` is restricted to Pusher channel-name characters (it becomes part of the
    channel ``private-executor-{id}`` and of URL paths). ``heartbeat_interval_s`` in seconds.
    """

    model_config = _MODEL_CONFIG

    executor_id: str = Field(alias="executorId", pattern=_ID_PATTERN)
    pusher: PusherSettings
    heartbeat_interval_s: float = Field(
        default=30.0, alias="heartbeatIntervalSeconds", gt=0, le=3600
    )
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)
    auto_restart_strategies: bool = Field(default=False, alias="autoRestartStrategies")

    @field_validator("executor_id", mode="before")
    @classmethod
    def _int_id(cls, value: Any) -> Any:
        # A numeric id (e.g. a database key) is accepted and used as its decimal text.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @property
    def channel(self) -> str:
        """The executor's private Pusher channel, ``private-executor-{executorId}``."""
        return f"private-executor-{self.executor_id}"


def _json_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "$"


def _raise_first(error: ValidationError, endpoint: str) -> PlatformProtocolError:
    first = error.errors(include_url=False)[0]
    return PlatformProtocolError(
        _json_path(tuple(first["loc"])), first.get("input"), first["msg"], endpoint=endpoint
    )


def parse_config(payload: object, *, endpoint: str = CONFIG_ENDPOINT) -> ExecutorConfig:
    """Validate a decoded config reply.

    Raises:
        PlatformProtocolError: the reply is not an object or a field is missing or invalid;
            ``json_path`` names the field (``"pusher.port"``), ``found`` its value.
    """
    if not isinstance(payload, dict):
        raise PlatformProtocolError("$", payload, "a JSON object", endpoint=endpoint)
    try:
        return ExecutorConfig.model_validate(payload)
    except ValidationError as exc:
        raise _raise_first(exc, endpoint) from None
