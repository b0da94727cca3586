"""MT5Adapter read path against the emulator on real bars: symbol_spec from SymbolInfo, quote,
account and positions mapping, unknown symbols, and importing the real MetaTrader5 package."""

from __future__ import annotations

import platform

import pytest

from trademaestro.brokers.emulator import MT5Emulator
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.mt5.loader import import_metatrader5
from trademaestro.brokers.port import AccountSnapshot, Position, Quote
from trademaestro.core.errors import BrokerError, ConfigError, SymbolError
from trademaestro.core.symbols import SymbolSpec
from trademaestro.core.timeframes import Timeframe
from trademaestro.execution.intents import OpenIntent

from .conftest import Bars, make_adapter


def test_symbol_spec_xauusd(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 0)  # spread of bar 0: 6 points
    spec = adapter.symbol_spec("XAUUSD")
    assert spec == SymbolSpec(
        name="XAUUSD", digits=2, point=0.01, tick_size=0.01, tick_value=1.0,
        contract_size=100.0, volume_min=0.01, volume_max=100.0, volume_step=0.01,
        stops_level=10, freeze_level=0, currency_base="XAU", currency_profit="USD",
        currency_margin="XAU", pip_size=0.1, spread=6)
    assert adapter.symbol_spec("XAUUSD") is spec  # cached
    assert adapter.symbol_spec("XAUUSD", refresh=True) == spec


def test_symbol_spec_eurusd_without_quotes(xau_bars: Bars) -> None:
    adapter, _ = make_adapter(xau_bars)
    spec = adapter.symbol_spec("EURUSD")
    # no EURUSD quote yet: the symbol's default spread (8); 1 tick = 0.00001 * 100000 = 1 USD
    assert spec == SymbolSpec(
        name="EURUSD", digits=5, point=0.00001, tick_size=0.00001, tick_value=1.0,
        contract_size=100000.0, volume_min=0.01, volume_max=500.0, volume_step=0.01,
        stops_level=0, freeze_level=0, currency_base="EUR", currency_profit="USD",
        currency_margin="EUR", pip_size=0.0001, spread=8)


def test_symbol_spec_usdjpy_tick_value_from_the_quote(usdjpy_bars: Bars) -> None:
    adapter, mt5 = make_adapter(usdjpy_bars, "USDJPY")
    mt5.emu.replay.open_bar("USDJPY", 0)  # 2026-01-15 14:00 open 158.569, spread 10 points
    spec = adapter.symbol_spec("USDJPY")
    # 1 tick = 0.001 * 100000 = 100 JPY; a gain is converted at the ask 158.579
    assert spec == SymbolSpec(
        name="USDJPY", digits=3, point=0.001, tick_size=0.001, tick_value=100 / 158.579,
        contract_size=100000.0, volume_min=0.01, volume_max=500.0, volume_step=0.01,
        stops_level=0, freeze_level=0, currency_base="USD", currency_profit="JPY",
        currency_margin="USD", pip_size=0.01, spread=10)
    assert adapter.quote("USDJPY") == Quote(1768485600, 158.569, 158.579)


def test_unknown_symbol(xau_bars: Bars) -> None:
    adapter, _ = make_adapter(xau_bars)
    with pytest.raises(SymbolError, match="'NOPE'"):
        adapter.symbol_spec("NOPE")
    with pytest.raises(BrokerError, match="symbol_info_tick"):
        adapter.quote("NOPE")


def test_quote_account_positions(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 0)
    quote = adapter.quote("XAUUSD")
    assert quote == Quote(time=1710916200, bid=2158.99, ask=2159.05)
    assert (type(quote.time), type(quote.bid)) == (int, float)
    assert adapter.account() == AccountSnapshot(10000.0, 10000.0, 0.0, 10000.0, "USD", 100)
    for magic, side in ((5, "buy"), (6, "sell")):
        intent = OpenIntent(strategy_id="s", symbol="XAUUSD", side=side, volume=0.2, sl=0.0,
                            tp=0.0, magic=magic, client_id=f"o{magic}", price=quote.ask)
        assert adapter.open_market(intent).ok
    # buy 0.2 at 2159.05 valued at the bid 2158.99: -1.20; sell 0.2 at 2158.99 valued at the
    # ask 2159.05: -1.20; margin 0.2 * 100 / 100 XAU at each fill price: 431.81 + 431.80
    assert adapter.account() == AccountSnapshot(10000.0, 9997.6, 863.61, 9133.99, "USD", 100)
    assert adapter.positions() == [
        Position(1000001, "XAUUSD", "buy", 0.2, 2159.05, 0.0, 0.0, 1710916200, 5, "tm o5",
                 -1.2, 0.0),
        Position(1000002, "XAUUSD", "sell", 0.2, 2158.99, 0.0, 0.0, 1710916200, 6, "tm o6",
                 -1.2, 0.0),
    ]
    assert [p.ticket for p in adapter.positions(magic=6)] == [1000002]
    assert [p.side for p in adapter.positions(symbol="XAUUSD", magic=5)] == ["buy"]
    assert adapter.positions(symbol="EURUSD") == []
    mt5.emu.replay.run_bar("XAUUSD", 0)  # close of bar 0: bid 2158.60, ask 2158.66
    assert adapter.quote("XAUUSD") == Quote(1710917099, 2158.60, 2158.66)
    buy, sell = adapter.positions()
    # (2158.60 - 2159.05) * 20 and (2158.99 - 2158.66) * 20
    assert (buy.profit, sell.profit) == (-9.0, 6.6)
    assert adapter.account().equity == 9997.6
    with pytest.raises(AttributeError):
        buy.volume = 1.0  # type: ignore[misc]


def test_calls_failing_raise_broker_error(xau_bars: Bars) -> None:
    adapter, _ = make_adapter(xau_bars)
    adapter.shutdown()
    for call in (adapter.account, adapter.positions, lambda: adapter.quote("XAUUSD"),
                 lambda: adapter.closed_bars("XAUUSD", Timeframe.M15, 3)):
        with pytest.raises(BrokerError, match="No IPC connection") as info:
            call()
        assert info.value.code == -10004


def test_closed_bars_are_the_real_bars(xau_bars: Bars) -> None:
    adapter, mt5 = make_adapter(xau_bars)
    mt5.emu.replay.open_bar("XAUUSD", 10)
    bars = adapter.closed_bars("XAUUSD", Timeframe.M15, 3)
    assert bars["time"].tolist() == xau_bars.rates["time"][7:10].tolist()
    assert bars["close"].tolist() == xau_bars.rates["close"][7:10].tolist()


def test_connect_failure() -> None:
    adapter = MT5Adapter(MT5Emulator())
    with pytest.raises(BrokerError, match="initialize failed"):
        adapter.connect(login=1)


@pytest.mark.skipif(platform.system() == "Windows", reason="the real package exists there")
def test_import_metatrader5_off_windows() -> None:
    with pytest.raises(ConfigError, match=r"'mt5' extra") as info:
        import_metatrader5()
    assert "pip install 'trademaestro[mt5]'" in str(info.value)
    assert platform.system() in str(info.value)
