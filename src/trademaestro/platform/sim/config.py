"""Settings of the local platform simulator: executors and their credentials, the Pusher app,
the heartbeat interval, the supervisor policy and the strategies to offer for auto-restart.

All are plain frozen dataclasses, validated on construction (:class:`ConfigError` naming the
field, what was found and what is allowed).
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from trademaestro.core.errors import ConfigError

SupervisorMode = Literal["off", "observe", "enforce"]
SupervisorBehaviour = Literal["allow", "deny", "require_confirmation", "slow", "error"]
SupervisorAction = Literal["allow", "deny", "require_confirmation"]

SUPERVISOR_MODES: tuple[str, ...] = ("off", "observe", "enforce")
SUPERVISOR_BEHAVIOURS: tuple[str, ...] = ("allow", "deny", "require_confirmation", "slow", "error")
SUPERVISOR_ACTIONS: tuple[str, ...] = ("allow", "deny", "require_confirmation")
ERROR_STATUSES: tuple[int, ...] = (429, 500, 502, 503, 504)


def _require(ok: bool, where: str, found: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{where}: found {found!r}; allowed: {allowed}")


@dataclass(frozen=True)
class ExecutorCredentials:
    """One executor known to the platform.

    Attributes:
        executor_id: the id used in ``/api/executor/{id}/...`` and ``private-executor-{id}``.
        api_key: the ``X-API-Key`` header value (an identifier; may be shown).
        api_secret: the ``X-API-Secret`` header value (never logged, never shown).
    """

    executor_id: str
    api_key: str
    api_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("executor_id", "api_key", "api_secret"):
            value = getattr(self, name)
            _require(isinstance(value, str) and value.strip() != "", f"executor.{name}",
                     "<empty>" if name == "api_secret" else value, "a non-empty string")

    @staticmethod
    def generate(executor_id: str = "exec-1") -> ExecutorCredentials:
        """Fresh random credentials (``tm_``-prefixed key, 32-byte url-safe secret)."""
        return ExecutorCredentials(
            executor_id, "tm_" + secrets.token_hex(8), secrets.token_urlsafe(32)
        )


@dataclass(frozen=True)
class PusherApp:
    """The Pusher Channels app the simulator impersonates.

    ``app_id``/``key``/``secret`` are what ``pusher.Pusher(app_id=..., key=..., secret=...)``
    takes; ``cluster`` is only echoed in the config endpoint.
    """

    app_id: str = "1"
    key: str = "app-key"
    secret: str = field(default="app-secret", repr=False)
    cluster: str = "mt1"

    def __post_init__(self) -> None:
        for name in ("app_id", "key", "secret", "cluster"):
            value = getattr(self, name)
            _require(isinstance(value, str) and value.strip() != "", f"pusher.{name}",
                     "<empty>" if name == "secret" else value, "a non-empty string")


@dataclass(frozen=True)
class SupervisorPolicy:
    """How ``POST /api/executor/{id}/supervisor/evaluate`` answers.

    Attributes:
        behaviour: ``allow`` / ``deny`` / ``require_confirmation`` answer 200 with that action;
            ``slow`` waits longer than the caller's ``timeoutMs`` (``slow_seconds``, default
            ``timeoutMs/1000 + 1`` s) and then answers ``slow_action``; ``error`` answers
            ``error_status`` (500, 502, 503, 504, or 429 with ``Retry-After: retry_after_s``).
        mode: the ``mode`` echoed in the answer and in ``/api/executor/config``.
        policy_version: echoed as ``policyVersion``.
        ttl_ms: echoed as ``ttlMs`` (how long the executor may cache the decision), ms.
        timeout_ms: the budget announced in ``/api/executor/config`` (ms, 3000-6000 per the seed).
        conservative_policy: announced in the config; what the executor does in ``enforce``
            mode when the supervisor times out or fails.
        reason, risks, suggestions, score: the rest of the answer body (score in [0, 1]).
    """

    behaviour: SupervisorBehaviour = "allow"
    mode: SupervisorMode = "observe"
    policy_version: str = "v1"
    ttl_ms: int = 60_000
    timeout_ms: int = 4_000
    conservative_policy: Literal["require_confirmation", "deny"] = "require_confirmation"
    reason: str = "simulated decision"
    risks: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()
    score: float = 0.7
    slow_seconds: float | None = None
    slow_action: SupervisorAction = "allow"
    error_status: int = 500
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        _require(self.behaviour in SUPERVISOR_BEHAVIOURS, "supervisor.behaviour", self.behaviour,
                 ", ".join(SUPERVISOR_BEHAVIOURS))
        _require(self.mode in SUPERVISOR_MODES, "supervisor.mode", self.mode,
                 ", ".join(SUPERVISOR_MODES))
        _require(self.slow_action in SUPERVISOR_ACTIONS, "supervisor.slowAction",
                 self.slow_action, ", ".join(SUPERVISOR_ACTIONS))
        _require(self.conservative_policy in ("require_confirmation", "deny"),
                 "supervisor.conservativePolicy", self.conservative_policy,
                 "require_confirmation, deny")
        _require(self.error_status in ERROR_STATUSES, "supervisor.errorStatus",
                 self.error_status, ", ".join(map(str, ERROR_STATUSES)))
        _require(self.ttl_ms >= 0, "supervisor.ttlMs", self.ttl_ms, "an integer >= 0 (ms)")
        _require(self.timeout_ms > 0, "supervisor.timeoutMs", self.timeout_ms,
                 "an integer > 0 (ms)")
        _require(0.0 <= self.score <= 1.0, "supervisor.score", self.score, "a number in [0, 1]")
        _require(self.slow_seconds is None or self.slow_seconds >= 0, "supervisor.slowSeconds",
                 self.slow_seconds, "null or a number >= 0 (seconds)")
        _require(self.retry_after_s >= 0, "supervisor.retryAfter", self.retry_after_s,
                 "an integer >= 0 (seconds)")

    def to_json(self) -> dict[str, Any]:
        """The policy in the camelCase spelling of ``POST /sim/supervisor``."""
        return {
            "behaviour": self.behaviour, "mode": self.mode, "policyVersion": self.policy_version,
            "ttlMs": self.ttl_ms, "timeoutMs": self.timeout_ms,
            "conservativePolicy": self.conservative_policy, "reason": self.reason,
            "risks": list(self.risks), "suggestions": list(self.suggestions),
            "score": self.score, "slowSeconds": self.slow_seconds,
            "slowAction": self.slow_action, "errorStatus": self.error_status,
            "retryAfter": self.retry_after_s,
        }

    @staticmethod
    def from_json(data: Any, base: SupervisorPolicy | None = None) -> SupervisorPolicy:
        """Parse the camelCase spelling (missing keys keep ``base``'s values).

        Raises:
            ConfigError: not an object, an unknown key, or a value out of range.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"supervisor policy: found {type(data).__name__}; allowed: object")
        names = {
            "behaviour": "behaviour", "behavior": "behaviour", "mode": "mode",
            "policyVersion": "policy_version", "ttlMs": "ttl_ms", "timeoutMs": "timeout_ms",
            "conservativePolicy": "conservative_policy", "reason": "reason", "risks": "risks",
            "suggestions": "suggestions", "score": "score", "slowSeconds": "slow_seconds",
            "slowAction": "slow_action", "errorStatus": "error_status",
            "retryAfter": "retry_after_s",
        }
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                raise ConfigError(
                    f"supervisor policy.{key}: unknown key; allowed: {', '.join(names)}"
                )
            if key in ("risks", "suggestions"):
                _require(isinstance(value, list) and all(isinstance(v, str) for v in value),
                         f"supervisor policy.{key}", value, "a list of strings")
                kwargs[names[key]] = tuple(value)
            else:
                kwargs[names[key]] = value
        try:
            return dataclasses.replace(base or SupervisorPolicy(), **kwargs)
        except TypeError as exc:  # comparison of a wrongly typed value
            raise ConfigError(f"supervisor policy: {exc}") from exc


