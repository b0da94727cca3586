"""Builders of the record results (SymbolInfo, Tick, AccountInfo, TerminalInfo) and of the
``copy_rates_*`` arrays from the emulator state. Called by API functions, never on the replay
hot path."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np

from .config import EmulatorConfig
from .ledger import Ledger
from .money import Money
from .results import AccountInfo, SymbolInfo, TerminalInfo, Tick
from .state import Market

TICK_FLAGS = 6  # TICK_FLAG_BID | TICK_FLAG_ASK


def tick(market: Market) -> Any:
    """The ``Tick`` of the current quote (zeros when the symbol has no quote yet); in tick
    replay, the replayed tick itself (its ``time_msc`` and ``flags``)."""
    k = market.tick_k
    if k >= 0 and market.tape is not None:
        row = market.tape.ticks[k]
        return tuple.__new__(Tick, (market.time, market.bid, market.ask, float(row["last"]),
                                    int(row["volume"]), int(row["time_msc"]),
                                    int(row["flags"]), float(row["volume_real"])))
    t = market.time
    return tuple.__new__(Tick, (t, market.bid, market.ask, 0.0, 0, t * 1000,
                                TICK_FLAGS if market.bid > 0.0 else 0, 0.0))


def symbol_info(market: Market, money: Money) -> Any:
    """The 96-field ``SymbolInfo`` of ``market``: static spec plus live quote and tick values."""
    s = market.spec
    bid, ask = market.bid, market.ask
    spread = round((ask - bid) / s.point) if bid > 0.0 else s.spread
    high = low = bid
    if market.index >= 0 and market.formed:
        high, low = market.highs[market.index], market.lows[market.index]
    elif market.tick_k >= 0 and market.tape is not None:
        _, high, low, _, _, _ = market.tape.forming(market.index, market.tick_k)
    sp = ask - bid
    tv_profit, tv_loss = money.tick_values(s)
    values = (
        s.custom, s.chart_mode, market.selected, market.selected, 0, 0, 0, 0, 0, 0,
        market.time, s.digits, spread, s.spread_float, s.ticks_bookdepth, s.calc_mode,
        s.trade_mode, 0, 0, s.stops_level, s.freeze_level, s.exemode, s.swap_mode,
        s.swap_rollover3days, s.margin_hedged_use_leg, s.expiration_mode, s.filling_mode,
        s.order_mode, s.order_gtc_mode, 0, 0, bid, high, low, ask,
        round(high + sp, s.digits), round(low + sp, s.digits), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, s.point, tv_profit, tv_profit, tv_loss, s.tick_size, s.contract_size, 0.0, 0.0,
        0.0, s.volume_min, s.volume_max, s.volume_step, s.volume_limit, s.swap_long,
        s.swap_short, s.margin_initial, s.margin_maintenance,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        s.margin_hedged, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        s.basis, s.category, s.currency_base, s.currency_profit, s.currency_margin, s.bank,
        s.description, s.exchange, s.formula, s.isin, s.name, s.page, s.path,
    )
    return SymbolInfo(values)


def account_info(config: EmulatorConfig, ledger: Ledger) -> Any:
    """The 28-field ``AccountInfo`` of the hedging account (money in the account currency)."""
    profit, equity, margin, free, level = ledger.figures()
    return tuple.__new__(AccountInfo, (
        config.login, config.account_trade_mode, config.leverage, config.limit_orders, 0,
        config.account_trade_allowed, config.trade_expert, 2, config.currency_digits, False,
        ledger.balance, 0.0, profit, equity, margin, free, level, config.margin_so_call,
        config.margin_so_so, 0.0, 0.0, 0.0, 0.0, 0.0, config.name, config.server,
        config.currency, config.company,
    ))


def terminal_info(config: EmulatorConfig) -> Any:
    """The 22-field ``TerminalInfo`` of the emulated terminal."""
    path = "C:\\Program Files\\MetaTrader 5"
    return TerminalInfo((
        False, False, config.connected, False, config.terminal_trade_allowed,
        config.tradeapi_disabled, False, False, False, False, config.terminal_build,
        config.maxbars, 1252, 0, 0.0, 0.0, config.company, "MetaTrader 5", "English", path,
        path, "C:\\Users\\trader\\AppData\\Roaming\\MetaQuotes\\Terminal\\Common",
    ))


@lru_cache(maxsize=256)
def _group_rules(group: str) -> tuple[tuple[bool, re.Pattern[str]], ...]:
    rules = []
    for raw in group.split(","):
        cond = raw.strip()
        exclude = cond.startswith("!")
        pattern = cond[1:] if exclude else cond
        regex = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$", re.IGNORECASE)
        rules.append((exclude, regex))
    return tuple(rules)


def group_match(name: str, group: str) -> bool:
    """MT5 group filter (§2.3): comma-separated ``*`` patterns applied left to right, ``!``
    excludes; a name matches when the last condition that matches it is an inclusion."""
    result = False
    for exclude, regex in _group_rules(group):
        if regex.match(name):
            result = not exclude
    return result


def _with_forming(market: Market, rows: np.ndarray[Any, Any], end: int) -> np.ndarray[Any, Any]:
    """Copy ``rows``; when they end at the current, unformed bar show it as seen now: at its
    first tick in bar replay, with its ticks so far in tick replay."""
    out = rows.copy()
    if len(out) and end == market.index + 1 and not market.formed:
        last = out[-1:]
        tape = market.tape
        if market.tick_k >= 0 and tape is not None:
            o, h, lo, c, count, spread = tape.forming(market.index, market.tick_k)
            last["open"], last["high"], last["low"], last["close"] = o, h, lo, c
            last["tick_volume"] = count
            last["spread"] = spread
        else:
            price = last["open"][0]
            last["high"] = last["low"] = last["close"] = price
            last["tick_volume"] = 1
        last["real_volume"] = 0
    return out


def rates_from_pos(market: Market, start: int, count: int) -> np.ndarray[Any, Any]:
    """``copy_rates_from_pos``: bars ``start+count-1 … start`` back from the current one."""
    end = market.index + 1 - start
    begin = max(0, end - count)
    end = max(end, 0)
    return _with_forming(market, market.rates[begin:end], end)


def rates_from(market: Market, date: int, count: int) -> np.ndarray[Any, Any]:
    """``copy_rates_from``: the ``count`` visible bars whose open time ≤ ``date``."""
    visible = market.rates["time"][: market.index + 1]
    end = int(np.searchsorted(visible, date, side="right"))
    begin = max(0, end - count)
    return _with_forming(market, market.rates[begin:end], end)


def rates_range(market: Market, date_from: int, date_to: int) -> np.ndarray[Any, Any]:
    """``copy_rates_range``: visible bars with ``date_from ≤ open time ≤ date_to``."""
    visible = market.rates["time"][: market.index + 1]
    begin = int(np.searchsorted(visible, date_from, side="left"))
    end = int(np.searchsorted(visible, date_to, side="right"))
    end = max(begin, end)
    return _with_forming(market, market.rates[begin:end], end)
