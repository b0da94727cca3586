"""Fault specs (``FaultPlan.from_spec`` data) passed through the factory into the gateway child
and the emulator server, on the real XAUUSD M15 bars: a hang is bounded by the gateway's
timeout, a crash becomes GatewayCrashed, and plans are scriptable through the pipe."""

from __future__ import annotations

import dataclasses

import pytest

from trademaestro.brokers.emulator.server import EmulatorServer, EmulatorSpec
from trademaestro.brokers.mt5.gateway import GatewayCrashed, GatewayTimeout
from trademaestro.brokers.mt5.gateway_remote import RemoteTerminal
from trademaestro.core.errors import ConfigError

from .conftest import BAR1_ASK, buy_request


def with_faults(spec: EmulatorSpec, *rules: dict) -> EmulatorSpec:
    return dataclasses.replace(spec, faults=tuple(rules))


def test_a_hang_fault_is_bounded_by_the_gateway_timeout(make_gateway, xau_spec):
    spec = with_faults(xau_spec, {"function": "positions_get", "fault": "hang"})
    gw = make_gateway(emulator=spec, timeouts={"query": 0.4})
    gw.initialize()
    with pytest.raises(GatewayTimeout) as caught:
        gw.positions_get()
    assert 0.4 <= caught.value.elapsed < 2.0
    gw.initialize()  # the new child has the plan again, fresh: the hang fires again
    with pytest.raises(GatewayTimeout):
        gw.positions_get()
    assert gw.health()["timeouts"] == 2


def test_a_crash_fault_on_order_send_is_an_unknown_outcome(make_gateway, xau_spec):
    spec = with_faults(xau_spec, {"function": "order_send", "fault": "crash"})
    gw = make_gateway(emulator=spec)
    gw.initialize()
    gw.replay.open_bar("XAUUSD", 1)
    with pytest.raises(GatewayCrashed) as caught:
        gw.order_send(buy_request())
    assert caught.value.exitcode == 70 and caught.value.outcome_unknown is True


def test_faults_are_scriptable_through_the_gateway(make_gateway):
    gw = make_gateway()
    gw.initialize()
    gw.replay.open_bar("XAUUSD", 1)
    assert gw.faults_call("extend", [{"function": "order_send", "fault": "retcode",
                                      "code": 10024}]) is None
    refused = gw.order_send(buy_request())
    assert refused.retcode == 10024
    filled = gw.order_send(buy_request())
    assert filled.retcode == 10009 and filled.price == pytest.approx(BAR1_ASK, abs=1e-9)
    assert gw.faults.fired == [("order_send", "retcode")]
    with pytest.raises(ConfigError, match=r"faults\[0\]"):
        gw.faults.extend([{"function": "order_send", "fault": "nope"}])


def test_a_bad_fault_spec_fails_the_start(make_gateway, xau_spec):
    with pytest.raises(ConfigError, match=r"faults\[0\]"):
        make_gateway(emulator=with_faults(xau_spec, {"function": "nope", "fault": "hang"}))


def test_faults_of_the_server_apply_to_its_clients(xau_spec):
    spec = with_faults(xau_spec, {"function": "order_send", "fault": "requote", "points": 30})
    with EmulatorServer(spec) as server:
        client = RemoteTerminal(server.address, server.authkey)
        client.initialize()
        client.replay.open_bar("XAUUSD", 1)
        assert client.order_send(buy_request()).retcode == 10004  # requote, once
        assert client.order_send(buy_request()).retcode == 10009
        assert client.faults.fired == [("order_send", "requote")]
        client.close()