@dataclass(frozen=True)
class ActiveStrategy:
    """One entry of ``GET /api/executor/{id}/active-strategies``.

    ``document`` is the strategy JSON (the web platform format, ``strategyId`` at top level).
    """

    strategy_id: str
    document: dict[str, Any]
    should_auto_restart: bool = True

    def to_json(self) -> dict[str, Any]:
        """The wire shape: ``{"strategyId", "shouldAutoRestart", "parameters"}``."""
        return {
            "strategyId": self.strategy_id,
            "shouldAutoRestart": self.should_auto_restart,
            "parameters": self.document,
        }


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator serves.

    Attributes:
        executors: the known executors (at least one); ids and api keys unique.
        pusher: the Pusher app (key/secret used for channel auth and the events API).
        heartbeat_interval_seconds: announced in ``/api/executor/config``.
        auto_restart_strategies: announced as ``autoRestartStrategies``.
        supervisor: the initial supervisor policy (changeable at run time).
        active_strategies: executor id -> strategies served by ``/active-strategies``.
        activity_timeout: seconds of client silence after which the server sends
            ``pusher:ping`` (announced in ``pusher:connection_established``).
        pong_timeout: seconds to wait for the ``pusher:pong`` before closing with 4201.
        pusher_host, pusher_port: override what ``/api/executor/config`` announces
            (default: the host and port the request reached, i.e. this server).
        track_active_strategies: an ``executed`` START/UPDATE_STRATEGY adds its document to the
            executor's active strategies (``shouldAutoRestart`` true); an ``executed``
            STOP_STRATEGY removes it — as the platform does.
        state_file: when set, a JSON snapshot of the state is written there after each change.
    """

    executors: tuple[ExecutorCredentials, ...] = field(
        default_factory=lambda: (ExecutorCredentials.generate(),)
    )
    pusher: PusherApp = field(default_factory=PusherApp)
    heartbeat_interval_seconds: float = 30.0
    auto_restart_strategies: bool = False
    supervisor: SupervisorPolicy = field(default_factory=SupervisorPolicy)
    active_strategies: dict[str, tuple[ActiveStrategy, ...]] = field(default_factory=dict)
    activity_timeout: int = 120
    pong_timeout: float = 30.0
    pusher_host: str | None = None
    pusher_port: int | None = None
    track_active_strategies: bool = True
    state_file: str | None = None

    def __post_init__(self) -> None:
        _require(len(self.executors) > 0, "executors", [], "at least one executor")
        ids = [e.executor_id for e in self.executors]
        keys = [e.api_key for e in self.executors]
        _require(len(set(ids)) == len(ids), "executors[].executor_id", ids, "unique ids")
        _require(len(set(keys)) == len(keys), "executors[].api_key", keys, "unique keys")
        _require(self.heartbeat_interval_seconds > 0, "heartbeat_interval_seconds",
                 self.heartbeat_interval_seconds, "a number > 0 (seconds)")
        _require(self.activity_timeout > 0, "activity_timeout", self.activity_timeout,
                 "an integer > 0 (seconds)")
        _require(self.pong_timeout > 0, "pong_timeout", self.pong_timeout, "> 0 (seconds)")
        for executor_id in self.active_strategies:
            _require(executor_id in ids, "active_strategies", executor_id,
                     f"a known executor id ({', '.join(ids)})")
