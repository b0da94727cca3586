"""FaultPlan mechanics on real XAUUSD M15 bars: rule counting (skip/times/when), several rules on
one call, installation, clear, and the plain-data spec (from_spec / to_spec and its errors)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.brokers.emulator import (
    EmulatorConfig,
    FaultPlan,
    GhostPosition,
    Hang,
    IpcTimeout,
    Latency,
    LostReply,
    MT5Emulator,
    NoFaults,
    RequestMatch,
    Requote,
    Retcode,
)
from trademaestro.brokers.emulator.fault_types import API_FUNCTIONS, FAULT_TYPES
from trademaestro.core.errors import ConfigError
from trademaestro.core.timeframes import Timeframe

N = 1000  # 2024-04-05 04:30 server time: open 2270.69, spread 5 points -> ask 2270.74
BUY = {"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0, "comment": "tm plan"}
SELL = {**BUY, "type": 1}
TIMEOUT = (-10005, "IPC timeout")


def _emu(bars: np.ndarray, plan: FaultPlan | None = None) -> MT5Emulator:
    emu = MT5Emulator(EmulatorConfig(), faults=plan)
    emu.replay.load_rates("XAUUSD", Timeframe.M15, bars)
    assert emu.initialize() is True
    emu.replay.open_bar("XAUUSD", N)
    return emu


def test_api_functions_are_exactly_the_wrapped_emulator_functions() -> None:
    wrapped = {name for name in dir(MT5Emulator) if not name.startswith("_")
               and hasattr(getattr(MT5Emulator, name), "__wrapped__")}
    assert wrapped == API_FUNCTIONS
    assert len(API_FUNCTIONS) == 28
    assert sorted(FAULT_TYPES) == ["crash", "disconnect", "ghost_position", "hang",
                                   "ipc_timeout", "latency", "lost_reply", "requote", "retcode"]


def test_default_is_nofaults_and_installing_hooks_the_ledger_only_for_ghosts(
        xau_bars: np.ndarray) -> None:
    emu = _emu(xau_bars)
    assert type(emu.faults) is NoFaults
    assert emu._ledger.on_close is None
    plan = FaultPlan().add("account_info", IpcTimeout())
    emu.faults = plan
    assert emu._ledger.on_close is None  # no ghost rule: closes are not recorded
    plan.add("positions_get", GhostPosition(60))
    assert emu._ledger.on_close == plan._record_close
    emu.faults = NoFaults()  # detaches the plan
    assert emu._ledger.on_close is None
    assert emu.account_info().balance == 10000.0
    assert plan.calls("account_info") == 0


def test_skip_and_times_count_calls_of_the_function(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("account_info", IpcTimeout(), skip=1, times=2)
    emu = _emu(xau_bars, plan)
    outcomes = []
    for _ in range(4):
        info = emu.account_info()
        outcomes.append(None if info is None else info.balance)
        outcomes.append(emu.last_error())
    assert outcomes == [10000.0, (1, "Success"), None, TIMEOUT, None, TIMEOUT,
                        10000.0, (1, "Success")]
    assert plan.calls("account_info") == 4
    assert plan.calls("initialize") == 1  # installed at construction: initialize was seen
    assert plan.fired == [("account_info", "ipc_timeout")] * 2
    assert plan.pending() == 0


def test_calls_counts_every_call_seen_including_initialize(xau_bars: np.ndarray) -> None:
    plan = FaultPlan()
    emu = MT5Emulator(EmulatorConfig(), faults=plan)
    emu.replay.load_rates("XAUUSD", Timeframe.M15, xau_bars)
    emu.initialize()
    emu.replay.open_bar("XAUUSD", N)
    emu.symbol_info_tick("XAUUSD")
    emu.symbol_info_tick("XAUUSD")
    emu.last_error()  # not an intercepted function
    assert (plan.calls("initialize"), plan.calls("symbol_info_tick"), plan.calls("last_error"),
            plan.calls("order_send")) == (1, 2, 0, 0)
    assert plan.fired == []


def test_times_none_applies_forever(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Retcode(10024), times=None)
    emu = _emu(xau_bars, plan)
    codes = [emu.order_send(BUY).retcode for _ in range(5)]
    assert codes == [10024] * 5
    assert emu.positions_total() == 0
    assert plan.pending() == 1
    assert len(plan.fired) == 5


def test_when_restricts_the_calls_a_rule_sees(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Retcode(10006), skip=1,
                           when=lambda args, kwargs: args[0]["type"] == 1)
    emu = _emu(xau_bars, plan)
    results = [emu.order_send(r).retcode for r in (SELL, BUY, BUY, SELL, SELL)]
    # sells seen: #1 skipped, #2 rejected, #3 past times; buys never seen
    assert results == [10009, 10009, 10009, 10006, 10009]
    assert emu.positions_total() == 4
    assert plan.fired == [("order_send", "retcode")]


def test_request_match_uses_the_parsed_request(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Requote(20), times=None,
                           when=RequestMatch((("action", 1), ("position", 0))))
    emu = _emu(xau_bars, plan)
    assert emu.order_send(BUY).retcode == 10004  # omitted position parses as 0: matched
    emu.faults = NoFaults()
    ticket = emu.order_send(BUY).order
    emu.faults = plan
    close = {**SELL, "position": ticket}
    assert emu.order_send(close).retcode == 10009  # position != 0: not matched
    assert emu.order_send({"action": 1, "volume": 1}) is None  # int volume: no parse, no match
    assert emu.last_error() == (-2, 'Invalid "volume" argument')
    assert plan.fired == [("order_send", "requote")]


def test_delays_combine_with_one_outcome_and_a_second_outcome_waits(
        xau_bars: np.ndarray) -> None:
    plan = (FaultPlan().add("order_send", Latency(0.0)).add("order_send", Retcode(10021))
            .add("order_send", Retcode(10018)))
    emu = _emu(xau_bars, plan)
    first, second, third = (emu.order_send(BUY) for _ in range(3))
    assert (first.retcode, first.comment) == (10021, "Off quotes")
    assert (second.retcode, second.comment) == (10018, "Market closed")
    assert third.retcode == 10009
    assert plan.fired == [("order_send", "latency"), ("order_send", "retcode"),
                          ("order_send", "retcode")]


def test_clear_removes_rules_keeps_records(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("account_info", IpcTimeout(), times=None)
    plan.add("positions_get", GhostPosition(60), times=None)
    emu = _emu(xau_bars, plan)
    assert emu.account_info() is None
    plan.clear()
    assert emu.account_info().balance == 10000.0
    assert plan.fired == [("account_info", "ipc_timeout")]
    assert plan.calls("account_info") == 2
    assert plan.pending() == 0
    assert emu._ledger.on_close is None


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (("last_error", IpcTimeout()), {}, "fault function: found 'last_error'"),
    (("positions_get", Requote(5)), {}, "allowed only on ['order_send']"),
    (("order_send", GhostPosition(5)), {}, "allowed only on ['positions_get', 'positions_total']"),
    (("order_send", "requote"), {}, "allowed: a Fault"),
    (("order_send", LostReply()), {"times": 0}, "fault times: found 0"),
    (("order_send", LostReply()), {"times": True}, "fault times: found True"),
    (("order_send", LostReply()), {"skip": -1}, "fault skip: found -1"),
    (("order_send", LostReply()), {"when": 3}, "fault when: found 3"),
])
def test_add_rejects_bad_rules(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        FaultPlan().add(*args, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Latency(-1.0),
     "Latency.seconds: found -1.0; allowed: a finite number of seconds >= 0"),
    (lambda: Latency(float("nan")), "Latency.seconds: found nan"),
    (lambda: Hang(seconds=-2), "Hang.seconds: found -2"),
    (lambda: Hang(release=True), "Hang.release: found bool"),  # type: ignore[arg-type]
    (lambda: Requote(0), "Requote.points: found 0; allowed: a non-zero integer"),
    (lambda: Requote(1.5), "Requote.points: found 1.5"),  # type: ignore[arg-type]
    (lambda: Retcode(10009), "Retcode.code: found 10009; allowed: one of [10006,"),
    (lambda: GhostPosition(0), "GhostPosition.seconds: found 0; allowed: a finite number of "
                               "seconds > 0"),
])
def test_fault_parameters_are_validated(make: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()  # type: ignore[operator]
    assert message in str(info.value)


SPEC = [
    {"function": "order_send", "fault": "requote", "points": -15, "times": 2, "skip": 0},
    {"function": "order_send", "fault": "retcode", "code": 10031, "times": 1, "skip": 3,
     "match": {"action": 1, "symbol": "XAUUSD"}},
    {"function": "positions_get", "fault": "ghost_position", "seconds": 900, "times": None,
     "skip": 0},
    {"function": "account_info", "fault": "latency", "seconds": 0.0, "times": 1, "skip": 0},
    {"function": "symbol_info", "fault": "hang", "seconds": None, "times": 1, "skip": 5},
    {"function": "order_check", "fault": "ipc_timeout", "times": 1, "skip": 0},
    {"function": "login", "fault": "disconnect", "times": 1, "skip": 0},
    {"function": "order_send", "fault": "lost_reply", "times": 1, "skip": 9},
    {"function": "version", "fault": "crash", "times": 1, "skip": 0},
]


def test_from_spec_round_trip() -> None:
    plan = FaultPlan.from_spec(SPEC)
    assert plan.to_spec() == SPEC
    again = FaultPlan.from_spec(plan.to_spec())
    assert again.to_spec() == plan.to_spec()
    defaults = FaultPlan.from_spec([{"function": "order_send", "fault": "lost_reply"},
                                    {"function": "symbol_info", "fault": "hang"}]).to_spec()
    assert defaults == [
        {"function": "order_send", "fault": "lost_reply", "times": 1, "skip": 0},
        {"function": "symbol_info", "fault": "hang", "seconds": None, "times": 1, "skip": 0}]


def test_from_spec_plan_behaves_like_the_spec(xau_bars: np.ndarray) -> None:
    plan = FaultPlan.from_spec([
        {"function": "order_send", "fault": "requote", "points": 30, "times": 2},
        {"function": "order_send", "fault": "retcode", "code": 10016,
         "match": {"type": 1}}])
    emu = _emu(xau_bars, plan)
    out = [emu.order_send(r) for r in (BUY, BUY, SELL, BUY)]
    assert [r.retcode for r in out] == [10004, 10004, 10016, 10009]
    assert (out[0].bid, out[0].ask) == (2270.99, 2271.04)  # 2270.69 / 2270.74 + 30 points
    assert emu.positions_total() == 1
    assert plan.fired == [("order_send", "requote")] * 2 + [("order_send", "retcode")]


@pytest.mark.parametrize(("spec", "message"), [
    ({"function": "order_send"}, "faults: found dict; allowed: a list of rule objects"),
    ([{"function": "order_send", "fault": "lost_reply"}, {"function": "order_send",
                                                          "fault": "explode"}],
     "faults[1].fault: found 'explode'; allowed: ['crash', 'disconnect', 'ghost_position', "
     "'hang', 'ipc_timeout', 'latency', 'lost_reply', 'requote', 'retcode']"),
    ([{"function": "order_send"}], "faults[0].fault: found None; allowed: ['crash'"),
    ([["order_send", "crash"]], "faults[0]: found list; allowed: an object"),
    ([{"function": "order_sned", "fault": "crash"}], "faults[0].function: found 'order_sned'"),
    ([{"function": "order_send", "fault": "requote"}], "faults[0]: fault 'requote' needs "
                                                       "['points']"),
    ([{"function": "order_send", "fault": "crash", "points": 3}],
     "faults[0]: unknown key(s) ['points'] for fault 'crash'"),
    ([{"function": "order_send", "fault": "retcode", "code": 12345}],
     "faults[0]: Retcode.code: found 12345"),
    ([{"function": "account_info", "fault": "latency", "seconds": "1"}],
     "faults[0]: Latency.seconds: found '1'"),
    ([{"function": "order_send", "fault": "crash", "times": 0}],
     "faults[0]: fault times: found 0"),
    ([{"function": "order_send", "fault": "requote", "points": 5}, {"function": "positions_get",
                                                                    "fault": "requote",
                                                                    "points": 5}],
     "faults[1]: fault 'requote' on 'positions_get': allowed only on ['order_send']"),
    ([{"function": "account_info", "fault": "crash", "match": {"action": 1}}],
     "faults[0].match: allowed only for ['order_check', 'order_send']"),
    ([{"function": "order_send", "fault": "crash", "match": {"volume": 0.1}}],
     "faults[0].match.volume: unknown request field"),
    ([{"function": "order_send", "fault": "crash", "match": {"action": "1"}}],
     "faults[0].match.action: found '1'; allowed: an integer"),
    ([{"function": "order_send", "fault": "crash", "match": {}}],
     "faults[0].match: found {}; allowed: a non-empty object"),
])
def test_from_spec_errors_name_the_rule(spec: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        FaultPlan.from_spec(spec)
    assert message in str(info.value)


def test_to_spec_refuses_what_plain_data_cannot_hold() -> None:
    with pytest.raises(ConfigError, match="Python callable"):
        FaultPlan().add("order_send", LostReply(), when=lambda a, k: True).to_spec()
    with pytest.raises(ConfigError, match=r"Hang\.release"):
        FaultPlan().add("order_send", Hang(release=threading.Event())).to_spec()


@settings(max_examples=60, deadline=None)
@given(skip=st.integers(0, 6), times=st.one_of(st.none(), st.integers(1, 6)),
       calls=st.integers(0, 14))
def test_faulted_calls_are_exactly_skip_to_skip_plus_times(
        skip: int, times: int | None, calls: int) -> None:
    emu = MT5Emulator(EmulatorConfig())
    emu.initialize()
    plan = FaultPlan().add("symbols_total", IpcTimeout(), skip=skip, times=times)
    emu.faults = plan
    failed = [k for k in range(calls) if emu.symbols_total() is None]
    end = calls if times is None else min(calls, skip + times)
    assert failed == list(range(skip, end))
    assert plan.calls("symbols_total") == calls
    assert len(plan.fired) == len(failed)


def test_extend_adds_plain_data_rules_all_or_none(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("account_info", IpcTimeout())
    with pytest.raises(ConfigError, match=r"faults\[1\]\.fault: found 'boom'"):
        plan.extend([{"function": "order_send", "fault": "requote", "points": 5},
                     {"function": "order_send", "fault": "boom"}])
    assert plan.to_spec() == [{"function": "account_info", "fault": "ipc_timeout", "times": 1,
                               "skip": 0}]  # nothing of the bad spec was added
    plan.extend([{"function": "order_send", "fault": "retcode", "code": 10024}])
    emu = _emu(xau_bars, plan)
    assert emu.account_info() is None
    assert (emu.order_send(BUY).retcode, emu.order_send(BUY).retcode) == (10024, 10009)
    assert plan.fired == [("account_info", "ipc_timeout"), ("order_send", "retcode")]
