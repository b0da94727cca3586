"""The circuit breaker: its state machine on an injected clock, and SafeBroker halting entries
when the emulator's connection keeps failing (real XAUUSD M15 bars)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from trademaestro.brokers.emulator.faults import Disconnect, IpcTimeout, Requote
from trademaestro.core.errors import BrokerError, ConfigError
from trademaestro.data.loaders import LoadedBars
from trademaestro.execution.safety import (
    BreakerAlert,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
)

from .conftest import SYMBOL, Env, make_env


def make_breaker(**config: object) -> tuple[CircuitBreaker, list[BreakerAlert], list[float]]:
    alerts: list[BreakerAlert] = []
    now = [100.0]
    cb = CircuitBreaker(BreakerConfig(**config), alert=alerts.append,  # type: ignore[arg-type]
                        clock=lambda: now[0])
    return cb, alerts, now


def test_safe_breaker_transitions() -> None:
    cb, alerts, now = make_breaker(failure_threshold=3, reset_timeout=30.0)
    cb.record_failure("a")
    cb.record_failure("b")
    assert cb.state is BreakerState.CLOSED and cb.entries_allowed() and cb.failures == 2
    cb.record_success()  # consecutive count resets
    for reason in ("c", "d"):
        cb.record_failure(reason)
    assert cb.state is BreakerState.CLOSED
    cb.record_failure("e")
    assert cb.state is BreakerState.OPEN and not cb.entries_allowed()
    assert alerts == [BreakerAlert(failures=3, reason="e", opened_at=100.0,
                                   emergency_exit=False)]
    cb.record_failure("f")
    cb.record_success()  # answers while OPEN do not close it
    now[0] = 129.999
    assert cb.state is BreakerState.OPEN
    now[0] = 130.0
    assert cb.state is BreakerState.HALF_OPEN and not cb.entries_allowed()
    cb.record_success()
    assert cb.state is BreakerState.CLOSED and cb.entries_allowed() and cb.failures == 0
    assert len(alerts) == 1


def test_safe_breaker_half_open_failure_reopens_without_new_alert() -> None:
    cb, alerts, now = make_breaker(failure_threshold=1, reset_timeout=10.0)
    cb.record_failure("x")
    assert cb.state is BreakerState.OPEN and len(alerts) == 1
    now[0] += 10.0
    assert cb.state is BreakerState.HALF_OPEN
    cb.record_failure("y")
    assert cb.state is BreakerState.OPEN and cb.opened_count == 2 and len(alerts) == 1
    now[0] += 9.0
    assert cb.state is BreakerState.OPEN  # the timeout restarts at the re-opening
    now[0] += 1.0
    assert cb.state is BreakerState.HALF_OPEN


def test_safe_breaker_emergency_exit_decision() -> None:
    cb, alerts, _ = make_breaker(failure_threshold=2, emergency_exit=True)
    assert not cb.emergency_exit_requested()
    cb.record_failure("x")
    cb.record_failure("y")
    assert cb.emergency_exit_requested() and alerts[0].emergency_exit is True
    off, _, _ = make_breaker(failure_threshold=1, emergency_exit=False)
    off.record_failure("x")
    assert not off.emergency_exit_requested()


def test_safe_breaker_alert_failure_is_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_alert: BreakerAlert) -> None:
        raise RuntimeError("telegram down")

    cb = CircuitBreaker(BreakerConfig(failure_threshold=1), alert=broken, clock=lambda: 0.0)
    with caplog.at_level(logging.ERROR):
        cb.record_failure("x")
    assert cb.state is BreakerState.OPEN
    assert "alert callback failed" in caplog.text


def test_safe_breaker_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"failure_threshold: found 0"):
        BreakerConfig(failure_threshold=0)
    with pytest.raises(ConfigError, match=r"reset_timeout: found -1"):
        BreakerConfig(reset_timeout=-1)


def test_safe_breaker_opens_on_connection_failures_and_halts_entries(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """Every quote read fails with -10004 (the pipe breaks again right after each reconnect):
    the 3rd connection failure opens the breaker, the call stops retrying, entries are
    refused before anything is sent, the alert fires once."""
    env.plan.add("symbol_info_tick", Disconnect(), times=None)
    with caplog.at_level(logging.CRITICAL), pytest.raises(BrokerError) as info:
        env.safe.quote(SYMBOL)
    assert info.value.code == -10004
    assert env.plan.calls("symbol_info_tick") == 3 and env.sleeps == [0.5, 1.0]
    assert env.safe.breaker.state is BreakerState.OPEN
    assert len(env.alerts) == 1 and env.alerts[0].failures == 3
    assert [r.levelno for r in caplog.records].count(logging.CRITICAL) == 1
    sends = env.plan.calls("order_send")
    with pytest.raises(CircuitOpenError):
        env.safe.open_market(env.open_intent())
    with pytest.raises(CircuitOpenError):
        env.executor.open(env.open_intent())
    assert env.plan.calls("order_send") == sends and env.journal.entries() == []
    assert not env.safe.entries_allowed()
    # while OPEN: one attempt per call, no backoff
    with pytest.raises(BrokerError):
        env.safe.quote(SYMBOL)
    assert env.plan.calls("symbol_info_tick") == 4 and env.sleeps == [0.5, 1.0]
    assert len(env.alerts) == 1
    # the link heals; after the reset timeout one success closes the breaker
    env.plan.clear()
    env.now[0] += 60.0
    assert env.safe.breaker.state is BreakerState.HALF_OPEN
    assert env.safe.quote(SYMBOL).ask == 2206.89
    assert env.safe.breaker.state is BreakerState.CLOSED and env.safe.entries_allowed()
    assert env.safe.open_market(env.open_intent()).ok


def test_safe_breaker_stops_entry_retries_when_it_opens(xau: LoadedBars,
                                                        tmp_path: Path) -> None:
    env = make_env(xau, tmp_path, breaker=BreakerConfig(failure_threshold=2))
    env.plan.add("order_send", Disconnect(), times=None)
    outcome = env.safe.open_market(env.open_intent())
    assert outcome.extra["disposition"] == "connection" and outcome.extra["attempts"] == 2
    assert env.plan.calls("order_send") == 2 and env.broker_positions() == []


def test_safe_transient_answers_do_not_open_the_breaker(env: Env) -> None:
    env.plan.add("order_send", Requote(points=10), times=3)
    assert env.safe.open_market(env.open_intent()).ok
    assert env.safe.breaker.state is BreakerState.CLOSED and env.alerts == []


def test_safe_unknown_outcomes_count_as_failures(env: Env) -> None:
    env.plan.add("order_send", IpcTimeout(), times=None)
    for n in range(3):
        env.safe.open_market(env.open_intent(f"t1.s9x.o{n}"))
    assert env.safe.breaker.state is BreakerState.OPEN and len(env.alerts) == 1
