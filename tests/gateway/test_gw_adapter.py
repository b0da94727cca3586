"""The broker port (MT5Adapter) over the gateway gives what it gives over the in-process
emulator, on the real XAUUSD M15 bars."""

from __future__ import annotations

import pytest

from trademaestro.brokers.emulator.server import build_emulator
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.core.timeframes import Timeframe
from trademaestro.execution.intents import CloseIntent, OpenIntent

from .conftest import BAR0_TIME, BAR1_ASK, BAR1_CLOSE, BAR1_OPEN


def _session(mt5):
    adapter = MT5Adapter(mt5)
    adapter.connect()
    mt5.replay.open_bar("XAUUSD", 1)
    spec = adapter.symbol_spec("XAUUSD")
    quote = adapter.quote("XAUUSD")
    opened = adapter.open_market(OpenIntent(
        strategy_id="s1", symbol="XAUUSD", side="buy", volume=0.1, sl=2150.0, tp=2170.0,
        magic=77, client_id="s1-0001", price=quote.ask))
    mt5.replay.run_bar("XAUUSD", 1)
    positions = adapter.positions(magic=77)
    closed = adapter.close_position(CloseIntent(
        strategy_id="s1", ticket=positions[0].ticket, symbol="XAUUSD", side="buy",
        volume=0.1, magic=77, client_id="s1-0002", reason="signal"))
    bars = adapter.closed_bars("XAUUSD", Timeframe.M15, 2)
    return spec, quote, opened, positions, closed, adapter.account(), bars


def test_adapter_over_the_gateway_equals_in_process(make_gateway, xau_spec):
    remote = _session(make_gateway())
    local = _session(build_emulator(xau_spec))
    spec, quote, opened, positions, closed, account, bars = remote
    assert spec.digits == 2 and spec.point == pytest.approx(0.01)
    assert quote.bid == pytest.approx(BAR1_OPEN, abs=1e-9)
    assert quote.ask == pytest.approx(BAR1_ASK, abs=1e-9)
    assert opened.ok and opened.retcode == 10009
    assert opened.price == pytest.approx(BAR1_ASK, abs=1e-9)
    assert positions[0].comment == "tm s1-0001"
    # closed at the bar's close bid: (2156.85 - 2158.66) * 100 oz * 0.1 lot = -18.10 USD
    assert closed.ok and closed.price == pytest.approx(BAR1_CLOSE, abs=1e-9)
    assert account.balance == pytest.approx(10000.0 - 18.10, abs=1e-6)
    # bar 1 is still the current bar for copy_rates_from_pos: the last closed one is bar 0
    assert bars["time"].tolist()[-1] == BAR0_TIME
    assert bars["close"][-1] == pytest.approx(2158.60, abs=1e-9)
    assert remote[:2] == local[:2] and remote[3] == local[3] and remote[5] == local[5]
    assert (opened.retcode, opened.order, opened.deal) == (local[2].retcode, local[2].order,
                                                           local[2].deal)
