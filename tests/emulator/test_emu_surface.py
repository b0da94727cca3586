"""The MetaTrader5 surface: constants, result types, calling conventions, error model."""

from __future__ import annotations

import pickle

import pytest

from trademaestro.brokers.emulator import CONSTANT_NAMES, EmulatorConfig, MT5Emulator
from trademaestro.brokers.emulator import results as res

FIELDS = {
    "AccountInfo": 28, "TerminalInfo": 22, "SymbolInfo": 96, "Tick": 8, "TradePosition": 19,
    "TradeOrder": 24, "TradeDeal": 18, "TradeRequest": 17, "OrderSendResult": 11,
    "OrderCheckResult": 9, "BookInfo": 4,
}


def test_constants_exact_names_and_values() -> None:
    emu = MT5Emulator()
    assert len(CONSTANT_NAMES) == 223
    assert emu.TIMEFRAME_H1 == 16385 and emu.TIMEFRAME_D1 == 16408
    assert emu.TIMEFRAME_W1 == 32769 and emu.TIMEFRAME_MN1 == 49153
    assert emu.RES_E_INTERNAL_FAIL_CONNECT == -10004
    assert emu.TRADE_ACTION_CLOSE_BY == 10 and emu.ORDER_FILLING_BOC == 3
    assert emu.DEAL_DIVIDEND == 15 and emu.DEAL_TAX == 17 and emu.COPY_TICKS_ALL == -1
    assert emu.TRADE_RETCODE_FIFO_CLOSE == 10045 and emu.SYMBOL_CALC_MODE_SERV_COLLATERAL == 64
    for missing in ("SYMBOL_FILLING_FOK", "TRADE_RETCODE_HEDGE_PROHIBITED", "DEAL_TYPE_TAX"):
        assert not hasattr(emu, missing)
    assert emu.__author__ == "MetaQuotes Ltd." and emu.__version__ == "5.0.6231"


def test_result_types_field_order_and_counts() -> None:
    for name, count in FIELDS.items():
        kind = getattr(MT5Emulator, name)
        assert kind.n_fields == count, name
        assert not hasattr(kind, "_fields")
    assert res.TradeDeal.__match_args__ == (
        "ticket", "order", "time", "time_msc", "type", "entry", "magic", "position_id",
        "reason", "volume", "price", "commission", "swap", "profit", "fee", "symbol",
        "comment", "external_id")
    assert res.TradePosition.__match_args__[:9] == (
        "ticket", "time", "time_msc", "time_update", "time_update_msc", "type", "magic",
        "identifier", "reason")
    assert res.OrderSendResult.__match_args__ == (
        "retcode", "deal", "order", "volume", "price", "bid", "ask", "comment", "request_id",
        "retcode_external", "request")
    assert res.OrderCheckResult.__match_args__[-2:] == ("comment", "request")
    assert res.SymbolInfo.__match_args__[44:50] == (
        "point", "trade_tick_value", "trade_tick_value_profit", "trade_tick_value_loss",
        "trade_tick_size", "trade_contract_size")
    assert res.SymbolInfo.__match_args__[-1] == "path"
    assert res.AccountInfo.__match_args__[10:17] == (
        "balance", "credit", "profit", "equity", "margin", "margin_free", "margin_level")


def test_result_type_behaves_like_structseq() -> None:
    tick = res.Tick((1, 2.5, 2.6, 0.0, 0, 1000, 6, 0.0))
    assert isinstance(tick, tuple) and tick.ask == 2.6 and tick[1] == 2.5
    assert repr(tick) == ("Tick(time=1, bid=2.5, ask=2.6, last=0.0, volume=0, time_msc=1000, "
                          "flags=6, volume_real=0.0)")
    assert tick._asdict() == {"time": 1, "bid": 2.5, "ask": 2.6, "last": 0.0, "volume": 0,
                              "time_msc": 1000, "flags": 6, "volume_real": 0.0}
    assert pickle.loads(pickle.dumps(tick)) == tick
    with pytest.raises(TypeError, match="8-sequence"):
        res.Tick((1, 2))
    with pytest.raises(AttributeError):
        tick.bid = 3.0  # type: ignore[misc]


def test_not_initialized_and_shutdown_give_no_ipc() -> None:
    emu = MT5Emulator()
    assert emu.last_error() == (1, "Success")
    assert emu.account_info() is None
    assert emu.last_error() == (-10004, "No IPC connection")
    assert emu.symbol_select("XAUUSD", True) is False
    assert emu.last_error() == (-10004, "No IPC connection")
    assert emu.order_send({"action": 1}) is None
    assert emu.initialize() is True and emu.last_error() == (1, "Success")
    assert emu.version() == (500, 5200, "01 Aug 2025")
    assert emu.shutdown() is None
    assert emu.positions_get() is None and emu.last_error() == (-10004, "No IPC connection")


def test_every_call_resets_error_but_last_error() -> None:
    emu = MT5Emulator()
    emu.initialize()
    assert emu.symbol_info("NOPE") is None
    assert emu.last_error() == (-1, "Terminal: Call failed")
    assert emu.last_error() == (-1, "Terminal: Call failed")  # last_error does not reset
    assert emu.symbols_total() == 4
    assert emu.last_error() == (1, "Success")


