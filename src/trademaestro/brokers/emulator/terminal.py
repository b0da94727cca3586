"""``MT5Emulator``: a drop-in stand-in for ``import MetaTrader5 as mt5`` (MT5_API.md 5.0.6231).

Faithful surface: the 223 constants (class attributes), the 11 result types, and the functions
``initialize login shutdown last_error version account_info terminal_info symbols_total
symbols_get symbol_info symbol_info_tick symbol_select copy_rates_from copy_rates_from_pos
copy_rates_range positions_total positions_get orders_total orders_get history_orders_total
history_deals_total history_orders_get history_deals_get order_calc_margin order_calc_profit
order_check order_send`` with the real calling conventions (§1.1: ``TypeError`` for any argument
to a no-argument function and for keywords to a positional-only one) and error model (§1.2–1.4:
``last_error`` reset to ``(1, 'Success')`` on every call but ``last_error`` itself; -10004
``No IPC connection`` before ``initialize``/after ``shutdown``; client-side -2 messages; the
``SystemError`` of negative unsigned values and out-of-range dates).

Choices where the reference leaves the exact value open (inferred, documented here): a symbol
argument that is not a str and an unconvertible date give ``(-2, 'Invalid arguments')``; an
unknown symbol gives ``(-1, 'Terminal: Call failed')``; an invalid timeframe, a count <= 0 or an
``order_calc_*`` action out of range give ``(-2, 'Terminal: Invalid params')``; bars of a
timeframe that was not loaded give ``(-1, 'Terminal: Call failed')``.

Our own additions, outside the MT5 surface: ``emu.replay`` (:class:`Replay`, the driver) and
``emu.faults`` (a hook consulted at the start of every API call; no-op by default).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol

import numpy as np

from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.timeframes import Timeframe

from . import info
from . import results as res
from .args import (
    ArgError,
    PendingOverflow,
    check_arity,
    no_keywords,
    parse_d,
    parse_i,
    parse_k,
    system_error,
    to_time,
    unsigned,
    wide_str,
)
from .config import EmulatorConfig
from .constants import MT5_PACKAGE_AUTHOR, MT5_PACKAGE_VERSION, MT5Constants
from .ledger import Ledger
from .replay import Replay
from .request import parse_request
from .state import Market
from .trading import TradeServer

_SUCCESS = (1, "Success")
_NO_IPC = (-10004, "No IPC connection")
_CALL_FAILED = (-1, "Terminal: Call failed")
_INVALID_PARAMS = (-2, "Terminal: Invalid params")
_AUTH_FAILED = (-6, "Terminal: Authorization failed")
_API_DISABLED = (-8, "Auto-Trading using Python API disabled in Terminal")
_TIMEFRAMES = frozenset(int(t) for t in Timeframe)


class FaultHook(Protocol):
    """Seam for fault injection: consulted at the start of every API call (after the error
    reset). It may raise, or mutate the emulator; the default does nothing."""

    def before_call(self, function: str) -> None:
        """Called with the API function name (e.g. ``"order_send"``)."""


class NoFaults:
    """The default :class:`FaultHook`: no faults."""

    def before_call(self, function: str) -> None:
        """Do nothing."""


class _Fail(Exception):
    """Internal: end the call with ``last_error = error`` and the function's failure value."""

    def __init__(self, error: tuple[int, str]) -> None:
        super().__init__(error[1])
        self.error = error


