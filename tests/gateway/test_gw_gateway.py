"""The MT5 gateway with the emulator in its child, on the real XAUUSD M15 bars: the same surface
and results as the in-process emulator, and hard timeouts, crash handling and restarts."""

from __future__ import annotations

import pickle
import threading
import time

import numpy as np
import pytest

from trademaestro.brokers.emulator import CONSTANT_NAMES, MT5Emulator
from trademaestro.brokers.emulator import results as res
from trademaestro.brokers.emulator.server import BarFeed, EmulatorSpec, build_emulator
from trademaestro.brokers.mt5.gateway import (
    DEFAULT_TIMEOUTS,
    Gateway,
    GatewayClosed,
    GatewayCrashed,
    GatewayTimeout,
    call_type,
)
from trademaestro.brokers.mt5.gateway_child import DEBUG_EXIT_CODE, TerminalFactory
from trademaestro.core.errors import BrokerError, ConfigError, DataError

from .conftest import BAR0_TIME, BAR1_ASK, BAR1_OPEN, BAR1_TIME, buy_request, pid_alive


def test_constants_and_types_equal_the_emulators(make_gateway):
    gw = make_gateway()
    assert len(CONSTANT_NAMES) == 223
    for name in CONSTANT_NAMES:
        assert getattr(gw, name) == getattr(MT5Emulator, name), name
    assert gw.__version__ == MT5Emulator.__version__ == "5.0.6231"
    assert gw.TRADE_RETCODE_DONE == 10009 and gw.TIMEFRAME_H1 == 16385
    assert gw.OrderSendResult is res.OrderSendResult and gw.TradePosition is res.TradePosition
    with pytest.raises(AttributeError):
        gw.market_book_get  # noqa: B018 - the emulator has no depth of market
    with pytest.raises(AttributeError):
        gw.no_such_function  # noqa: B018


def test_market_order_same_as_in_process(make_gateway, xau_spec):
    gw = make_gateway()
    local = build_emulator(xau_spec)
    results = []
    for mt5 in (gw, local):
        assert mt5.initialize() is True
        mt5.replay.open_bar("XAUUSD", 1)
        assert mt5.replay.now == BAR1_TIME
        results.append((mt5.order_send(buy_request()), mt5.positions_get(),
                        mt5.account_info(), mt5.history_deals_get(0, BAR1_TIME + 1)))
    remote, here = results
    sent = remote[0]
    assert type(sent) is res.OrderSendResult and type(sent.request) is res.TradeRequest
    assert sent.retcode == 10009
    assert sent.price == pytest.approx(BAR1_ASK, abs=1e-9)
    assert sent.bid == pytest.approx(BAR1_OPEN, abs=1e-9)
    assert remote == here  # the same deterministic emulator on both sides of the pipe
    assert type(remote[1][0]) is res.TradePosition and remote[1][0].comment == "tm gw-test"
    assert gw.last_error() == (1, "Success")


def test_results_survive_a_pickle_round_trip(make_gateway):
    gw = make_gateway()
    gw.initialize()
    gw.replay.open_bar("XAUUSD", 1)
    gw.order_send(buy_request())
    values = [gw.account_info(), gw.terminal_info(), gw.symbol_info("XAUUSD"),
              gw.symbol_info_tick("XAUUSD"), gw.positions_get(), gw.history_deals_get(0, 2**31 - 1),
              gw.history_orders_get(0, 2**31 - 1), gw.order_check(buy_request()),
              gw.order_send(buy_request(0.2))]
    for value in values:
        back = pickle.loads(pickle.dumps(value))
        assert back == value and type(back) is type(value)
        items = value if type(value) is tuple else (value,)
        for item, item_back in zip(items, back if type(value) is tuple else (back,), strict=True):
            assert type(item_back) is type(item) and type(item).__module__ == res.__name__
    rates = gw.copy_rates_from_pos("XAUUSD", gw.TIMEFRAME_M15, 0, 2)
    assert rates.dtype.names[:5] == ("time", "open", "high", "low", "close")
    assert rates["time"].tolist() == [BAR1_TIME - 900, BAR1_TIME]


def test_errors_of_the_terminal_come_back_as_themselves(make_gateway):
    gw = make_gateway()
    local = MT5Emulator()
    with pytest.raises(TypeError) as remote_exc:
        gw.positions_total(1)
    with pytest.raises(TypeError) as local_exc:
        local.positions_total(1)
    message = "positions_total() takes no arguments (1 given)"
    assert str(remote_exc.value) == str(local_exc.value) == message
    with pytest.raises(TypeError, match="takes no keyword arguments"):
        gw.symbol_select("XAUUSD", enable=True)
    assert gw.symbol_info("XAUUSD") is None  # not initialized yet
    assert gw.last_error() == (-10004, "No IPC connection")
    gw.initialize()
    assert gw.symbol_info("NOPE") is None and gw.last_error() == (-1, "Terminal: Call failed")
    with pytest.raises(AttributeError):
        gw.replay_call("no_such_method")


