"""SafeBroker on real XAUUSD M15 bars in the emulator, with injected faults: exact attempt
counts, backoff delays (recorded, never slept), re-pricing, reconnects."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from trademaestro.brokers.emulator import EmulatorConfig
from trademaestro.brokers.emulator.faults import Disconnect, IpcTimeout, LostReply, Requote, Retcode
from trademaestro.core.errors import BrokerError, ConfigError
from trademaestro.data.loaders import LoadedBars
from trademaestro.execution.safety import Credentials, RetryPolicy

from .conftest import BAR, MAGIC, SYMBOL, Env, ask_of, bid_of, make_env


def test_safe_success_is_one_attempt(env: Env) -> None:
    outcome = env.safe.open_market(env.open_intent())
    assert outcome.ok and outcome.retcode == 10009
    assert outcome.extra == {"disposition": "success", "attempts": 1, "price": 2206.89}
    assert outcome.price == 2206.89  # bar 100: open 2206.84 + 5 points spread
    assert env.sleeps == []
    assert len(env.broker_positions()) == 1


@pytest.mark.parametrize("code", [10021, 10024, 10020])
def test_safe_transient_retcode_retried_with_backoff(env: Env, code: int) -> None:
    env.plan.add("order_send", Retcode(code), times=2)
    outcome = env.safe.open_market(env.open_intent())
    assert outcome.ok and outcome.extra["attempts"] == 3
    assert env.sleeps == [0.5, 1.0]  # 0.5 x 2^(n-1), jitter 0
    assert env.plan.calls("order_send") == 3
    assert len(env.broker_positions()) == 1


def test_safe_transient_forever_stops_after_max_attempts(env: Env) -> None:
    env.plan.add("order_send", Retcode(10024), times=None)
    outcome = env.safe.open_market(env.open_intent())
    assert not outcome.ok and outcome.retcode == 10024
    assert outcome.extra["disposition"] == "transient" and outcome.extra["attempts"] == 4
    assert env.sleeps == [0.5, 1.0, 2.0]
    assert env.plan.calls("order_send") == 4
    assert env.broker_positions() == []


@pytest.mark.parametrize("code", [10016, 10018, 10006, 10019, 10027])
def test_safe_permanent_retcode_never_retried(env: Env, code: int) -> None:
    if code in (10016, 10018, 10006):
        env.plan.add("order_send", Retcode(code))
        outcome = env.safe.open_market(env.open_intent())
    elif code == 10019:  # real refusal: 1000 lots of gold on 10,000 USD
        outcome = env.safe.open_market(env.open_intent(volume=100.0))
    else:
        env.emu._config.terminal_trade_allowed = False
        outcome = env.safe.open_market(env.open_intent())
    assert outcome.retcode == code and not outcome.ok
    assert outcome.extra["disposition"] == "permanent" and outcome.extra["attempts"] == 1
    assert env.sleeps == []
    assert env.broker_positions() == []


def test_safe_requote_reprices_at_the_new_ask(env: Env) -> None:
    """The quote moves during the backoff (the next bar opens): the resent price is the new
    ask, and SL/TP keep their distances."""
    intent = env.open_intent(sl_points=500, tp_points=1000)
    env.plan.add("order_send", Requote(points=30))
    env.on_sleep.append(lambda _s: env.advance())
    outcome = env.safe.open_market(intent)
    new_ask = ask_of(env.bars, BAR + 1)
    assert new_ask == 2206.30  # bar 101 open 2206.25 + 5 points (from the file)
    assert outcome.ok and outcome.extra["attempts"] == 2
    assert outcome.request["price"] == new_ask and outcome.price == new_ask
    assert outcome.request["sl"] == round(new_ask - 5.0, 2)
    assert outcome.request["tp"] == round(new_ask + 10.0, 2)
    (pos,) = env.broker_positions()
    assert pos.price_open == new_ask and pos.sl == round(new_ask - 5.0, 2)
    assert env.plan.fired == [("order_send", "requote")]


def test_safe_requote_sell_reprices_at_the_new_bid(env: Env) -> None:
    env.plan.add("order_send", Requote(points=-25))
    env.on_sleep.append(lambda _s: env.advance())
    outcome = env.safe.open_market(env.open_intent(side="sell"))
    assert outcome.request["price"] == bid_of(env.bars, BAR + 1) == 2206.25
    assert outcome.ok


def test_safe_reprice_limit_gives_up(xau: LoadedBars, tmp_path: Path) -> None:
    env = make_env(xau, tmp_path, policy=RetryPolicy(jitter=0.0, max_reprice_points=50))
    env.plan.add("order_send", Requote(points=30))
    env.on_sleep.append(lambda _s: env.advance())  # ask 2206.89 -> 2206.30: 59 points
    outcome = env.safe.open_market(env.open_intent())
    assert not outcome.ok and outcome.extra["disposition"] == "permanent"
    assert env.plan.calls("order_send") == 1 and env.broker_positions() == []


def test_safe_no_reprice_keeps_the_price(xau: LoadedBars, tmp_path: Path) -> None:
    env = make_env(xau, tmp_path, policy=RetryPolicy(jitter=0.0, reprice=False))
    env.plan.add("order_send", Retcode(10021))
    outcome = env.safe.open_market(env.open_intent(price=2206.5))
    assert outcome.request["price"] == 2206.5 and outcome.extra["attempts"] == 2


def test_safe_connection_retcode_reconnects_then_retries(env: Env) -> None:
    env.plan.add("order_send", Retcode(10031))
    inits = env.plan.calls("initialize")
    outcome = env.safe.open_market(env.open_intent())
    assert outcome.ok and outcome.extra["attempts"] == 2
    assert env.plan.calls("initialize") == inits + 1 and env.safe.reconnects == 1
    assert env.sleeps == [0.5]


def test_safe_disconnect_on_order_send_reconnects(env: Env) -> None:
    env.plan.add("order_send", Disconnect())
    outcome = env.safe.open_market(env.open_intent())
    assert outcome.ok and outcome.extra["attempts"] == 2
    assert env.safe.reconnects == 1 and env.plan.calls("order_send") == 2
    assert len(env.broker_positions()) == 1


def test_safe_disconnect_on_read_reconnects(env: Env) -> None:
    env.plan.add("symbol_info_tick", Disconnect())
    quote = env.safe.quote(SYMBOL)
    assert (quote.bid, quote.ask) == (2206.84, 2206.89)
    assert env.safe.reconnects == 1 and env.sleeps == [0.5]


def test_safe_read_ipc_timeout_retried_then_raised(env: Env) -> None:
    env.plan.add("account_info", IpcTimeout(), times=None)
    with pytest.raises(BrokerError) as info:
        env.safe.account()
    assert info.value.code == -10005
    assert env.plan.calls("account_info") == 3  # the 3rd failure opens the breaker: stop
    assert env.safe.breaker.state.value == "open"


def test_safe_permanent_read_raises_at_once(env: Env) -> None:
    with pytest.raises(BrokerError) as info:
        env.safe.raw("positions_get", "XAUUSD")  # positional: (-2, 'Unnamed arguments ...')
    assert info.value.code == -2 and env.sleeps == []


def test_safe_unknown_outcome_never_retried(env: Env) -> None:
    env.plan.add("order_send", LostReply())
    outcome = env.safe.open_market(env.open_intent())
    assert outcome.retcode is None and outcome.error == (-10002, "IPC recv failed")
    assert outcome.extra["disposition"] == "unknown_outcome" and outcome.extra["attempts"] == 1
    assert env.plan.calls("order_send") == 1
    assert len(env.broker_positions()) == 1  # executed: the reply was lost
    env.plan.add("order_send", IpcTimeout())
    outcome = env.safe.open_market(env.open_intent("t1.s9x.o1"))
    assert outcome.extra["disposition"] == "unknown_outcome" and outcome.extra["attempts"] == 1
    assert len(env.broker_positions()) == 1  # nothing ran


def test_safe_reconnect_logs_in_with_credentials(xau: LoadedBars, tmp_path: Path) -> None:
    config = EmulatorConfig(login=777, password="pw", server="Demo")
    env = make_env(xau, tmp_path, config=config,
                   credentials=Credentials(777, password="pw", server="Demo"))
    env.plan.add("symbol_info_tick", Disconnect())
    env.safe.quote(SYMBOL)
    assert env.plan.calls("login") == 1 and env.safe.reconnects == 1


def test_safe_reconnect_with_wrong_password_is_permanent(xau: LoadedBars,
                                                         tmp_path: Path) -> None:
    config = EmulatorConfig(login=777, password="pw", server="Demo")
    env = make_env(xau, tmp_path, config=config, credentials=Credentials(777, password="bad"))
    env.plan.add("symbol_info_tick", Disconnect())
    with pytest.raises(BrokerError):
        env.safe.quote(SYMBOL)
    assert env.plan.calls("login") == 1  # -6 Authorization failed: not retried
    assert env.plan.calls("symbol_info_tick") == 1
    assert env.safe.reconnect() is False and env.plan.calls("login") == 2


def test_safe_reconnect_method(env: Env) -> None:
    env.plan.add("initialize", IpcTimeout(), times=2)
    before = env.plan.calls("initialize")
    assert env.safe.reconnect() is True
    assert env.plan.calls("initialize") == before + 3 and env.sleeps == [0.5, 1.0]


def test_safe_jittered_backoff_is_seeded() -> None:
    policy = RetryPolicy(initial_delay=0.5, multiplier=2.0, max_delay=1.5, jitter=0.25)
    rng = random.Random(7)  # first draws 0.32383276483316237, 0.15084917392450192, 0.6509...
    delays = [policy.delay(n, rng) for n in (1, 2, 3)]
    assert delays == pytest.approx([0.5 * (1 + 0.25 * 0.32383276483316237),
                                    1.0 * (1 + 0.25 * 0.15084917392450192),
                                    1.5 * (1 + 0.25 * 0.6509344730398537)], abs=1e-12)


def test_safe_policy_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match=r"RetryPolicy\.max_attempts: found 0"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ConfigError, match=r"RetryPolicy\.jitter"):
        RetryPolicy(jitter=2.0)


def test_safe_every_attempt_is_logged(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.plan.add("order_send", Retcode(10024))
    with caplog.at_level(logging.INFO, logger="trademaestro.safety.calls"):
        env.safe.open_market(env.open_intent())
    lines = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].startswith("open_market attempt 1/4 client_id=t1.s9x.o0 strategy=gold-ema "
                               f"symbol={SYMBOL} magic={MAGIC} -> transient 10024")
    assert "attempt 2/4" in lines[1] and "-> success 10009" in lines[1]
