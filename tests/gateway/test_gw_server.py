"""The emulator server on the real XAUUSD M15 bars: the broker state outlives its clients
(a gateway killed abruptly, a client gone before its reply), per-client MT5 sessions, replay
control, and a clean stop on request or SIGTERM."""

from __future__ import annotations

import os
import signal
from multiprocessing.connection import Client

import pytest

from trademaestro.brokers.emulator.server import EmulatorServer
from trademaestro.brokers.mt5.gateway import GatewayCrashed
from trademaestro.brokers.mt5.gateway_remote import RemoteTerminal
from trademaestro.core.errors import BrokerError, SymbolError

from .conftest import BAR1_ASK, BAR1_CLOSE, BAR1_OPEN, BAR1_TIME, buy_request, pid_alive


def test_positions_outlive_a_client_killed_abruptly(server, make_gateway):
    gw = make_gateway(kind="remote", address=server.address, authkey=server.authkey,
                      emulator=None)
    assert gw.initialize() is True
    gw.replay.open_bar("XAUUSD", 1)
    sent = gw.order_send(buy_request())
    assert sent.retcode == 10009 and sent.price == pytest.approx(BAR1_ASK, abs=1e-9)
    seen_by_first = gw.positions_get()
    os.kill(gw.pid, signal.SIGKILL)  # the "executor" dies without a word
    with pytest.raises(GatewayCrashed):
        gw.positions_get()
    # A second client, and the restarted gateway, see the same broker.
    second = RemoteTerminal(server.address, server.authkey)
    assert second.initialize() is True
    assert second.positions_get() == seen_by_first
    assert seen_by_first[0].ticket == sent.order and seen_by_first[0].comment == "tm gw-test"
    assert gw.initialize() is True and gw.positions_get() == seen_by_first
    assert server.is_alive()
    second.close()


def test_a_client_gone_before_its_reply_does_not_hurt(server):
    raw = Client(server.address, authkey=server.authkey)
    raw.send(("call", "initialize", (), {}))
    assert raw.recv() == ("ok", True, (1, "Success"))
    raw.send(("attr", "replay", "open_bar", ("XAUUSD", 1), {}))
    raw.recv()
    raw.send(("call", "order_send", (buy_request(),), {}))
    assert raw.poll(10)  # the server has executed the order and answered...
    raw.close()  # ...and nobody reads the answer
    client = RemoteTerminal(server.address, server.authkey)
    client.initialize()
    positions = client.positions_get()
    assert len(positions) == 1 and positions[0].price_open == pytest.approx(BAR1_ASK, abs=1e-9)
    assert server.is_alive()
    client.close()


def test_each_client_has_its_own_session_and_last_error(server):
    a = RemoteTerminal(server.address, server.authkey)
    b = RemoteTerminal(server.address, server.authkey)
    assert a.TRADE_ACTION_DEAL == 1 and a.__version__ == "5.0.6231"
    assert a.initialize() is True
    assert b.positions_total() is None and b.last_error() == (-10004, "No IPC connection")
    assert a.positions_total() == 0 and a.last_error() == (1, "Success")
    assert a.symbol_info("NOPE") is None and a.last_error() == (-1, "Terminal: Call failed")
    assert b.initialize() is True and b.symbols_total() == 4
    assert a.last_error() == (-1, "Terminal: Call failed")  # b's calls do not touch a's error
    assert b.shutdown() is None
    assert a.positions_total() == 0  # b's shutdown ended b's session only
    assert b.positions_total() is None and b.last_error() == (-10004, "No IPC connection")
    with pytest.raises(TypeError, match="takes no arguments"):
        a.positions_total(1)
    with pytest.raises(AttributeError):
        a.market_book_get  # noqa: B018
    a.close()
    b.close()


def test_replay_control_through_the_server(server):
    driver = RemoteTerminal(server.address, server.authkey)
    viewer = RemoteTerminal(server.address, server.authkey)
    viewer.initialize()
    driver.replay.open_bar("XAUUSD", 1)
    assert driver.replay.now == BAR1_TIME
    tick = viewer.symbol_info_tick("XAUUSD")
    assert tick.time == BAR1_TIME and tick.bid == pytest.approx(BAR1_OPEN, abs=1e-9)
    assert tick.ask == pytest.approx(BAR1_ASK, abs=1e-9)
    driver.replay_call("run_bar", "XAUUSD", 1)
    assert viewer.replay.now == BAR1_TIME + 899
    assert viewer.symbol_info_tick("XAUUSD").bid == pytest.approx(BAR1_CLOSE, abs=1e-9)
    assert driver.replay.has_positions is False
    with pytest.raises(SymbolError):
        driver.replay.load_rates("NOPE", 15, None)
    with pytest.raises(AttributeError):
        driver.control_call("replay", "_markets")
    driver.close()
    viewer.close()


def test_lost_connection_follows_the_mt5_error_model(xau_spec):
    with EmulatorServer(xau_spec) as srv:
        client = RemoteTerminal(srv.address, srv.authkey)
        assert client.initialize() is True
    assert client.positions_total() is None
    assert client.last_error() in ((-10001, "IPC send failed"), (-10002, "IPC recv failed"))
    assert client.positions_total() is None
    assert client.last_error() == (-10004, "No IPC connection")
    assert client.initialize() is False
    assert client.last_error()[0] == -10003
    assert client.last_error()[1].startswith("IPC initialize failed, ")


def test_wrong_authkey_is_refused_and_the_server_goes_on(server):
    with pytest.raises(BrokerError) as caught:
        RemoteTerminal(server.address, b"not the key")
    assert caught.value.code == -10003
    good = RemoteTerminal(server.address, server.authkey)
    assert good.initialize() is True
    good.close()


def test_stop_on_request_and_on_sigterm(xau_spec, tmp_path):
    address = str(tmp_path / "emu.sock")
    first = EmulatorServer(xau_spec, address)
    assert first.start() == address
    RemoteTerminal(address, first.authkey).shutdown_server()
    assert first.join(10) == 0 and not os.path.exists(address)
    second = EmulatorServer(xau_spec, address)
    second.start()
    pid = second.pid
    os.kill(pid, signal.SIGTERM)
    assert second.join(10) == 0
    second.stop()
    assert not pid_alive(pid)


def test_a_stale_unix_socket_is_replaced(xau_spec, tmp_path):
    address = str(tmp_path / "emu.sock")
    killed = EmulatorServer(xau_spec, address)
    killed.start()
    os.kill(killed.pid, signal.SIGKILL)
    killed.join(10)
    assert os.path.exists(address)  # left behind by the killed server
    killed.stop()
    with EmulatorServer(xau_spec, address) as fresh:
        client = RemoteTerminal(address, fresh.authkey)
        assert client.initialize() is True and client.positions_total() == 0
        client.close()


def test_a_bad_spec_fails_the_start(tmp_path):
    from trademaestro.brokers.emulator.server import BarFeed, EmulatorSpec
    from trademaestro.core.errors import DataError

    bad = tmp_path / "bad.csv"
    bad.write_text("DateTime,Open,High,Low,Close,TickVolume,Spread\n"
                   "2024.03.20 06:30:00,2158.99,2159.15,2158.60,oops,208,6\n")
    server = EmulatorServer(EmulatorSpec(bars=(BarFeed("XAUUSD", str(bad)),)))
    with pytest.raises(DataError) as caught:
        server.start()
    assert caught.value.path == str(bad) and caught.value.line == 2
    assert not server.is_alive()