def test_a_hanging_call_times_out_and_the_child_is_replaced(make_gateway):
    gw = make_gateway(timeouts={"query": 0.5}, debug_hang_on=("symbol_info_tick",))
    assert gw.initialize() is True
    gw.replay.open_bar("XAUUSD", 1)
    assert gw.order_send(buy_request()).retcode == 10009
    old = gw.pid
    with pytest.raises(GatewayTimeout) as caught:
        gw.symbol_info_tick("XAUUSD")
    exc = caught.value
    assert isinstance(exc, BrokerError) and exc.outcome_unknown is True
    assert exc.function == "symbol_info_tick" and exc.code == -10005 and exc.timeout == 0.5
    assert 0.5 <= exc.elapsed < 2.0
    assert not pid_alive(old)
    assert gw.last_error() == (-10005, "IPC timeout")
    health = gw.health()
    assert (health["timeouts"], health["restarts"], health["crashes"]) == (1, 1, 0)
    # The new child is not initialized: the caller initializes again.
    assert gw.positions_total() is None
    assert gw.last_error() == (-10004, "No IPC connection")
    assert gw.pid != old and pid_alive(gw.pid)
    assert gw.initialize() is True
    assert gw.positions_total() == 0  # kind "emulator": the broker state died with the child
    assert gw.health()["state"] == "ready" and gw.health()["failure_run"] == 0


def test_order_send_has_its_own_timeout(make_gateway):
    gw = make_gateway(timeouts={"order": 0.3}, debug_hang_on=("order_send",))
    assert gw.timeouts == {**DEFAULT_TIMEOUTS, "order": 0.3}
    gw.initialize()
    gw.replay.open_bar("XAUUSD", 1)
    with pytest.raises(GatewayTimeout) as caught:
        gw.order_send(buy_request())
    assert caught.value.outcome_unknown and caught.value.timeout == 0.3
    assert 0.3 <= caught.value.elapsed < 2.0


def test_call_types():
    assert [call_type(f) for f in ("initialize", "login", "order_send", "order_check",
                                    "positions_get", "replay.run_bar")] == [
        "connect", "connect", "order", "order", "query", "control"]
    with pytest.raises(ConfigError, match=r"timeouts\.querry: unknown key"):
        Gateway(TerminalFactory(), timeouts={"querry": 1.0})
    with pytest.raises(ConfigError, match=r"timeouts\.order_send: found -1"):
        Gateway(TerminalFactory(), timeouts={"order_send": -1})


def test_a_dying_child_gives_gateway_crashed_and_a_restart(make_gateway):
    gw = make_gateway(debug_exit_on=("version", "order_send"))
    gw.initialize()
    first = gw.pid
    with pytest.raises(GatewayCrashed) as caught:
        gw.version()
    exc = caught.value
    assert exc.exitcode == DEBUG_EXIT_CODE and exc.outcome_unknown is False
    assert exc.code == -10004 and gw.last_error() == (-10004, "No IPC connection")
    assert not pid_alive(first)
    assert gw.initialize() is True and gw.pid != first
    gw.replay.open_bar("XAUUSD", 1)
    with pytest.raises(GatewayCrashed) as caught:
        gw.order_send(buy_request())
    assert caught.value.outcome_unknown is True  # the order may have been executed
    assert gw.health()["crashes"] == 2 and gw.health()["restarts"] == 2


def test_restarts_back_off_while_failures_repeat(make_gateway):
    gw = make_gateway(backoff=(0.3, 5.0), debug_exit_on=("version",))
    with pytest.raises(GatewayCrashed):
        gw.version()
    assert gw.health()["state"] == "starting"  # first restart: at once
    with pytest.raises(GatewayCrashed):
        gw.version()
    health = gw.health()
    assert health["state"] == "down" and health["failure_run"] == 2  # second: after 0.3 s
    started = time.monotonic()
    assert gw.initialize() is True
    assert time.monotonic() - started >= 0.3
    assert gw.health()["failure_run"] == 0


def test_the_event_loop_stays_responsive_during_a_hung_call(make_gateway):
    import asyncio

    gw = make_gateway(timeouts={"query": 1.0}, debug_hang_on=("symbol_info_tick",))
    gw.initialize()

    async def main() -> tuple[int, float]:
        call_started = asyncio.Event()
        call_done = asyncio.Event()
        ticks = 0
        worst_gap = 0.0

        async def ticker() -> None:
            nonlocal ticks, worst_gap
            await call_started.wait()
            last = time.monotonic()
            while not call_done.is_set():
                await asyncio.sleep(0)
                now = time.monotonic()
                worst_gap = max(worst_gap, now - last)
                last = now
                ticks += 1

        def hung_call() -> None:
            loop.call_soon_threadsafe(call_started.set)
            try:
                gw.symbol_info_tick("XAUUSD")
            finally:
                loop.call_soon_threadsafe(call_done.set)

        loop = asyncio.get_running_loop()
        task = asyncio.create_task(ticker())
        with pytest.raises(GatewayTimeout):
            await asyncio.to_thread(hung_call)
        await task
        return ticks, worst_gap

    ticks, worst_gap = asyncio.run(main())
    assert ticks > 1000  # the loop ran all along the 1 s hang
    assert worst_gap < 0.5  # never blocked for the length of the call


