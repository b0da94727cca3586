"""The config reply parser: exact values, defaults, Pusher URLs, and (hypothesis) every bad
field named by its JSON path, never an unhandled exception."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.platform.config import ExecutorConfig, PusherSettings, parse_config
from trademaestro.platform.errors import PlatformProtocolError

BASE: dict[str, Any] = {
    "executorId": "exec-1",
    "pusher": {
        "key": "app-key",
        "cluster": "mt1",
        "host": "127.0.0.1",
        "port": 8765,
        "useTLS": False,
    },
    "heartbeatIntervalSeconds": 30,
    "supervisor": {
        "mode": "enforce",
        "policyVersion": "v2",
        "timeoutMs": 4000,
        "conservativePolicy": "deny",
    },
    "autoRestartStrategies": True,
}


def test_full_reply() -> None:
    config = parse_config(BASE)
    assert config.executor_id == "exec-1"
    assert config.channel == "private-executor-exec-1"
    assert config.heartbeat_interval_s == 30.0
    assert config.auto_restart_strategies is True
    assert config.supervisor.mode == "enforce"
    assert config.supervisor.policy_version == "v2"
    assert config.supervisor.timeout_ms == 4000
    assert config.supervisor.conservative_policy == "deny"
    assert config.pusher.ws_url() == (
        "ws://127.0.0.1:8765/app/app-key?protocol=7&client=trademaestro&version=1.0"
    )


def test_minimal_reply_defaults_and_extras_ignored() -> None:
    config = parse_config({"executorId": 42, "pusher": {"key": "k"}, "newField": {"x": 1}})
    assert config.executor_id == "42"
    assert config.heartbeat_interval_s == 30.0
    assert config.supervisor.mode == "off"
    assert config.supervisor.conservative_policy == "require_confirmation"
    assert config.auto_restart_strategies is False
    assert config.pusher.ws_url() == (
        "wss://ws-mt1.pusher.com:443/app/k?protocol=7&client=trademaestro&version=1.0"
    )


@pytest.mark.parametrize(
    ("pusher", "url"),
    [
        ({"key": "k", "cluster": "eu"}, "wss://ws-eu.pusher.com:443/app/k"),
        ({"key": "k", "host": "push.example.com"}, "wss://push.example.com:443/app/k"),
        ({"key": "k", "host": "h", "useTLS": False}, "ws://h:80/app/k"),
        ({"key": "k", "host": "h", "useTLS": True, "port": 6001}, "wss://h:6001/app/k"),
        ({"key": "a b/c", "host": "::1", "port": 1, "useTLS": False}, "ws://[::1]:1/app/a%20b%2Fc"),
    ],
)
def test_ws_url(pusher: dict[str, Any], url: str) -> None:
    assert PusherSettings.model_validate(pusher).ws_url() == (
        url + "?protocol=7&client=trademaestro&version=1.0"
    )


def test_mode_any_case() -> None:
    config = parse_config(
        {**BASE, "supervisor": {"mode": " Observe ", "conservativePolicy": "DENY"}}
    )
    assert config.supervisor.mode == "observe"
    assert config.supervisor.conservative_policy == "deny"


# (JSON path, bad value) pairs: each must be reported at exactly that path.
BAD_FIELDS: list[tuple[tuple[str, ...], Any]] = [
    (("executorId",), ""),
    (("executorId",), "exec/1"),
    (("executorId",), None),
    (("pusher",), "app-key"),
    (("pusher", "key"), ""),
    (("pusher", "key"), 12),
    (("pusher", "port"), 0),
    (("pusher", "port"), 70000),
    (("pusher", "port"), "http"),
    (("pusher", "useTLS"), "maybe"),
    (("pusher", "cluster"), "mt1/../x"),
    (("heartbeatIntervalSeconds",), 0),
    (("heartbeatIntervalSeconds",), -5),
    (("heartbeatIntervalSeconds",), "often"),
    (("supervisor", "mode"), "strict"),
    (("supervisor", "timeoutMs"), 10),
    (("supervisor", "conservativePolicy"), "allow"),
    (("supervisor", "policyVersion"), ""),
    (("autoRestartStrategies",), "perhaps"),
]


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(("path", "value"), BAD_FIELDS)
def test_bad_field_named_by_path(path: tuple[str, ...], value: Any) -> None:
    with pytest.raises(PlatformProtocolError) as info:
        parse_config(_with(path, value))
    assert info.value.json_path == ".".join(path)
    assert info.value.found == value
    assert "GET /api/executor/config" in str(info.value)


@pytest.mark.parametrize("missing", [("executorId",), ("pusher",), ("pusher", "key")])
def test_missing_required_field(missing: tuple[str, ...]) -> None:
    doc = copy.deepcopy(BASE)
    target = doc
    for key in missing[:-1]:
        target = target[key]
    del target[missing[-1]]
    with pytest.raises(PlatformProtocolError) as info:
        parse_config(doc)
    assert info.value.json_path == ".".join(missing)


@pytest.mark.parametrize("payload", [None, [], "config", 3])
def test_not_an_object(payload: Any) -> None:
    with pytest.raises(PlatformProtocolError) as info:
        parse_config(payload)
    assert info.value.json_path == "$"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
ids = st.from_regex(r"[A-Za-z0-9_\-=@,.;]{1,20}", fullmatch=True)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    executor_id=ids,
    port=st.integers(1, 65535),
    tls=st.booleans(),
    interval=st.floats(0.001, 3600, allow_nan=False),
    mode=st.sampled_from(["off", "observe", "enforce"]),
    extra=st.dictionaries(
        st.text(min_size=1, max_size=6).filter(lambda k: k not in BASE), json_values, max_size=3
    ),
)
def test_valid_replies_round_trip(
    executor_id: str, port: int, tls: bool, interval: float, mode: str, extra: dict[str, Any]
) -> None:
    doc = {
        **extra,
        "executorId": executor_id,
        "pusher": {"key": "k", "host": "h", "port": port, "useTLS": tls, **extra},
        "heartbeatIntervalSeconds": interval,
        "supervisor": {"mode": mode},
    }
    config = parse_config(doc)
    assert config.executor_id == executor_id
    assert config.heartbeat_interval_s == interval
    assert config.supervisor.mode == mode
    assert config.pusher.ws_url().startswith(f"{'wss' if tls else 'ws'}://h:{port}/app/k?")


@settings(max_examples=150, deadline=None, derandomize=True)
@given(index=st.integers(0, len(BAD_FIELDS) - 1), noise=json_values)
def test_any_field_replaced_by_garbage_is_valid_or_named(index: int, noise: Any) -> None:
    path, _ = BAD_FIELDS[index]
    try:
        config = parse_config(_with(path, noise))
    except PlatformProtocolError as exc:
        assert exc.json_path == ".".join(path) or exc.json_path.startswith(".".join(path) + ".")
    else:
        assert isinstance(config, ExecutorConfig)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(payload=json_values)
def test_arbitrary_json_never_crashes(payload: Any) -> None:
    try:
        parse_config(payload)
    except PlatformProtocolError as exc:
        assert exc.json_path
