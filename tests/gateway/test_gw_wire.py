"""What crosses the process boundary: the MT5 surface of an emulator, results of a foreign
(real-package-like) type made portable, and exceptions that survive pickling as themselves."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trademaestro.brokers.emulator import CONSTANT_NAMES, MT5Emulator
from trademaestro.brokers.emulator import results as res
from trademaestro.brokers.emulator.server import build_emulator
from trademaestro.brokers.mt5.gateway_wire import (
    MT5_FUNCTIONS,
    RemoteCallError,
    failure_value,
    portable,
    portable_exception,
    surface_of,
)
from trademaestro.core.errors import DataError, OrderRejected, StrategyError

from .conftest import BAR1_ASK, buy_request


def _foreign_type(name: str) -> type:
    """A tuple subclass named like an MT5 result type but from another module, as the real
    package's ``PyStructSequence`` types are."""
    return type(name, (tuple,), {"__module__": "MetaTrader5"})


def test_surface_of_the_emulator():
    constants, functions = surface_of(MT5Emulator())
    assert set(constants) == set(CONSTANT_NAMES) | {"__version__", "__author__"}
    assert constants["TRADE_RETCODE_REQUOTE"] == 10004 and constants["__version__"] == "5.0.6231"
    assert len(MT5_FUNCTIONS) == 32
    assert set(MT5_FUNCTIONS) - set(functions) == {
        "market_book_add", "market_book_get", "market_book_release"}
    assert [failure_value(f) for f in ("initialize", "symbol_select", "positions_get")] == [
        False, False, None]


def test_foreign_results_become_the_emulators_types(xau_spec):
    emu = build_emulator(xau_spec)
    emu.initialize()
    emu.replay.open_bar("XAUUSD", 1)
    sent = emu.order_send(buy_request())
    assert sent.price == pytest.approx(BAR1_ASK, abs=1e-9)
    foreign_request = _foreign_type("TradeRequest")(sent.request)
    foreign = _foreign_type("OrderSendResult")((*sent[:-1], foreign_request))
    back = portable(foreign)
    assert type(back) is res.OrderSendResult and type(back.request) is res.TradeRequest
    assert back == sent
    positions = emu.positions_get()
    foreign_positions = tuple(_foreign_type("TradePosition")(p) for p in positions)
    assert portable(foreign_positions) == positions
    assert type(portable(foreign_positions)[0]) is res.TradePosition
    assert portable(positions) is positions  # the emulator's own results pass as they are
    assert portable(()) == () and portable(None) is None


@given(st.tuples(st.integers(0, 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=29)))
def test_portable_keeps_every_field(values):
    ticket, price, comment = values
    tick = _foreign_type("Tick")((ticket, price, price, 0.0, 0, ticket, 6, 0.0))
    back = pickle.loads(pickle.dumps(portable(tick)))
    assert type(back) is res.Tick and tuple(back) == tuple(tick)
    deal_fields = (ticket, 1, 2, 3, 0, 0, 7, 1, 3, 0.1, price, 0.0, 0.0, 0.0, 0.0, "XAUUSD",
                   comment, "")
    deal = portable(_foreign_type("TradeDeal")(deal_fields))
    assert type(deal) is res.TradeDeal and deal.comment == comment and deal.ticket == ticket


def test_project_errors_cross_as_themselves():
    cases = [DataError("XAUUSD_M15.csv", 7, "high < low"),
             OrderRejected(10016, "Invalid stops", request={"sl": 1.0}),
             StrategyError("rules.entry", "x", "a condition", source="s.json"),
             TypeError("positions_total() takes no arguments (1 given)")]
    for exc in cases:
        back = pickle.loads(pickle.dumps(portable_exception(exc)))
        assert type(back) is type(exc) and str(back) == str(exc)
        assert vars(back) == vars(exc)
    assert pickle.loads(pickle.dumps(portable_exception(cases[0]))).line == 7


def test_an_exception_that_cannot_be_pickled_becomes_remote_call_error():
    class Local(Exception):  # a local class cannot be found by pickle
        pass

    exc = portable_exception(Local("boom"))
    assert type(exc) is RemoteCallError and "Local: boom" in str(exc)
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is RemoteCallError and back.type_name.endswith("Local")
