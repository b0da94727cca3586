"""The broker port implemented once over any object that behaves like the ``MetaTrader5`` module.

The same code drives the real package on Windows and our emulator (paper mode, backtests, every
test), so everything the executor does to a broker is exercised in tests.

Conventions (MT5_API.md): requests carry floats for volume/price/sl/tp and ints elsewhere (§1.5);
``type_filling`` is chosen from the symbol's ``filling_mode`` bits (IOC, else FOK, else RETURN,
§6.4/§10.5); every order carries the strategy's magic number and ``"tm " + client_id`` in its
comment (at most 29 characters, §1.5); SL/TP modifications always send both levels because MT5
clears a level left out (§6.1).

Hot path: what an order needs of its symbol (filling, tick size, digits) is one cached lookup;
results are built with ``tuple.__new__`` (the port's value types are named tuples); the
``OrderSendResult`` is kept raw in :class:`OrderOutcome` and turned into a dict only on access.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trademaestro.brokers.port import AccountSnapshot, OrderOutcome, Position, Quote
from trademaestro.core.chaos import checkpoint
from trademaestro.core.errors import BrokerError, SymbolError
from trademaestro.core.symbols import SymbolSpec, default_pip
from trademaestro.core.timeframes import Timeframe
from trademaestro.execution.intents import CloseIntent, ModifyIntent, OpenIntent

COMMENT_PREFIX = "tm "
MAX_COMMENT = 29
# Retcodes that mean the request was accepted (§6.7): PLACED, DONE, DONE_PARTIAL.
ACCEPTED_RETCODES = frozenset({10008, 10009, 10010})
# SymbolInfo.filling_mode bits (§5.11) and ORDER_FILLING_* values (§5.3).
_FILL_BIT_FOK, _FILL_BIT_IOC = 1, 2
_ORDER_FILLING_FOK, _ORDER_FILLING_IOC, _ORDER_FILLING_RETURN = 0, 1, 2
_new = tuple.__new__


def order_comment(client_id: str) -> str:
    """The order comment for a client id; raises ValueError past MT5's 29-character limit."""
    comment = COMMENT_PREFIX + client_id
    if len(comment) > MAX_COMMENT:
        raise ValueError(f"client id {client_id!r} makes a comment longer than {MAX_COMMENT}")
    return comment


def client_id_of(comment: str) -> str | None:
    """The client id in an order/deal/position comment, or None if it is not ours."""
    return comment[len(COMMENT_PREFIX) :] if comment.startswith(COMMENT_PREFIX) else None


