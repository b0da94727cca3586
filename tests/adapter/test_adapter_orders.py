"""MT5Adapter order path against the emulator on real XAUUSD M15 bars: the exact request dicts it
sends, fills, SL/TP modification, refusals, a missing result, and the lazy ``result`` dict."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.brokers.emulator import MT5Emulator, default_symbols
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.port import OrderOutcome
from trademaestro.execution.intents import CloseIntent, ModifyIntent, OpenIntent

from .conftest import Bars, make_adapter

# XAUUSD_M15.csv bar 0: 2024.03.20 06:30 open 2158.99 spread 6; bar 1 open 2158.60 spread 6.
T0 = 1710916200
ASK0 = 2159.05  # 2158.99 + 6 points
BID1, ASK1 = 2158.60, 2158.66

OPEN_KEYS = ["action", "symbol", "volume", "type", "price", "sl", "tp", "deviation", "magic",
             "comment", "type_time", "type_filling"]
CLOSE_KEYS = ["action", "symbol", "volume", "type", "position", "price", "deviation", "magic",
              "comment", "type_time", "type_filling"]


def _open(side: str = "buy", volume: float = 0.1, sl: float = 2150.004, tp: float = 2170.0,
          price: float = ASK0, client: str = "e1") -> OpenIntent:
    return OpenIntent(strategy_id="s", symbol="XAUUSD", side=side, volume=volume,  # type: ignore[arg-type]
                      sl=sl, tp=tp, magic=77, client_id=client, price=price)


def _types(request: dict[str, Any]) -> dict[str, type]:
    return {key: type(value) for key, value in request.items()}


def test_open_then_close_on_a_real_bar(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 0)
    out = adapter.open_market(_open())
    request = mt5.requests[-1]
    assert list(request) == OPEN_KEYS
    assert request == {"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0,
                       "price": 2159.05, "sl": 2150.0, "tp": 2170.0, "deviation": 20,
                       "magic": 77, "comment": "tm e1", "type_time": 0, "type_filling": 1}
    assert _types(request) == {"action": int, "symbol": str, "volume": float, "type": int,
                               "price": float, "sl": float, "tp": float, "deviation": int,
                               "magic": int, "comment": str, "type_time": int,
                               "type_filling": int}
    assert out.request == request
    assert (out.ok, out.retcode, out.comment) == (True, 10009, "Request executed")
    assert (out.order, out.deal, out.volume, out.price) == (1000001, 500002, 0.1, ASK0)
    assert out.error is None and out.extra == {}
    mt5.emu.replay.run_bar("XAUUSD", 0)  # 2158.60..2159.15: neither 2150 nor 2170 is touched
    mt5.emu.replay.open_bar("XAUUSD", 1)
    (pos,) = adapter.positions(symbol="XAUUSD", magic=77)
    closed = adapter.close_position(CloseIntent(
        strategy_id="s", symbol="XAUUSD", ticket=pos.ticket, side="buy", volume=0.1, magic=77,
        client_id="x1", reason="signal"))
    request = mt5.requests[-1]
    assert list(request) == CLOSE_KEYS
    assert request == {"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 1,
                       "position": 1000001, "price": BID1, "deviation": 20, "magic": 77,
                       "comment": "tm x1", "type_time": 0, "type_filling": 1}
    assert (closed.ok, closed.retcode, closed.order, closed.deal, closed.price) == (
        True, 10009, 1000002, 500003, BID1)
    account = adapter.account()
    # (2158.60 - 2159.05) * 100 oz * 0.1 lot = -4.50 USD
    assert (account.balance, account.equity, account.margin) == (9995.5, 9995.5, 0.0)
    assert adapter.positions() == []
    deals = adapter.deals(T0, T0 + 3600)
    assert [(d["ticket"], d["entry"], d["price"], d["profit"]) for d in deals] == [
        (500002, 0, ASK0, 0.0), (500003, 1, BID1, -4.5)]


def test_result_dict_is_the_order_send_result(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 0)
    out = adapter.open_market(_open(sl=0.0, tp=0.0))
    result = out.result
    assert result is not None
    assert list(result) == ["retcode", "deal", "order", "volume", "price", "bid", "ask",
                            "comment", "request_id", "retcode_external", "request"]
    assert {k: v for k, v in result.items() if k != "request"} == {
        "retcode": 10009, "deal": 500002, "order": 1000001, "volume": 0.1, "price": ASK0,
        "bid": 2158.99, "ask": ASK0, "comment": "Request executed", "request_id": 1,
        "retcode_external": 0}
    assert result["request"] == {
        "action": 1, "magic": 77, "order": 0, "symbol": "XAUUSD", "volume": 0.1,
        "price": ASK0, "stoplimit": 0.0, "sl": 0.0, "tp": 0.0, "deviation": 20, "type": 0,
        "type_filling": 1, "type_time": 0, "expiration": 0, "comment": "tm e1", "position": 0,
        "position_by": 0}
    assert out.result == result and out.result is not result  # built on each access
    given_dict = {"retcode": 1}
    made = OrderOutcome(True, 10009, "c", 1, 2, 0.1, 1.0, {}, result=given_dict)
    assert made.result is given_dict and made.extra == {} and made.error is None
    with pytest.raises(AttributeError):
        made.ok = False  # type: ignore[misc]


def test_modify_sends_both_levels(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 0)
    ticket = adapter.open_market(_open()).order
    out = adapter.modify_sltp(ModifyIntent(strategy_id="s", symbol="XAUUSD", ticket=ticket,
                                           sl=2151.006, tp=0.0, magic=77, client_id="m1"))
    request = mt5.requests[-1]
    assert list(request) == ["action", "symbol", "position", "sl", "tp", "magic", "comment"]
    assert request == {"action": 6, "symbol": "XAUUSD", "position": ticket, "sl": 2151.01,
                       "tp": 0.0, "magic": 77, "comment": "tm m1"}
    assert _types(request)["sl"] is float and _types(request)["tp"] is float
    assert (out.ok, out.retcode) == (True, 10009)
    (pos,) = adapter.positions()
    assert (pos.sl, pos.tp) == (2151.01, 0.0)  # the TP sent as 0.0 is cleared


def test_rejected_volume(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 0)
    out = adapter.open_market(_open(volume=0.001))
    assert mt5.requests[-1]["volume"] == 0.001
    assert (out.ok, out.retcode, out.comment, out.order, out.deal) == (
        False, 10014, "Invalid volume", 0, 0)
    assert out.error is None and out.result is not None and out.result["retcode"] == 10014
    assert adapter.positions() == []


def test_no_result_gives_last_error(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 0)
    adapter.symbol_spec("XAUUSD")
    adapter.shutdown()
    out = adapter.open_market(_open())
    assert out == OrderOutcome(False, None, "No IPC connection", 0, 0, 0.0, 0.0,
                               mt5.requests[-1], error=(-10004, "No IPC connection"))
    assert out.result is None


@pytest.mark.parametrize(("filling_mode", "expected", "retcode"), [
    (1, 0, 10009),  # FOK only -> ORDER_FILLING_FOK
    (2, 1, 10009),  # IOC only -> ORDER_FILLING_IOC
    (3, 1, 10009),  # both -> IOC
    (0, 2, 10030),  # neither -> RETURN, refused for market orders by this broker
])
def test_filling_from_symbol_bits(xau_bars: Bars, filling_mode: int, expected: int,
                                  retcode: int) -> None:
    symbols = default_symbols()
    symbols["XAUUSD"] = dataclasses.replace(symbols["XAUUSD"], filling_mode=filling_mode)
    adapter, mt5 = make_adapter(xau_bars, symbols=symbols)
    mt5.emu.replay.open_bar("XAUUSD", 0)
    out = adapter.open_market(_open())
    assert mt5.requests[-1]["type_filling"] == expected
    assert out.retcode == retcode


def test_comment_limit(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 0)
    with pytest.raises(ValueError, match="longer than 29"):
        adapter.open_market(_open(client="c" * 27))
    assert mt5.requests == []
    assert adapter.open_market(_open(client="c" * 26)).ok


class _Capture:
    """A MetaTrader5-like stub over the emulator's symbols that refuses every order."""

    def __init__(self, emu: MT5Emulator) -> None:
        self.emu = emu
        self.last: dict[str, Any] = {}

    def symbol_info(self, symbol: str) -> Any:
        return self.emu.symbol_info(symbol)

    def order_send(self, request: dict[str, Any]) -> None:
        self.last = request

    def last_error(self) -> tuple[int, str]:
        return (-1, "Terminal: Call failed")