def test_close_leaves_no_child(make_gateway):
    gw = make_gateway()
    pid = gw.pid
    gw.close()
    assert not pid_alive(pid) and gw.pid is None and gw.health()["state"] == "closed"
    with pytest.raises(GatewayClosed):
        gw.positions_total()
    gw.close()  # idempotent


def test_close_during_a_hung_call_kills_the_child(make_gateway):
    gw = make_gateway(timeouts={"query": 30.0}, close_grace=0.3,
                      debug_hang_on=("symbol_info_tick",))
    pid = gw.pid
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            gw.symbol_info_tick("XAUUSD")
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    waited = threading.Event()
    for _ in range(500):  # until the call holds the gateway (at most 5 s)
        if gw.health()["in_call"] is not None:
            break
        waited.wait(0.01)
    assert gw.health()["in_call"]["function"] == "symbol_info_tick"
    started = time.monotonic()
    gw.close()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert len(outcome) == 1 and isinstance(outcome[0], GatewayClosed)
    assert not pid_alive(pid)


def test_start_failures_are_raised_and_leave_nothing(make_gateway, tmp_path, shared_data):
    missing = tmp_path / "missing.csv"
    with pytest.raises(DataError) as caught:
        make_gateway(emulator=EmulatorSpec(bars=(BarFeed("XAUUSD", str(missing)),)))
    assert caught.value.path == str(missing)
    with pytest.raises(ConfigError, match="Windows only"):
        make_gateway(kind="metatrader5")
    with pytest.raises(ConfigError, match="kind 'remote' needs address and authkey"):
        TerminalFactory(kind="remote")
    with pytest.raises(ConfigError, match=r"TerminalFactory\.kind: found 'mt4'"):
        TerminalFactory(kind="mt4")  # type: ignore[arg-type]


def test_replay_drives_the_child_emulator(make_gateway, xau_spec):
    gw = make_gateway()
    gw.initialize()
    gw.replay.open_bar("XAUUSD", 1)
    tick = gw.symbol_info_tick("XAUUSD")
    assert (tick.time, tick.bid, tick.ask) == (BAR1_TIME, pytest.approx(BAR1_OPEN),
                                               pytest.approx(BAR1_ASK))
    gw.replay_call("run_bar", "XAUUSD", 1)
    assert gw.replay.now == BAR1_TIME + 899 and gw.replay.has_positions is False
    balance, equity = gw.replay.balance_equity()
    assert balance == pytest.approx(10000.0) and equity == pytest.approx(10000.0)
    rates = gw.copy_rates_from_pos("XAUUSD", gw.TIMEFRAME_M15, 0, 1)
    assert isinstance(rates, np.ndarray) and rates["close"][0] == pytest.approx(2156.85)


def test_call_many_runs_calls_in_order_in_one_round_trip(make_gateway):
    gw = make_gateway()
    gw.initialize()
    calls_before = gw.health()["calls"]
    rates, tick, now = gw.call_many([
        ("replay.open_bar", ("XAUUSD", 1)),
        ("copy_rates_from_pos", ("XAUUSD", gw.TIMEFRAME_M15, 1, 1)),
        ("symbol_info_tick", ("XAUUSD",)),
        ("replay.now", ()),
    ])[1:]
    assert gw.health()["calls"] == calls_before + 1
    assert int(rates["time"][0]) == BAR0_TIME  # the bar before the one just opened
    assert (tick.time, tick.bid) == (BAR1_TIME, pytest.approx(BAR1_OPEN))
    assert now == BAR1_TIME
    assert gw.last_error() == (1, "Success")


def test_call_many_stops_at_the_first_error(make_gateway):
    gw = make_gateway()
    gw.initialize()
    with pytest.raises(AttributeError, match="no MT5 function 'nope'"):
        gw.call_many([("replay.open_bar", ("XAUUSD", 1)), ("nope", ())])
    assert gw.replay.now != BAR1_TIME  # nothing was sent
    with pytest.raises(TypeError, match="positions_total"):
        gw.call_many([("positions_total", (1,)), ("replay.open_bar", ("XAUUSD", 1))])
    assert gw.replay.now != BAR1_TIME  # the calls after the failed one did not run
    assert gw.call_many([("symbol_info", ("NOPE",))]) == [None]
    assert gw.last_error() == (-1, "Terminal: Call failed")


def test_call_many_times_out_on_the_sum_of_its_calls(make_gateway):
    gw = make_gateway(timeouts={"query": 0.3}, debug_hang_on=("symbol_info_tick",))
    gw.initialize()
    with pytest.raises(GatewayTimeout) as caught:
        gw.call_many([("positions_total", ()), ("symbol_info_tick", ("XAUUSD",))])
    assert caught.value.timeout == pytest.approx(0.6)
    assert caught.value.function == "positions_total+symbol_info_tick"
    assert gw.health()["restarts"] == 1
