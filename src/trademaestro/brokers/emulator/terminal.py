"""``MT5Emulator``: a drop-in stand-in for ``import MetaTrader5 as mt5`` (MT5_API.md 5.0.6231).

Faithful surface: the 223 constants (class attributes), the 11 result types, and the functions
``initialize login shutdown last_error version account_info terminal_info symbols_total
symbols_get symbol_info symbol_info_tick symbol_select copy_rates_from copy_rates_from_pos
copy_rates_range copy_ticks_from copy_ticks_range positions_total positions_get orders_total
orders_get history_orders_total history_deals_total history_orders_get history_deals_get
order_calc_margin order_calc_profit order_check order_send`` with the real calling conventions
(§1.1: ``TypeError`` for any argument
to a no-argument function and for keywords to a positional-only one) and error model (§1.2–1.4:
``last_error`` reset to ``(1, 'Success')`` on every call but ``last_error`` itself; -10004
``No IPC connection`` before ``initialize``/after ``shutdown``; client-side -2 messages; the
``SystemError`` of negative unsigned values and out-of-range dates).

Choices where the reference leaves the exact value open (inferred, documented here): a symbol
argument that is not a str and an unconvertible date give ``(-2, 'Invalid arguments')``; an
unknown symbol gives ``(-1, 'Terminal: Call failed')``; an invalid timeframe, a count <= 0 or an
``order_calc_*`` action out of range give ``(-2, 'Terminal: Invalid params')``; bars of a
timeframe that was not loaded and ticks of a symbol without loaded ticks give
``(-1, 'Terminal: Call failed')``; a ``copy_ticks_*`` ``flags`` value with neither the INFO (1)
nor the TRADE (2) bit (other than COPY_TICKS_ALL = -1) gives ``(-2, 'Terminal: Invalid
params')``.

Our own additions, outside the MT5 surface: ``emu.replay`` (:class:`Replay`, the driver) and
``emu.faults`` (a hook consulted at the start of every API call; no-op by default; a
:class:`~.faults.FaultPlan` scripts per-call faults).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import info
from . import results as res
from .api import (
    API_DISABLED,
    CALL_FAILED,
    INVALID_PARAMS,
    NO_IPC,
    SUCCESS,
    Fail,
    FaultHook,
    NoFaults,
    api,
)
from .args import ArgError, check_arity, parse_d, parse_k
from .config import EmulatorConfig
from .constants import MT5_PACKAGE_AUTHOR, MT5_PACKAGE_VERSION, MT5Constants
from .ledger import Ledger
from .queries import QueriesMixin
from .replay import Replay
from .request import parse_plain, parse_request
from .trading import TradeServer


class MT5Emulator(QueriesMixin, MT5Constants):
    """The emulated ``MetaTrader5`` module, driven by replayed bars (see :mod:`.replay`).

    Args:
        config: account/broker/terminal settings (default :class:`EmulatorConfig()`).
        clock: optional callable returning server time (seconds) used to stamp API trades;
            default: the replay clock (time of the latest quote).
        faults: fault-injection hook (default :class:`NoFaults`), e.g. a
            :class:`~.faults.FaultPlan`; also settable later with ``emu.faults = plan``.
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
        self._error: tuple[int, str] = SUCCESS
        self._connected = False
        self.faults = faults if faults is not None else NoFaults()

    # ------------------------------------------------------------------ connection
    @api("kw", False)
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

    @api("kw", False)
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

    @api("noargs")
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

    @api("noargs")
    def version(self) -> tuple[int, int, str] | None:
        """``(500, build, 'DD Mon YYYY')``."""
        self._online()
        return (500, self._config.terminal_build, self._config.terminal_build_date)

    @api("noargs")
    def account_info(self) -> Any:
        """``AccountInfo`` of the emulated hedging account."""
        self._online()
        return info.account_info(self._config, self._ledger)

    @api("noargs")
    def terminal_info(self) -> Any:
        """``TerminalInfo`` of the emulated terminal."""
        self._online()
        return info.terminal_info(self._config)

    # ------------------------------------------------------------------ symbols
    @api("noargs")
    def symbols_total(self) -> int | None:
        """Number of symbols the emulated server offers."""
        self._online()
        return len(self._ledger.markets)

    @api("kw")
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

    @api("varargs")
    def symbol_info(self, *args: Any) -> Any:
        """``symbol_info(symbol)`` → ``SymbolInfo``."""
        check_arity(args, 1, 1)
        return info.symbol_info(self._market(args[0]), self._ledger.money)

    @api("varargs")
    def symbol_info_tick(self, *args: Any) -> Any:
        """``symbol_info_tick(symbol)`` → ``Tick``; None for a symbol not in Market Watch."""
        if len(args) != 1:
            check_arity(args, 1, 1)
        market = self._market(args[0])
        if not market.selected:
            raise Fail(CALL_FAILED)
        if market.tick_k >= 0:  # tick replay: the replayed tick (its time_msc and flags)
            return info.tick(market)
        t = market.time
        bid = market.bid
        return tuple.__new__(res.Tick, (t, bid, market.ask, 0.0, 0, t * 1000,
                                        info.TICK_FLAGS if bid > 0.0 else 0, 0.0))

    @api("varargs", False)
    def symbol_select(self, *args: Any) -> bool:
        """``symbol_select(symbol[, enable=True])`` → bool."""
        check_arity(args, 1, 2)
        market = self._market(args[0])
        enable = bool(args[1]) if len(args) == 2 else True
        if not enable and (market.positions or market.orders):
            raise Fail(CALL_FAILED)
        market.selected = enable
        return True

    # ------------------------------------------------------------------ calculations
    @api("varargs")
    def order_calc_margin(self, *args: Any) -> float | None:
        """``order_calc_margin(order_type, symbol, volume, price)`` → account currency."""
        check_arity(args, 4, 4)
        action, volume, price = parse_k(args[0]), parse_d(args[2]), parse_d(args[3])
        market = self._market(args[1])
        if action > 7 or volume <= 0.0 or price <= 0.0:
            raise Fail(INVALID_PARAMS)
        margin = self._ledger.money.margin(market.spec, volume, price)
        if margin is None:
            raise Fail(CALL_FAILED)
        return round(margin, self._config.currency_digits)

    @api("varargs")
    def order_calc_profit(self, *args: Any) -> float | None:
        """``order_calc_profit(order_type, symbol, volume, price_open, price_close)``."""
        check_arity(args, 5, 5)
        action, volume = parse_k(args[0]), parse_d(args[2])
        price_open, price_close = parse_d(args[3]), parse_d(args[4])
        market = self._market(args[1])
        if action > 1 or volume <= 0.0 or price_open <= 0.0 or price_close <= 0.0:
            raise Fail(INVALID_PARAMS)
        profit = self._ledger.money.profit(market.spec, action == 0, volume, price_open,
                                           price_close, True)
        if profit is None:
            raise Fail(CALL_FAILED)
        return round(profit, self._config.currency_digits)

    # ------------------------------------------------------------------ trading
    def _trade_request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request = parse_request(args, kwargs)
        self._online()
        if self._config.tradeapi_disabled:
            raise Fail(API_DISABLED)
        return request

    @api("kw")
    def order_check(self, *args: Any, **kwargs: Any) -> Any:
        """``order_check(request)`` → ``OrderCheckResult`` (retcode 0, 'Done' on success)."""
        return self._server.check(self._trade_request(args, kwargs))

    @api("kw")
    def order_send(self, *args: Any, **kwargs: Any) -> Any:
        """``order_send(request)`` → ``OrderSendResult`` (also for refusals)."""
        if not kwargs and len(args) == 1 and type(args[0]) is dict:  # the usual call
            request = parse_plain(args[0])
            if not self._connected:
                raise Fail(NO_IPC)
            if self._config.tradeapi_disabled:
                raise Fail(API_DISABLED)
            return self._server.send(request)
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