@settings(max_examples=200, deadline=None)
@given(price=st.floats(0.5, 5000.0), sl=st.floats(-1.0, 5000.0), tp=st.floats(-1.0, 5000.0),
       symbol=st.sampled_from(["XAUUSD", "EURUSD", "USDJPY"]))
def test_prices_rounded_like_the_spec(price: float, sl: float, tp: float, symbol: str) -> None:
    emu = MT5Emulator()
    emu.initialize()
    stub = _Capture(emu)
    adapter = MT5Adapter(stub)
    spec = adapter.symbol_spec(symbol)
    intent = OpenIntent(strategy_id="s", symbol=symbol, side="sell", volume=1, sl=sl, tp=tp,
                        magic=1, client_id="p", price=price)
    out = adapter.open_market(intent)
    assert out.retcode is None and out.error == (-1, "Terminal: Call failed")
    sent = stub.last
    assert sent["price"] == spec.round_price(price)
    assert sent["sl"] == (spec.round_price(sl) if sl > 0 else 0.0)
    assert sent["tp"] == (spec.round_price(tp) if tp > 0 else 0.0)
    assert sent["volume"] == 1.0 and type(sent["volume"]) is float and sent["type"] == 1
    ticks = sent["price"] / spec.tick_size
    assert math.isclose(ticks, round(ticks), abs_tol=1e-6)


def test_position_deals(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 0)
    first = adapter.open_market(_open(sl=0.0, tp=0.0, client="a")).order
    second = adapter.open_market(_open(sl=0.0, tp=0.0, client="b")).order
    mt5.emu.replay.run_bar("XAUUSD", 0)
    mt5.emu.replay.open_bar("XAUUSD", 1)
    adapter.close_position(CloseIntent(strategy_id="s", symbol="XAUUSD", ticket=first,
                                       side="buy", volume=0.1, magic=77, client_id="c",
                                       reason="signal"))
    deals = adapter.position_deals(first)
    assert [(d["position_id"], d["entry"], d["price"], d["profit"]) for d in deals] == [
        (first, 0, ASK0, 0.0), (first, 1, BID1, -4.5)]
    assert [d["comment"] for d in adapter.position_deals(second)] == ["tm b"]
    assert adapter.position_deals(999) == []