class MT5Adapter:
    """The broker port over a ``MetaTrader5``-like module.

    Args:
        mt5: the module (``import MetaTrader5``) or an object behaving like it (the emulator).
        deviation_points: maximum slippage accepted on market orders, points.

    Raises (from its methods):
        BrokerError: the call returned None; the message carries ``last_error()``.
        SymbolError: a symbol the broker does not know.
    """

    def __init__(self, mt5: Any, *, deviation_points: int = 20) -> None:
        self.mt5 = mt5
        self.deviation = int(deviation_points)
        self._specs: dict[str, SymbolSpec] = {}
        self._filling: dict[str, int] = {}
        # symbol -> (type_filling, tick_size, digits): what building a request needs, in one
        # lookup (prices are rounded inline exactly like SymbolSpec.round_price)
        self._order_consts: dict[str, tuple[int, float, int]] = {}

    # -- connection -------------------------------------------------------------------------
    def connect(self, **kwargs: Any) -> None:
        """``initialize`` the terminal (keyword arguments as MetaTrader5's ``initialize``)."""
        if not self.mt5.initialize(**kwargs):
            raise BrokerError(f"initialize failed: {self.mt5.last_error()}", code=self._code())

    def shutdown(self) -> None:
        """Close the terminal connection."""
        self.mt5.shutdown()

    def _code(self) -> int:
        return int(self.mt5.last_error()[0])

    def _fail(self, what: str) -> BrokerError:
        code, text = self.mt5.last_error()
        return BrokerError(f"{what} failed: ({code}, {text!r})", code=int(code))

    # -- symbols and prices -------------------------------------------------------------------
    def symbol_spec(self, symbol: str, *, refresh: bool = False) -> SymbolSpec:
        """The symbol's trading specification (cached; ``refresh`` re-reads tick value etc.).

        Raises:
            SymbolError: the broker has no such symbol.
        """
        if not refresh and symbol in self._specs:
            return self._specs[symbol]
        info = self.mt5.symbol_info(symbol)
        if info is None:
            raise SymbolError(
                f"no specification for symbol {symbol!r} at the broker "
                f"(last_error {self.mt5.last_error()})"
            )
        if not info.select and not self.mt5.symbol_select(symbol, True):
            raise SymbolError(f"symbol {symbol!r} cannot be selected: {self.mt5.last_error()}")
        spec = SymbolSpec(
            name=info.name,
            digits=int(info.digits),
            point=float(info.point),
            tick_size=float(info.trade_tick_size),
            tick_value=float(info.trade_tick_value),
            contract_size=float(info.trade_contract_size),
            volume_min=float(info.volume_min),
            volume_max=float(info.volume_max),
            volume_step=float(info.volume_step),
            stops_level=int(info.trade_stops_level),
            freeze_level=int(info.trade_freeze_level),
            currency_base=info.currency_base,
            currency_profit=info.currency_profit,
            currency_margin=info.currency_margin,
            pip_size=default_pip(info.name, int(info.digits)),
            spread=int(info.spread),
        )
        self._specs[symbol] = spec
        filling = int(info.filling_mode)
        if filling & _FILL_BIT_IOC:
            type_filling = _ORDER_FILLING_IOC
        elif filling & _FILL_BIT_FOK:
            type_filling = _ORDER_FILLING_FOK
        else:
            type_filling = _ORDER_FILLING_RETURN
        self._filling[symbol] = type_filling
        self._order_consts[symbol] = (type_filling, spec.tick_size, spec.digits)
        return spec

    def _consts(self, symbol: str) -> tuple[int, float, int]:
        """(type_filling, tick_size, digits) of a symbol, reading its spec the first time."""
        consts = self._order_consts.get(symbol)
        if consts is None:
            self.symbol_spec(symbol)
            consts = self._order_consts[symbol]
        return consts

    def quote(self, symbol: str) -> Quote:
        """Current bid/ask. Raises BrokerError when the broker has no tick."""
        tick = self.mt5.symbol_info_tick(symbol)
        if tick is None:
            raise self._fail(f"symbol_info_tick({symbol!r})")
        return _new(Quote, (int(tick.time), float(tick.bid), float(tick.ask)))

    def forming_bar(self, symbol: str, timeframe: Timeframe) -> np.ndarray:
        """The bar still forming (position 0), as one RATES record with OHLC so far."""
        rates = self.mt5.copy_rates_from_pos(symbol, int(timeframe), 0, 1)
        if rates is None or len(rates) != 1:
            raise self._fail(f"copy_rates_from_pos({symbol!r}, 0)")
        return np.asarray(rates)

    def closed_bars(self, symbol: str, timeframe: Timeframe, count: int) -> np.ndarray:
        """The last ``count`` closed bars, oldest first (position 1 onward: 0 is forming)."""
        rates = self.mt5.copy_rates_from_pos(symbol, int(timeframe), 1, int(count))
        if rates is None:
            raise self._fail(f"copy_rates_from_pos({symbol!r})")
        return np.asarray(rates)

    # -- account and positions ----------------------------------------------------------------
    def account(self) -> AccountSnapshot:
        """Balance, equity and margin in the account currency."""
        info = self.mt5.account_info()
        if info is None:
            raise self._fail("account_info")
        return _new(AccountSnapshot, (
            float(info.balance),
            float(info.equity),
            float(info.margin),
            float(info.margin_free),
            info.currency,
            int(info.leverage),
        ))

    def positions(self, *, symbol: str | None = None, magic: int | None = None) -> list[Position]:
        """Open positions, optionally of one symbol and/or one magic number."""
        raw = self.mt5.positions_get(symbol=symbol) if symbol else self.mt5.positions_get()
        if raw is None:
            raise self._fail("positions_get")
        out: list[Position] = []
        for p in raw:  # a loop: cheaper than a comprehension for the usual 0-3 positions
            if magic is not None and p.magic != magic:
                continue
            out.append(_new(Position, (
                int(p.ticket),
                p.symbol,
                "buy" if p.type == 0 else "sell",
                float(p.volume),
                float(p.price_open),
                float(p.sl),
                float(p.tp),
                int(p.time),
                int(p.magic),
                p.comment,
                float(p.profit),
                float(p.swap),
            )))
        return out

    def deals(self, date_from: int, date_to: int) -> list[dict[str, Any]]:
        """History deals in ``[date_from, date_to]`` (server seconds) as plain dicts."""
        raw = self.mt5.history_deals_get(int(date_from), int(date_to))
        if raw is None:
            raise self._fail("history_deals_get")
        return [d._asdict() for d in raw]

    def position_deals(self, ticket: int) -> list[dict[str, Any]]:
        """Every deal of one position (``history_deals_get(position=...)``) as plain dicts."""
        raw = self.mt5.history_deals_get(position=int(ticket))
        if raw is None:
            raise self._fail("history_deals_get(position)")
        return [d._asdict() for d in raw]

    # -- trading ------------------------------------------------------------------------------
    def open_market(self, intent: OpenIntent) -> OrderOutcome:
        """Send a market order opening a position (TRADE_ACTION_DEAL); price/SL/TP are rounded
        to the tick size and digits (SL/TP 0.0 = none)."""
        symbol = intent.symbol
        consts = self._order_consts.get(symbol) or self._consts(symbol)
        type_filling, tick, digits = consts
        sl, tp = intent.sl, intent.tp
        comment = COMMENT_PREFIX + intent.client_id
        if len(comment) > MAX_COMMENT:
            order_comment(intent.client_id)  # raises the ValueError
        # rounding as SymbolSpec.round_price: to a multiple of tick_size, then to digits
        request = {
            "action": 1,  # TRADE_ACTION_DEAL
            "symbol": symbol,
            "volume": float(intent.volume),
            "type": 0 if intent.side == "buy" else 1,
            "price": round(round(intent.price / tick) * tick, digits),
            "sl": round(round(sl / tick) * tick, digits) if sl > 0 else 0.0,
            "tp": round(round(tp / tick) * tick, digits) if tp > 0 else 0.0,
            "deviation": self.deviation,
            "magic": int(intent.magic),
            "comment": comment,
            "type_time": 0,  # ORDER_TIME_GTC
            "type_filling": type_filling,
        }
        return self._send(request)

    def close_position(self, intent: CloseIntent) -> OrderOutcome:
        """Close (part of) a position with an opposite market deal carrying ``position``, at the
        current Bid (closing a buy) or Ask (closing a sell)."""
        symbol = intent.symbol
        type_filling = (self._order_consts.get(symbol) or self._consts(symbol))[0]
        tick = self.mt5.symbol_info_tick(symbol)
        if tick is None:
            raise self._fail(f"symbol_info_tick({symbol!r})")
        closing_buy = intent.side == "buy"
        request = {
            "action": 1,
            "symbol": symbol,
            "volume": float(intent.volume),
            "type": 1 if closing_buy else 0,
            "position": int(intent.ticket),
            "price": float(tick.bid) if closing_buy else float(tick.ask),
            "deviation": self.deviation,
            "magic": int(intent.magic),
            "comment": order_comment(intent.client_id),
            "type_time": 0,
            "type_filling": type_filling,
        }
        return self._send(request)

    def modify_sltp(self, intent: ModifyIntent) -> OrderOutcome:
        """Set SL and TP of a position (TRADE_ACTION_SLTP; both levels are always sent)."""
        _, tick, digits = self._order_consts.get(intent.symbol) or self._consts(intent.symbol)
        sl, tp = intent.sl, intent.tp
        request = {
            "action": 6,  # TRADE_ACTION_SLTP
            "symbol": intent.symbol,
            "position": int(intent.ticket),
            "sl": round(round(sl / tick) * tick, digits) if sl > 0 else 0.0,
            "tp": round(round(tp / tick) * tick, digits) if tp > 0 else 0.0,
            "magic": int(intent.magic),
            "comment": order_comment(intent.client_id),
        }
        return self._send(request)

    def _send(self, request: dict[str, Any]) -> OrderOutcome:
        checkpoint("before_send")
        try:
            return self._send_now(request)
        finally:
            checkpoint("after_send")

    def _send_now(self, request: dict[str, Any]) -> OrderOutcome:
        result = self.mt5.order_send(request)
        if result is None:
            code, text = self.mt5.last_error()
            return OrderOutcome(
                ok=False,
                retcode=None,
                comment=str(text),
                order=0,
                deal=0,
                volume=0.0,
                price=0.0,
                request=request,
                error=(int(code), str(text)),
            )
        retcode = int(result.retcode)
        # OrderOutcome fields, in order: ok retcode comment order deal volume price request
        # result_given error extra raw (the result dict is built from ``raw`` on access).
        return _new(OrderOutcome, (
            retcode in ACCEPTED_RETCODES,
            retcode,
            str(result.comment),
            int(result.order),
            int(result.deal),
            float(result.volume),
            float(result.price),
            request,
            None,
            None,
            {},
            result,
        ))