def _api(kind: str, failure: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap an API method with the C module's calling convention and error model.

    ``kind``: ``"noargs"`` (METH_NOARGS), ``"varargs"`` (positional only) or ``"kw"``.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = fn.__name__

        @wraps(fn)
        def call(self: MT5Emulator, *args: Any, **kwargs: Any) -> Any:
            if kind == "noargs":
                if kwargs:
                    raise TypeError(f"{name}() takes no keyword arguments")
                if args:
                    raise TypeError(f"{name}() takes no arguments ({len(args)} given)")
            elif kind == "varargs":
                no_keywords(name, kwargs)
            self._error = _SUCCESS
            self.faults.before_call(name)
            try:
                return fn(self, *args, **kwargs)
            except ArgError as exc:
                self._error = (exc.code, exc.message)
            except _Fail as exc:
                self._error = exc.error
            except PendingOverflow as exc:
                self._error = (-2, exc.message)
                raise system_error(name, exc) from exc.cause
            return failure

        return call

    return decorate


class MT5Emulator(MT5Constants):
    """The emulated ``MetaTrader5`` module, driven by replayed bars (see :mod:`.replay`).

    Args:
        config: account/broker/terminal settings (default :class:`EmulatorConfig()`).
        clock: optional callable returning server time (seconds) used to stamp API trades;
            default: the replay clock (time of the latest quote).
        faults: fault-injection hook (default :class:`NoFaults`).
    """

    __version__ = MT5_PACKAGE_VERSION
    __author__ = MT5_PACKAGE_AUTHOR
    AccountInfo = res.AccountInfo
    TerminalInfo = res.TerminalInfo
    SymbolInfo = res.SymbolInfo
    Tick = res.Tick
    TradePosition = res.TradePosition
    TradeOrder = res.TradeOrder
    TradeDeal = res.TradeDeal
    TradeRequest = res.TradeRequest
    OrderSendResult = res.OrderSendResult
    OrderCheckResult = res.OrderCheckResult
    BookInfo = res.BookInfo

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], int] | None = None,
        faults: FaultHook | None = None,
    ) -> None:
        self._config = config if config is not None else EmulatorConfig()
        self._ledger = Ledger(self._config, clock)
        self._server = TradeServer(self._ledger, self._config)
        self.replay = Replay(self._ledger, self._server, self._config)
        self.faults: FaultHook = faults if faults is not None else NoFaults()
        self._error: tuple[int, str] = _SUCCESS
        self._connected = False

    # ------------------------------------------------------------------ helpers
    def _online(self) -> None:
        if not self._connected:
            raise _Fail(_NO_IPC)

    def _market(self, symbol: Any) -> Market:
        if not isinstance(symbol, str):
            raise ArgError("Invalid arguments")
        self._online()
        market = self._ledger.markets.get(symbol)
        if market is None:
            raise _Fail(_CALL_FAILED)
        return market

    def _auth(self, login: Any, password: Any, server: Any) -> None:
        cfg = self._config
        if login is not None and login != cfg.login:
            raise _Fail(_AUTH_FAILED)
        if password is not None and cfg.password is not None and password != cfg.password:
            raise _Fail(_AUTH_FAILED)
        if server is not None and server != cfg.server:
            raise _Fail(_AUTH_FAILED)

    # ------------------------------------------------------------------ connection
    @_api("kw", False)
    def initialize(self, *args: Any, **kwargs: Any) -> bool:
        """``initialize([path], *, login, password, server, timeout, portable)`` → bool."""
        if len(args) > 1:
            raise ArgError("Invalid number of arguments")
        if args and (not isinstance(args[0], str) or len(args[0]) > 257):
            raise ArgError("Invalid 1st unnamed argument")
        login, password, server = _credentials(kwargs)
        if "path" in kwargs and not isinstance(kwargs["path"], str):
            raise ArgError('Invalid "path" argument')
        if "timeout" in kwargs and not isinstance(kwargs["timeout"], int):
            raise ArgError('Invalid "timeout" argument')
        self._auth(login, password, server)
        self._connected = True
        return True

    @_api("kw", False)
    def login(self, *args: Any, **kwargs: Any) -> bool:
        """``login(login, password=, server=, timeout=)`` → bool."""
        if len(args) > 3:
            raise ArgError("Invalid number of arguments")
        values = dict(kwargs)
        for key, value, text in zip(("login", "password", "server"), args,
                                    ("1st", "2nd", "3rd"), strict=False):
            ok = isinstance(value, int) if key == "login" else isinstance(value, str)
            if not ok:
                raise ArgError(f"Invalid {text} unnamed argument")
            values[key] = value
        if "login" not in values:
            raise ArgError("Invalid number of arguments")
        login, password, server = _credentials(values)
        self._online()
        self._auth(login, password, server)
        return True

    @_api("noargs")
    def shutdown(self) -> None:
        """Close the connection; later calls fail with ``(-10004, 'No IPC connection')``."""
        self._connected = False

    def last_error(self, *args: Any, **kwargs: Any) -> tuple[int, str]:
        """``(code, description)`` of the last call; does not reset it."""
        if kwargs:
            raise TypeError("last_error() takes no keyword arguments")
        if args:
            raise TypeError(f"last_error() takes no arguments ({len(args)} given)")
        return self._error

    @_api("noargs")
    def version(self) -> tuple[int, int, str] | None:
        """``(500, build, 'DD Mon YYYY')``."""
        self._online()
        return (500, self._config.terminal_build, self._config.terminal_build_date)

    @_api("noargs")
    def account_info(self) -> Any:
        """``AccountInfo`` of the emulated hedging account."""
        self._online()
        return info.account_info(self._config, self._ledger)

    @_api("noargs")
    def terminal_info(self) -> Any:
        """``TerminalInfo`` of the emulated terminal."""
        self._online()
        return info.terminal_info(self._config)

    # ------------------------------------------------------------------ symbols
    @_api("noargs")
    def symbols_total(self) -> int | None:
        """Number of symbols the emulated server offers."""
        self._online()
        return len(self._ledger.markets)

    @_api("kw")
    def symbols_get(self, *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        """``symbols_get([group])`` → tuple of ``SymbolInfo``."""
        if len(args) > 1 or (args and "group" in kwargs):
            raise ArgError("Invalid number of arguments")
        group = args[0] if args else kwargs.get("group")
        if group is not None and (not isinstance(group, str) or len(group) > 1997):
            raise ArgError('Invalid "group" argument')
        self._online()
        money = self._ledger.money
        return tuple(info.symbol_info(m, money) for n, m in self._ledger.markets.items()
                     if group is None or info.group_match(n, group))

    @_api("varargs")
    def symbol_info(self, *args: Any) -> Any:
        """``symbol_info(symbol)`` → ``SymbolInfo``."""
        check_arity(args, 1, 1)
        return info.symbol_info(self._market(args[0]), self._ledger.money)

    @_api("varargs")
    def symbol_info_tick(self, *args: Any) -> Any:
        """``symbol_info_tick(symbol)`` → ``Tick``; None for a symbol not in Market Watch."""
        check_arity(args, 1, 1)
        market = self._market(args[0])
        if not market.selected:
            raise _Fail(_CALL_FAILED)
        return info.tick(market)

    @_api("varargs", False)
    def symbol_select(self, *args: Any) -> bool:
        """``symbol_select(symbol[, enable=True])`` → bool."""
        check_arity(args, 1, 2)
        market = self._market(args[0])
        enable = bool(args[1]) if len(args) == 2 else True
        if not enable and (market.positions or market.orders):
            raise _Fail(_CALL_FAILED)
        market.selected = enable
        return True

    # ------------------------------------------------------------------ bars
    def _bars(self, symbol: Any, timeframe: int) -> Market:
        market = self._market(symbol)
        if timeframe not in _TIMEFRAMES:
            raise _Fail(_INVALID_PARAMS)
        if market.timeframe != timeframe or market.index < 0:
            raise _Fail(_CALL_FAILED)
        return market

    @_api("varargs")
    def copy_rates_from(self, *args: Any) -> np.ndarray[Any, Any] | None:
        """``copy_rates_from(symbol, timeframe, date_from, count)`` → RATES_DTYPE array."""
        check_arity(args, 4, 4)
        timeframe, count = parse_i(args[1]), parse_i(args[3])
        date = to_time(args[2], "Invalid arguments")
        market = self._bars(args[0], timeframe)
        if count <= 0:
            raise _Fail(_INVALID_PARAMS)
        return info.rates_from(market, date, count)

    @_api("varargs")
    def copy_rates_from_pos(self, *args: Any) -> np.ndarray[Any, Any] | None:
        """``copy_rates_from_pos(symbol, timeframe, start_pos, count)`` (0 = forming bar)."""
        check_arity(args, 4, 4)
        timeframe, start, count = parse_i(args[1]), parse_i(args[2]), parse_i(args[3])
        market = self._bars(args[0], timeframe)
        if count <= 0 or start < 0:
            raise _Fail(_INVALID_PARAMS)
        return info.rates_from_pos(market, start, count)

    @_api("varargs")
    def copy_rates_range(self, *args: Any) -> np.ndarray[Any, Any] | None:
        """``copy_rates_range(symbol, timeframe, date_from, date_to)`` (both inclusive)."""
        check_arity(args, 4, 4)
        timeframe = parse_i(args[1])
        date_from = to_time(args[2], "Invalid arguments")
        date_to = to_time(args[3], "Invalid arguments")
        market = self._bars(args[0], timeframe)
        if date_to < date_from:
            return np.zeros(0, dtype=RATES_DTYPE)
        return info.rates_range(market, date_from, date_to)

    # ------------------------------------------------------------------ positions / orders
    def _filters(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
        if args:
            raise ArgError("Unnamed arguments not allowed")
        symbol = kwargs.get("symbol")
        group = kwargs.get("group")
        ticket = kwargs.get("ticket")
        if symbol is not None:
            wide_str(symbol, 'Invalid "symbol" argument')
        if group is not None and not isinstance(group, str):
            raise ArgError('Invalid "group" argument')
        if ticket is not None:
            ticket = unsigned(ticket, 'Invalid "ticket" argument')
        self._online()
        return symbol, group, ticket

    @staticmethod
    def _keep(name: str, ticket: int, symbol: Any, group: Any, wanted: Any) -> bool:
        if symbol is not None:
            return bool(name == symbol)
        if group is not None:
            return info.group_match(name, group)
        return wanted is None or ticket == wanted

    @_api("noargs")
    def positions_total(self) -> int | None:
        """Number of open positions."""
        self._online()
        return len(self._ledger.positions)

    @_api("kw")
    def positions_get(self, *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        """``positions_get(*, symbol=, group=, ticket=)`` → tuple of ``TradePosition``."""
        symbol, group, ticket = self._filters(args, kwargs)
        ledger = self._ledger
        return tuple(p.as_tuple(ledger.close_price(p), ledger.floating(p))
                     for p in ledger.positions.values()
                     if self._keep(p.symbol, p.ticket, symbol, group, ticket))

    @_api("noargs")
    def orders_total(self) -> int | None:
        """Number of active pending orders."""
        self._online()
        return len(self._ledger.orders)

    @_api("kw")
    def orders_get(self, *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        """``orders_get(*, symbol=, group=, ticket=)`` → tuple of ``TradeOrder``."""
        symbol, group, ticket = self._filters(args, kwargs)
        markets = self._ledger.markets
        return tuple(
            o.as_tuple(markets[o.symbol].ask if o.type in (2, 4, 6) else markets[o.symbol].bid)
            for o in self._ledger.orders.values()
            if self._keep(o.symbol, o.ticket, symbol, group, ticket))

    # ------------------------------------------------------------------ history
    def _range(self, args: tuple[Any, ...]) -> tuple[int, int]:
        check_arity(args, 2, 2)
        date_from = to_time(args[0], "Invalid arguments")
        date_to = to_time(args[1], "Invalid arguments")
        self._online()
        return date_from, date_to

    @_api("varargs")
    def history_orders_total(self, *args: Any) -> int | None:
        """``history_orders_total(date_from, date_to)`` → int."""
        lo, hi = self._range(args)
        return sum(1 for o in self._ledger.history_orders if lo <= o[1] <= hi)

    @_api("varargs")
    def history_deals_total(self, *args: Any) -> int | None:
        """``history_deals_total(date_from, date_to)`` → int."""
        lo, hi = self._range(args)
        return sum(1 for d in self._ledger.deals if lo <= d[2] <= hi)

    def _history(self, records: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 time_i: int, ticket_i: int, position_i: int, symbol_i: int) -> tuple[Any, ...]:
        if len(args) == 2:
            lo, hi = (to_time(a, "Invalid arguments") for a in args)
            group = kwargs.get("group")
            if group is not None and not isinstance(group, str):
                raise ArgError('Invalid "group" argument')
            self._online()
            return tuple(r for r in records if lo <= r[time_i] <= hi
                         and (group is None or info.group_match(r[symbol_i], group)))
        if args:
            raise ArgError("Invalid number of arguments")
        if "ticket" in kwargs:
            wanted, index = unsigned(kwargs["ticket"], 'Invalid "ticket" argument'), ticket_i
        elif "position" in kwargs:
            wanted = unsigned(kwargs["position"], 'Invalid "position" argument')
            index = position_i
        else:
            raise ArgError("Invalid arguments")
        self._online()
        return tuple(r for r in records if r[index] == wanted)

    @_api("kw")
    def history_orders_get(self, *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        """``history_orders_get(date_from, date_to[, group=])`` | ``(ticket=)`` |
        ``(position=)`` → tuple of ``TradeOrder`` (range on ``time_setup``)."""
        return self._history(self._ledger.history_orders, args, kwargs, 1, 0, 11, 21)

    @_api("kw")
    def history_deals_get(self, *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        """``history_deals_get(date_from, date_to[, group=])`` | ``(ticket=ORDER)`` |
        ``(position=)`` → tuple of ``TradeDeal``; ``ticket`` matches the deal's ``order``
        (documented) unless ``deals_ticket_matches == 'ticket'``."""
        ticket_i = 1 if self._config.deals_ticket_matches == "order" else 0
        return self._history(self._ledger.deals, args, kwargs, 2, ticket_i, 7, 15)

    # ------------------------------------------------------------------ calculations
    @_api("varargs")
    def order_calc_margin(self, *args: Any) -> float | None:
        """``order_calc_margin(order_type, symbol, volume, price)`` → account currency."""
        check_arity(args, 4, 4)
        action, volume, price = parse_k(args[0]), parse_d(args[2]), parse_d(args[3])
        market = self._market(args[1])
        if action > 7 or volume <= 0.0 or price <= 0.0:
            raise _Fail(_INVALID_PARAMS)
        margin = self._ledger.money.margin(market.spec, volume, price)
        if margin is None:
            raise _Fail(_CALL_FAILED)
        return round(margin, self._config.currency_digits)

    @_api("varargs")
    def order_calc_profit(self, *args: Any) -> float | None:
        """``order_calc_profit(order_type, symbol, volume, price_open, price_close)``."""
        check_arity(args, 5, 5)
        action, volume = parse_k(args[0]), parse_d(args[2])
        price_open, price_close = parse_d(args[3]), parse_d(args[4])
        market = self._market(args[1])
        if action > 1 or volume <= 0.0 or price_open <= 0.0 or price_close <= 0.0:
            raise _Fail(_INVALID_PARAMS)
        profit = self._ledger.money.profit(market.spec, action == 0, volume, price_open,
                                           price_close, True)
        if profit is None:
            raise _Fail(_CALL_FAILED)
        return round(profit, self._config.currency_digits)

    # ------------------------------------------------------------------ trading
    def _trade_request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request = parse_request(args, kwargs)
        self._online()
        if self._config.tradeapi_disabled:
            raise _Fail(_API_DISABLED)
        return request

    @_api("kw")
    def order_check(self, *args: Any, **kwargs: Any) -> Any:
        """``order_check(request)`` → ``OrderCheckResult`` (retcode 0, 'Done' on success)."""
        return self._server.check(self._trade_request(args, kwargs))

    @_api("kw")
    def order_send(self, *args: Any, **kwargs: Any) -> Any:
        """``order_send(request)`` → ``OrderSendResult`` (also for refusals)."""
        return self._server.send(self._trade_request(args, kwargs))


def _credentials(values: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(login, password, server) from keyword values, type-checked like the C parser."""
    login = values.get("login")
    password = values.get("password")
    server = values.get("server")
    if login is not None and not isinstance(login, int):
        raise ArgError('Invalid "login" argument')
    if password is not None and not isinstance(password, str):
        raise ArgError('Invalid "password" argument')
    if server is not None and not isinstance(server, str):
        raise ArgError('Invalid "server" argument')
    return login, password, server
