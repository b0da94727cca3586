"""Money formulas against MT5_API.md §8.2 worked figures, and symbol specifications."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trademaestro.brokers.emulator import (
    EmulatorConfig,
    MT5Emulator,
    load_symbol_specs,
    spec_for,
)
from trademaestro.core.errors import ConfigError, SymbolError


@pytest.fixture()
def doc_quotes() -> MT5Emulator:
    """USD account, leverage 100, quotes of the documentation samples."""
    emu = MT5Emulator(EmulatorConfig(leverage=100))
    emu.initialize()
    emu.replay.set_quote("EURUSD", 1.09905, 1.09910, 1585070338)
    emu.replay.set_quote("USDJPY", 108.178, 108.183, 1585070338)
    return emu


def test_margin_worked_figures(doc_quotes: MT5Emulator) -> None:
    emu = doc_quotes
    # EURUSD 0.1 lot: 0.1 * 100000 / 100 = 100 EUR at 1.0991 -> 109.91 USD
    assert emu.order_calc_margin(emu.ORDER_TYPE_BUY, "EURUSD", 0.1, 1.0991) == 109.91
    # USDJPY 0.1 lot: margin currency is USD -> 100.0
    assert emu.order_calc_margin(emu.ORDER_TYPE_BUY, "USDJPY", 0.1, 108.183) == 100.0
    assert emu.order_calc_margin(0, "USDJPY", 1, 108) == 1000.0  # "d" accepts ints
    assert emu.last_error() == (1, "Success")
    assert emu.order_calc_margin(0, "NOPE", 0.1, 1.0) is None
    assert emu.last_error() == (-1, "Terminal: Call failed")


def test_profit_worked_figures(doc_quotes: MT5Emulator) -> None:
    emu = doc_quotes
    ask, bid = 1.09910, 1.09905
    assert emu.order_calc_profit(0, "EURUSD", 1.0, ask, ask + 0.003) == 300.0
    assert emu.order_calc_profit(1, "EURUSD", 1.0, bid, bid - 0.003) == 300.0
    # USDJPY 300 points = 30000 JPY converted at the close price
    assert emu.order_calc_profit(0, "USDJPY", 1.0, 108.183, 108.483) == 276.54
    assert emu.order_calc_profit(1, "USDJPY", 1.0, 108.178, 107.878) == 278.09
    assert emu.order_calc_profit(2, "USDJPY", 1.0, 108.178, 107.878) is None
    assert emu.last_error() == (-2, "Terminal: Invalid params")


def test_tick_values_follow_quotes(doc_quotes: MT5Emulator) -> None:
    jpy = doc_quotes.symbol_info("USDJPY")
    # 100 JPY per tick per lot: divided by the ask for gains, by the bid for losses
    assert jpy.trade_tick_value == pytest.approx(100 / 108.183, rel=1e-12)
    assert jpy.trade_tick_value_loss == pytest.approx(100 / 108.178, rel=1e-12)
    assert jpy.trade_tick_value_profit < jpy.trade_tick_value_loss
    assert doc_quotes.symbol_info("EURUSD").trade_tick_value == pytest.approx(1.0, rel=1e-12)
    assert doc_quotes.symbol_info("EURUSD").spread == 5


def test_usdjpy_position_profit_in_usd(doc_quotes: MT5Emulator) -> None:
    emu = doc_quotes
    res = emu.order_send({"action": 1, "symbol": "USDJPY", "volume": 1.0, "type": 0})
    assert (res.retcode, res.price) == (10009, 108.183)
    emu.replay.set_quote("USDJPY", 108.483, 108.488)
    pos = emu.positions_get()[0]
    assert pos.profit == 276.54  # 30000 JPY / 108.483
    out = emu.order_send({"action": 1, "symbol": "USDJPY", "volume": 1.0, "type": 1,
                          "position": res.order})
    deal = emu.history_deals_get(ticket=out.order)[0]
    assert deal.profit == 276.54
    assert emu.account_info().balance == 10276.54


def test_spec_for_and_defaults() -> None:
    assert spec_for("XAUUSD").contract_size == 100.0
    assert spec_for("USDJPY").point == 0.001
    with pytest.raises(SymbolError, match=r"no specification for symbol 'XAGUSD'; known: "
                                          r"EURUSD, GBPUSD, USDJPY, XAUUSD"):
        spec_for("XAGUSD")


def test_load_symbol_specs_merges(tmp_path: Path) -> None:
    path = tmp_path / "specs.json"
    path.write_text(json.dumps({
        "XAUUSD": {"stops_level": 20, "swap_long": -60},
        "EURJPY": {"like": "EURUSD", "digits": 3, "currency_profit": "JPY"},
    }))
    specs = load_symbol_specs(path)
    assert specs["XAUUSD"].stops_level == 20 and specs["XAUUSD"].swap_long == -60.0
    assert specs["XAUUSD"].contract_size == 100.0
    eurjpy = specs["EURJPY"]
    assert (eurjpy.point, eurjpy.tick_size, eurjpy.currency_profit) == (0.001, 0.001, "JPY")
    assert set(specs) == {"XAUUSD", "EURUSD", "GBPUSD", "USDJPY", "EURJPY"}
    emu = MT5Emulator(EmulatorConfig(symbols=specs))
    emu.initialize()
    assert emu.symbol_info("EURJPY").digits == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"XAUUSD": {"stops_levle": 5}}', r"XAUUSD\.stops_levle: unknown field"),
        ('{"XAUUSD": {"digits": "2"}}', r"XAUUSD\.digits: found '2'; allowed: a JSON int"),
        ('{"NEW": {"digits": 2}}', r"NEW: missing contract_size"),
        ('{"NEW": {"like": "NOPE"}}', r"NEW\.like: found 'NOPE'"),
        ('{"XAUUSD": {"volume_step": -1}}', r"XAUUSD: .*volume_step -1.0 must be"),
        ('{"XAUUSD": [1]}', r"XAUUSD: found \[1\]"),
        ('{"XAUUSD": ', r":1: invalid JSON"),
    ],
)
def test_load_symbol_specs_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_symbol_specs(path)
    assert str(path) in str(info.value)