def test_calling_conventions_raise_typeerror() -> None:
    emu = MT5Emulator()
    emu.initialize()
    emu.symbol_info("NOPE")
    with pytest.raises(TypeError, match=r"symbol_select\(\) takes no keyword arguments"):
        emu.symbol_select("XAUUSD", enable=True)
    with pytest.raises(TypeError, match="takes no keyword arguments"):
        emu.copy_rates_from(symbol="XAUUSD", timeframe=15, date_from=0, count=1)
    with pytest.raises(TypeError, match=r"shutdown\(\) takes no arguments \(1 given\)"):
        emu.shutdown(1)
    with pytest.raises(TypeError):
        emu.last_error(1)
    # raised by CPython before the function body runs: the previous error is untouched
    assert emu.last_error() == (-1, "Terminal: Call failed")
    # PyArg_ParseTuple errors happen inside the body, after the reset to Success
    with pytest.raises(TypeError, match="exactly 4 arguments"):
        emu.copy_rates_from_pos("XAUUSD", 15, 0)
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        emu.copy_rates_from_pos("XAUUSD", 15.0, 0, 1)
    with pytest.raises(TypeError, match="must be real number, not str"):
        emu.order_calc_margin(0, "XAUUSD", "1", 2000.0)
    assert emu.last_error() == (1, "Success")


def test_keyword_functions_argument_errors() -> None:
    emu = MT5Emulator()
    emu.initialize()
    assert emu.positions_get("XAUUSD") is None
    assert emu.last_error() == (-2, "Unnamed arguments not allowed")
    assert emu.positions_get(symbol=5) is None
    assert emu.last_error() == (-2, 'Invalid "symbol" argument')
    assert emu.positions_get(symbol="XAUUSD", bogus=1) == ()
    assert emu.initialize("a", "b") is False
    assert emu.last_error() == (-2, "Invalid number of arguments")
    assert emu.initialize(5) is False
    assert emu.last_error() == (-2, "Invalid 1st unnamed argument")
    assert emu.initialize(login="1") is False
    assert emu.last_error() == (-2, 'Invalid "login" argument')
    assert emu.history_deals_get(date_from=0) is None
    assert emu.last_error() == (-2, "Invalid arguments")
    assert emu.history_deals_get(0) is None
    assert emu.last_error() == (-2, "Invalid number of arguments")
    with pytest.raises(SystemError) as info:
        emu.positions_get(ticket=-1)
    assert isinstance(info.value.__cause__, OverflowError)
    assert emu.last_error()[0] == -2


def test_login_and_authorization() -> None:
    emu = MT5Emulator(EmulatorConfig(login=777, password="pw", server="Srv"))
    assert emu.initialize(login=778, password="pw", server="Srv") is False
    assert emu.last_error() == (-6, "Terminal: Authorization failed")
    assert emu.initialize(login=777, password="pw", server="Srv") is True
    assert emu.login(777, password="pw") is True
    assert emu.login(777, password="bad") is False
    assert emu.last_error() == (-6, "Terminal: Authorization failed")
    assert emu.login("777") is False
    assert emu.last_error() == (-2, "Invalid 1st unnamed argument")


def test_account_terminal_and_symbols() -> None:
    emu = MT5Emulator(EmulatorConfig(balance=2500.0, leverage=200))
    emu.initialize()
    acc = emu.account_info()
    assert (acc.balance, acc.equity, acc.margin, acc.margin_free, acc.margin_level) == (
        2500.0, 2500.0, 0.0, 2500.0, 0.0)
    assert (acc.leverage, acc.margin_mode, acc.currency, acc.margin_so_so) == (200, 2, "USD", 30.0)
    term = emu.terminal_info()
    assert term.connected and term.trade_allowed and not term.tradeapi_disabled
    assert term.name == "MetaTrader 5" and term.build == 5200
    names = [s.name for s in emu.symbols_get()]
    assert names == ["XAUUSD", "EURUSD", "GBPUSD", "USDJPY"]
    assert [s.name for s in emu.symbols_get("*USD*,!*JPY*,!XAU*")] == ["EURUSD", "GBPUSD"]
    assert [s.name for s in emu.symbols_get(group="*JPY")] == ["USDJPY"]
    info = emu.symbol_info("XAUUSD")
    assert (info.digits, info.point, info.trade_contract_size, info.trade_tick_size) == (
        2, 0.01, 100.0, 0.01)
    assert (info.volume_min, info.volume_max, info.volume_step) == (0.01, 100.0, 0.01)
    assert (info.filling_mode, info.trade_exemode, info.order_mode) == (3, 2, 127)
    assert info.trade_tick_value == pytest.approx(1.0, abs=1e-12)
    assert (info.currency_profit, info.spread, info.bid) == ("USD", 9, 0.0)
    # no quote yet: a zero tick, like a terminal without data
    assert emu.symbol_info_tick("XAUUSD") == (0, 0.0, 0.0, 0.0, 0, 0, 0, 0.0)
    assert emu.symbol_select("XAUUSD", False) is True
    assert emu.symbol_info_tick("XAUUSD") is None
    assert emu.last_error() == (-1, "Terminal: Call failed")
    assert emu.symbol_info("XAUUSD").select is False
    assert emu.symbol_select("XAUUSD") is True and emu.symbol_info_tick("XAUUSD") is not None
    assert emu.symbol_info(1) is None and emu.last_error() == (-2, "Invalid arguments")


def test_tradeapi_disabled_gives_minus_8() -> None:
    emu = MT5Emulator(EmulatorConfig(tradeapi_disabled=True))
    emu.initialize()
    assert emu.order_check({"action": 1}) is None
    assert emu.last_error() == (-8, "Auto-Trading using Python API disabled in Terminal")
