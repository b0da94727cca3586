"""Read-only API functions of the emulator: bars, ticks, open positions and orders, history
(MT5_API.md §2.5–2.7). Range queries are inclusive at both ends; history orders are selected by
``time_setup``, deals by ``time``. Bars and ticks are served up to the symbol's replay position
only: never a bar or a tick after it."""

from __future__ import annotations

from typing import Any

import numpy as np

from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.timeframes import Timeframe

from . import info, tape
from .api import CALL_FAILED, INVALID_PARAMS, EmulatorBase, Fail, api
from .args import ArgError, check_arity, parse_i, to_time, unsigned, wide_str
from .state import Market

_TIMEFRAMES = frozenset(int(t) for t in Timeframe)


class QueriesMixin(EmulatorBase):
    """``copy_rates_*``, ``positions_*``, ``orders_*`` and ``history_*`` functions."""

    # ------------------------------------------------------------------ bars
    def _bars(self, symbol: Any, timeframe: int) -> Market:
        market = self._market(symbol)
        if timeframe not in _TIMEFRAMES:
            raise Fail(INVALID_PARAMS)
        if market.timeframe != timeframe or market.index < 0:
            raise Fail(CALL_FAILED)
        return market

    @api("varargs")
    def copy_rates_from(self, *args: Any) -> np.ndarray[Any, Any] | None:
        """``copy_rates_from(symbol, timeframe, date_from, count)`` → RATES_DTYPE array."""
        check_arity(args, 4, 4)
        timeframe, count = parse_i(args[1]), parse_i(args[3])
        date = to_time(args[2], "Invalid arguments")
        market = self._bars(args[0], timeframe)
        if count <= 0:
            raise Fail(INVALID_PARAMS)
        return info.rates_from(market, date, count)

    @api("varargs")
    def copy_rates_from_pos(self, *args: Any) -> np.ndarray[Any, Any] | None:
        """``copy_rates_from_pos(symbol, timeframe, start_pos, count)`` (0 = forming bar)."""
        check_arity(args, 4, 4)
        timeframe, start, count = parse_i(args[1]), parse_i(args[2]), parse_i(args[3])
        market = self._bars(args[0], timeframe)
        if count <= 0 or start < 0:
            raise Fail(INVALID_PARAMS)
        return info.rates_from_pos(market, start, count)

    @api("varargs")
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

    # ------------------------------------------------------------------ ticks
    def _visible_ticks(self, symbol: Any) -> np.ndarray[Any, Any]:
        """The loaded ticks of ``symbol`` up to its replay position (a read-only view): up to
        the current tick in tick replay; in bar replay up to the first tick of the current bar
        (``open_bar``) or its last tick (``run_bar``). Call failed without ticks or before the
        symbol's clock started."""
        market = self._market(symbol)
        loaded = market.tape
        if loaded is None or market.index < 0:
            raise Fail(CALL_FAILED)
        if market.tick_k >= 0:
            end = market.tick_k + 1
        elif market.formed:
            end = loaded.ends[market.index] + 1
        else:
            end = loaded.starts[market.index] + 1
        return loaded.ticks[:end]

    @api("varargs")
    def copy_ticks_from(self, *args: Any) -> np.ndarray[Any, Any] | None:
        """``copy_ticks_from(symbol, date_from, count, flags)`` → TICKS_DTYPE array: the first
        ``count`` replayed ticks with ``time >= date_from`` kept by ``flags`` (COPY_TICKS_ALL
        -1, INFO 1: bid/ask changed, TRADE 2: last/volume changed), oldest first."""
        check_arity(args, 4, 4)
        count, flags = parse_i(args[2]), parse_i(args[3])
        date = to_time(args[1], "Invalid arguments")
        visible = self._visible_ticks(args[0])
        if count <= 0:
            raise Fail(INVALID_PARAMS)
        begin = int(np.searchsorted(visible["time"], date, side="left"))
        if flags == tape.COPY_TICKS_ALL:
            return visible[begin:begin + count].copy()
        out = tape.select(visible[begin:], flags)
        if out is None:
            raise Fail(INVALID_PARAMS)
        return out[:count]

    @api("varargs")
    def copy_ticks_range(self, *args: Any) -> np.ndarray[Any, Any] | None:
        """``copy_ticks_range(symbol, date_from, date_to, flags)`` → TICKS_DTYPE array: the
        replayed ticks with ``date_from <= time <= date_to`` (seconds, both inclusive) kept by
        ``flags`` (as in :meth:`copy_ticks_from`), oldest first."""
        check_arity(args, 4, 4)
        flags = parse_i(args[3])
        date_from = to_time(args[1], "Invalid arguments")
        date_to = to_time(args[2], "Invalid arguments")
        visible = self._visible_ticks(args[0])
        times = visible["time"]
        begin = int(np.searchsorted(times, date_from, side="left"))
        end = max(begin, int(np.searchsorted(times, date_to, side="right")))
        out = tape.select(visible[begin:end], flags)
        if out is None:
            raise Fail(INVALID_PARAMS)
        return out

    # ------------------------------------------------------------------ positions / orders
    def _filters(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
        if args:
            raise ArgError("Unnamed arguments not allowed")
        if not kwargs:
            self._online()
            return None, None, None
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

    @api("noargs")
    def positions_total(self) -> int | None:
        """Number of open positions."""
        self._online()
        return len(self._ledger.positions)

    @api("kw")
    def positions_get(self, *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        """``positions_get(*, symbol=, group=, ticket=)`` → tuple of ``TradePosition``."""
        symbol, group, ticket = self._filters(args, kwargs)
        ledger = self._ledger
        floating = ledger.floating
        if symbol is not None:  # a market's positions are the ledger's of that symbol, in order
            market = ledger.markets.get(symbol)
            if market is None:
                return ()
            selected = market.positions
            if not selected:
                return ()
            bid, ask = market.bid, market.ask
            out = []
            for p in selected:  # a loop: cheaper than a comprehension for the usual 1-3
                out.append(p.as_tuple(bid if p.is_buy else ask, floating(p)))
            return tuple(out)
        return tuple([p.as_tuple(ledger.close_price(p), floating(p))
                      for p in ledger.positions.values()
                      if self._keep(p.symbol, p.ticket, symbol, group, ticket)])

    @api("noargs")
    def orders_total(self) -> int | None:
        """Number of active pending orders."""
        self._online()
        return len(self._ledger.orders)

    @api("kw")
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

    @api("varargs")
    def history_orders_total(self, *args: Any) -> int | None:
        """``history_orders_total(date_from, date_to)`` → int."""
        lo, hi = self._range(args)
        return sum(1 for o in self._ledger.history_orders if lo <= o[1] <= hi)

    @api("varargs")
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
        return self._ledger.matching(records, index, wanted)

    @api("kw")
    def history_orders_get(self, *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        """``history_orders_get(date_from, date_to[, group=])`` | ``(ticket=)`` |
        ``(position=)`` → tuple of ``TradeOrder`` (range on ``time_setup``)."""
        return self._history(self._ledger.history_orders, args, kwargs, 1, 0, 11, 21)

    @api("kw")
    def history_deals_get(self, *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        """``history_deals_get(date_from, date_to[, group=])`` | ``(ticket=ORDER)`` |
        ``(position=)`` → tuple of ``TradeDeal``; ``ticket`` matches the deal's ``order``
        (documented) unless ``deals_ticket_matches == 'ticket'``."""
        ticket_i = 1 if self._config.deals_ticket_matches == "order" else 0
        return self._history(self._ledger.deals, args, kwargs, 2, ticket_i, 7, 15)
