"""The emulated trade server: ``order_send`` and ``order_check`` on a parsed ``TradeRequest``.

Validation order per action (first failure wins; retcodes of MT5_API.md §6.8):

* every action: unknown action 10013; terminal disconnected 10031; Algo Trading off 10027;
  account may not trade 10017; automated trading forbidden by the server 10026.
* DEAL (open): symbol 10013, no quote 10021, type 10013, trade_mode 10017/10044/10042/10043,
  order_mode 10035, volume 10014, filling 10030, price/deviation (request/instant execution
  only) 10015/10004, stops 10016, volume_limit 10034, margin 10019.
* DEAL (close, ``position`` set): ticket 10013 (10036 when already closed), symbol/type
  10013, trade_mode 10017, volume 10014, volume > position 10038, filling 10030,
  price/deviation 10015/10004, freeze level 10029.
* SLTP: ticket 10013/10036, symbol 10013, stops 10016 (normalisation and order_mode too),
  identical values 10025, freeze level 10029. Omitted ``sl``/``tp`` are 0.0 and clear them.
* PENDING: symbol 10013, quote 10021, type 10013, order_mode 10035, trade_mode, volume 10014,
  price 10015, stops 10016 (relative to the order price), expiration 10022, filling 10030,
  limit_orders 10033, volume_limit 10034.
* MODIFY / REMOVE: unknown order 10013, price/stops/expiration as PENDING, 10025, freeze 10029.
* CLOSE_BY: tickets 10013/10036, same symbol and opposite directions 10013, order_mode 10035.

Market orders fill at Ask (buy) / Bid (sell) and close at Bid (buy) / Ask (sell), all volume at
once (FOK and IOC behave alike: the emulated book is infinitely deep).
"""

from __future__ import annotations

from typing import Any

from . import checks as ck
from .config import EmulatorConfig
from .ledger import Ledger
from .results import OrderCheckResult, OrderSendResult, TradeOrder
from .specs import (
    SYMBOL_ORDER_CLOSEBY,
    SYMBOL_ORDER_LIMIT,
    SYMBOL_ORDER_MARKET,
    SYMBOL_ORDER_STOP,
    SYMBOL_ORDER_STOP_LIMIT,
)
from .state import Market, PendingOrder, Position

DONE = 10009
COMMENTS = {
    0: "Done", 10004: "Requote", 10006: "Request rejected", 10008: "Request executed",
    10009: "Request executed", 10010: "Request executed partially",
    10011: "Request processing error",
    10013: "Invalid request", 10014: "Invalid volume", 10015: "Invalid price",
    10016: "Invalid stops", 10017: "Trade disabled", 10018: "Market closed",
    10019: "No money", 10020: "Prices changed", 10021: "Off quotes",
    10022: "Invalid expiration", 10024: "Too many requests", 10025: "No changes",
    10026: "AutoTrading disabled by server",
    10027: "AutoTrading disabled by client", 10029: "Order or position frozen",
    10030: "Unsupported filling mode", 10031: "No connection", 10033: "Limit orders reached",
    10034: "Limit volume reached", 10035: "Invalid order type",
    10036: "Position already closed", 10038: "Invalid close volume",
    10042: "Long positions only allowed", 10043: "Short positions only allowed",
    10044: "Position closing only allowed",
}
"""Server comment per retcode (English server texts; compare retcodes, not comments)."""

_ORDER_MODE_BIT = {2: SYMBOL_ORDER_LIMIT, 3: SYMBOL_ORDER_LIMIT, 4: SYMBOL_ORDER_STOP,
                   5: SYMBOL_ORDER_STOP, 6: SYMBOL_ORDER_STOP_LIMIT, 7: SYMBOL_ORDER_STOP_LIMIT}


class _Plan:
    """A validated request ready to execute (``kind`` says which fields matter)."""

    __slots__ = ("is_buy", "kind", "margin", "market", "order", "other", "pos", "price",
                 "volume")

    def __init__(
        self, kind: str, market: Market, is_buy: bool = True, volume: float = 0.0,
        price: float = 0.0, margin: float = 0.0, pos: Position | None = None,
        other: Position | None = None, order: PendingOrder | None = None,
    ) -> None:
        self.kind = kind
        self.market = market
        self.is_buy = is_buy
        self.volume = volume
        self.price = price
        self.margin = margin
        self.pos = pos
        self.other = other
        self.order = order


class TradeServer:
    """Validates and executes trade requests against a :class:`Ledger`."""

    def __init__(self, ledger: Ledger, config: EmulatorConfig) -> None:
        self.ledger = ledger
        self.config = config

    # ------------------------------------------------------------------ public
    def send(self, req: Any) -> Any:
        """Execute ``req``; an ``OrderSendResult`` (also for refusals, with their retcode)."""
        ledger = self.ledger
        ledger.request_id += 1
        plan = self._plan(req)
        if isinstance(plan, _Plan):
            return self._execute(plan, req)
        bid = ask = 0.0
        if plan == 10004:
            market = ledger.markets[req.symbol]
            bid, ask = market.bid, market.ask
        return self._result(plan, 0, 0, 0.0, 0.0, bid, ask, req)

    def refuse(self, req: Any, code: int, bid: float = 0.0, ask: float = 0.0) -> Any:
        """The ``OrderSendResult`` of a refusal of ``req`` with ``code`` and its standard
        comment (:data:`COMMENTS`), ``bid``/``ask`` as given, nothing executed (MT5_API.md §6.5
        failure shape: deal 0, order 0, volume and price 0.0); takes a new request id."""
        self.ledger.request_id += 1
        return self._result(code, 0, 0, 0.0, 0.0, bid, ask, req)

    def check(self, req: Any) -> Any:
        """Evaluate ``req`` without executing; ``OrderCheckResult`` (retcode 0, 'Done' if ok).
        Refusals carry their retcode and zeros in the money fields."""
        plan = self._plan(req)
        if isinstance(plan, int):
            code = 0 if plan == 10004 else plan
            if code:
                return tuple.__new__(OrderCheckResult, (
                    code, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, COMMENTS.get(code, ""), req))
        extra = 0.0
        if not isinstance(plan, int) and plan.kind == "open":
            extra = plan.margin
        elif not isinstance(plan, int) and plan.kind == "close" and plan.pos is not None:
            extra = -plan.pos.margin * min(1.0, plan.volume / plan.pos.volume)
        profit, equity, margin, free, level = self.ledger.figures(extra)
        return tuple.__new__(OrderCheckResult, (
            0, self.ledger.balance, equity, profit, margin, free, level, "Done", req))

    # ------------------------------------------------------------------ validation
    def _plan(self, req: Any) -> _Plan | int:
        cfg = self.config
        action = req.action
        if action not in (1, 5, 6, 7, 8, 10):
            return ck.INVALID
        if not cfg.connected:
            return 10031
        if not cfg.terminal_trade_allowed:
            return 10027
        if not cfg.account_trade_allowed:
            return ck.TRADE_DISABLED
        if not cfg.trade_expert:
            return 10026
        if action == 1:
            return self._plan_close(req) if req.position else self._plan_open(req)
        if action == 6:
            return self._plan_sltp(req)
        if action == 5:
            return self._plan_pending(req)
        if action == 7:
            return self._plan_modify(req)
        if action == 8:
            return self._plan_remove(req)
        return self._plan_close_by(req)

    def _quoted(self, symbol: str) -> Market | int:
        market = self.ledger.markets.get(symbol)
        if market is None:
            return ck.INVALID
        return market if market.bid > 0.0 else 10021

    def _price_code(self, market: Market, req: Any, fill: float) -> int:
        """Request/instant execution: price required and within ``deviation`` points."""
        if market.spec.exemode not in (0, 1):
            return 0
        if not req.price > 0.0:
            return ck.INVALID_PRICE
        if abs(req.price - fill) > req.deviation * market.spec.point + market.spec.point / 2:
            return 10004
        return 0

    def _plan_open(self, req: Any) -> _Plan | int:
        market = self.ledger.markets.get(req.symbol)
        if market is None:
            return ck.INVALID
        if not market.bid > 0.0:
            return 10021
        spec = market.spec
        type_ = req.type
        if type_ not in (0, 1):
            return ck.INVALID
        is_buy = type_ == 0
        fill = market.ask if is_buy else market.bid
        volume, sl, tp = req.volume, req.sl, req.tp
        if market.market_plain:  # trade mode, order mode, price and volume limit pass
            code = (ck.volume_code(spec, volume)
                    or ck.filling_code(spec, req.type_filling, type_, True)
                    or (ck.stops_code(spec, is_buy, market.bid if is_buy else market.ask, sl, tp)
                        if sl or tp else 0))
        else:
            code = (ck.trade_mode_code(spec, is_buy, True)
                    or (0 if spec.order_mode & SYMBOL_ORDER_MARKET else 10035)
                    or ck.volume_code(spec, volume)
                    or ck.filling_code(spec, req.type_filling, type_, True)
                    or self._price_code(market, req, fill)
                    or ck.stops_code(spec, is_buy, market.bid if is_buy else market.ask, sl, tp)
                    or self._volume_limit_code(market, volume))
        if code:
            return code
        margin = self.ledger.money.margin(spec, volume, fill)
        if margin is None:
            return 10021
        _, equity, used, _, _ = self.ledger.figures()
        if equity - used - margin < 0.0:
            return 10019
        return _Plan("open", market, is_buy, volume, fill, margin)

    def _volume_limit_code(self, market: Market, volume: float) -> int:
        limit = market.spec.volume_limit
        if limit <= 0.0:
            return 0
        total = sum(p.volume for p in market.positions) + sum(o.volume for o in market.orders)
        return 10034 if total + volume > limit + market.spec.volume_step * 1e-6 else 0

    def _position(self, ticket: int) -> Position | int:
        pos = self.ledger.positions.get(ticket)
        if pos is None:
            return 10036 if ticket in self.ledger.closed_positions else ck.INVALID
        return pos

    def _plan_close(self, req: Any) -> _Plan | int:
        pos = self.ledger.positions.get(req.position)
        if pos is None:
            return 10036 if req.position in self.ledger.closed_positions else ck.INVALID
        market = self.ledger.markets[pos.symbol]
        spec = market.spec
        is_buy = pos.is_buy
        if req.symbol != pos.symbol or req.type != (1 if is_buy else 0):
            return ck.INVALID
        if market.bid <= 0.0:
            return 10021
        fill = market.bid if is_buy else market.ask
        volume = req.volume
        if market.market_plain:  # trade mode and price pass
            code = (ck.volume_code(spec, volume)
                    or (10038 if volume > pos.volume + spec.volume_step * 1e-6 else 0)
                    or ck.filling_code(spec, req.type_filling, req.type, True)
                    or (ck.FROZEN if spec.freeze_level > 0 and ck.position_frozen(market, pos)
                        else 0))
        else:
            code = (ck.trade_mode_code(spec, not is_buy, False)
                    or ck.volume_code(spec, volume)
                    or (10038 if volume > pos.volume + spec.volume_step * 1e-6 else 0)
                    or ck.filling_code(spec, req.type_filling, req.type, True)
                    or self._price_code(market, req, fill)
                    or (ck.FROZEN if ck.position_frozen(market, pos) else 0))
        if code:
            return code
        return _Plan("close", market, pos=pos, volume=min(volume, pos.volume), price=fill)

    def _plan_sltp(self, req: Any) -> _Plan | int:
        pos = self._position(req.position)
        if isinstance(pos, int):
            return pos
        market = self.ledger.markets[pos.symbol]
        if req.symbol and req.symbol != pos.symbol:
            return ck.INVALID
        eps = market.spec.point / 2
        if abs(req.sl - pos.sl) < eps and abs(req.tp - pos.tp) < eps:
            return 10025
        if ck.position_frozen(market, pos):
            return ck.FROZEN
        ref = market.bid if pos.is_buy else market.ask
        code = ck.stops_code(market.spec, pos.is_buy, ref, req.sl, req.tp)
        return code or _Plan("sltp", market, pos=pos)

    def _pending_code(self, market: Market, req: Any, type_: int) -> int:
        spec = market.spec
        fill_price = req.stoplimit if type_ in (6, 7) else req.price
        return (ck.pending_price_code(market, type_, req.price, req.stoplimit)
                or ck.stops_code(spec, ck.is_buy_type(type_), fill_price, req.sl, req.tp)
                or ck.expiration_code(spec, req.type_time, req.expiration, self.ledger.time()))

    def _plan_pending(self, req: Any) -> _Plan | int:
        market = self._quoted(req.symbol)
        if isinstance(market, int):
            return market
        spec = market.spec
        if req.type not in _ORDER_MODE_BIT:
            return ck.INVALID
        code = ((0 if spec.order_mode & _ORDER_MODE_BIT[req.type] else 10035)
                or ck.trade_mode_code(spec, ck.is_buy_type(req.type), True)
                or ck.volume_code(spec, req.volume)
                or self._pending_code(market, req, req.type)
                or ck.filling_code(spec, req.type_filling, req.type, False)
                or (10033 if 0 < self.config.limit_orders <= len(self.ledger.orders) else 0)
                or self._volume_limit_code(market, req.volume))
        return code or _Plan("pending", market, volume=req.volume)

    def _order(self, ticket: int) -> PendingOrder | int:
        order = self.ledger.orders.get(ticket)
        return ck.INVALID if order is None else order

    def _plan_modify(self, req: Any) -> _Plan | int:
        order = self._order(req.order)
        if isinstance(order, int):
            return order
        market = self.ledger.markets[order.symbol]
        eps = market.spec.point / 2
        same = (abs(req.price - order.price) < eps and abs(req.sl - order.sl) < eps
                and abs(req.tp - order.tp) < eps and abs(req.stoplimit - order.stoplimit) < eps
                and req.type_time == order.type_time and req.expiration == order.expiration)
        if same:
            return 10025
        if ck.order_frozen(market, order):
            return ck.FROZEN
        code = self._pending_code(market, req, order.type)
        return code or _Plan("modify", market, order=order)

    def _plan_remove(self, req: Any) -> _Plan | int:
        order = self._order(req.order)
        if isinstance(order, int):
            return order
        market = self.ledger.markets[order.symbol]
        return ck.FROZEN if ck.order_frozen(market, order) else _Plan("remove", market,
                                                                        order=order)

    def _plan_close_by(self, req: Any) -> _Plan | int:
        pos = self._position(req.position)
        if isinstance(pos, int):
            return pos
        other = self._position(req.position_by)
        if isinstance(other, int):
            return other
        if other is pos or other.symbol != pos.symbol or other.is_buy == pos.is_buy:
            return ck.INVALID
        market = self.ledger.markets[pos.symbol]
        if not market.spec.order_mode & SYMBOL_ORDER_CLOSEBY:
            return 10035
        return _Plan("close_by", market, pos=pos, other=other,
                     volume=min(pos.volume, other.volume))

    # ------------------------------------------------------------------ execution
    def _result(self, code: int, deal: int, order: int, volume: float, price: float,
                bid: float, ask: float, req: Any, comment: str | None = None) -> Any:
        text = COMMENTS.get(code, "") if comment is None else comment
        return tuple.__new__(OrderSendResult, (
            code, deal, order, volume, price, bid, ask, text, self.ledger.request_id, 0, req))

    def _execute(self, plan: _Plan, req: Any) -> Any:
        ledger = self.ledger
        market = plan.market
        now = ledger.time()
        kind = plan.kind
        if kind == "open":
            deal, order = ledger.open(market, plan.is_buy, plan.volume, plan.price, req.sl,
                                      req.tp, req.magic, req.comment, 3, now, plan.margin,
                                      req.type_filling)
            return self._result(DONE, deal, order, plan.volume, plan.price, market.bid,
                                market.ask, req)
        if kind == "close" and plan.pos is not None:
            deal, order = ledger.close(plan.pos, plan.volume, plan.price, 3, now, req.comment,
                                       req.magic, req.type_filling)
            return self._result(DONE, deal, order, plan.volume, plan.price, market.bid,
                                market.ask, req)
        if kind == "sltp" and plan.pos is not None:
            plan.pos.sl, plan.pos.tp, plan.pos.time_update = req.sl, req.tp, now
            code = self.config.sltp_success_retcode
            return self._result(code, 0, 0, 0.0, 0.0, 0.0, 0.0, req,
                                "Done" if code == 0 else None)
        if kind == "pending":
            order_ = PendingOrder(ledger.order_ticket(), market.spec.name, req.type, req.volume,
                                  req.price, req.stoplimit, req.sl, req.tp, req.type_time,
                                  req.expiration, req.type_filling, req.magic, req.comment, now)
            ledger.orders[order_.ticket] = order_
            market.orders.append(order_)
            return self._result(self.config.pending_success_retcode, 0, order_.ticket,
                                req.volume, 0.0, market.bid, market.ask, req)
        if kind == "modify" and plan.order is not None:
            o = plan.order
            o.price, o.sl, o.tp, o.stoplimit = req.price, req.sl, req.tp, req.stoplimit
            o.type_time, o.expiration = req.type_time, req.expiration
            return self._result(DONE, 0, o.ticket, 0.0, 0.0, market.bid, market.ask, req)
        if kind == "remove" and plan.order is not None:
            self.finish_order(plan.order, 2, now)
            return self._result(DONE, 0, plan.order.ticket, 0.0, 0.0, market.bid, market.ask,
                                req)
        return self._close_by(plan, req, now)

    def finish_order(self, order: PendingOrder, state: int, now: int) -> None:
        """Move a pending order to the history with ``state`` (2 cancelled, 6 expired)."""
        ledger = self.ledger
        market = ledger.markets[order.symbol]
        del ledger.orders[order.ticket]
        market.orders.remove(order)
        price = market.ask if ck.is_buy_type(order.type) else market.bid
        ledger.history_orders.append(order.as_tuple(price, state, now))

    def _close_by(self, plan: _Plan, req: Any, now: int) -> Any:
        ledger = self.ledger
        pos, other = plan.pos, plan.other
        assert pos is not None and other is not None
        ticket = ledger.order_ticket()
        volume = plan.volume
        ledger.history_orders.append(tuple.__new__(TradeOrder, (
            ticket, now, now * 1000, now, now * 1000, 0, 8, 0, 0, 4, req.magic, pos.ticket,
            other.ticket, 3, volume, 0.0, 0.0, 0.0, 0.0, other.price_open, 0.0, pos.symbol,
            req.comment, "",
        )))
        price = other.price_open
        deal = ledger.close(pos, volume, price, 3, now, req.comment, req.magic, 0,
                            entry=3, order_ticket=ticket)[0]
        ledger.close(other, volume, price, 3, now, req.comment, req.magic, 0, entry=3,
                     order_ticket=ticket)
        market = plan.market
        return self._result(DONE, deal, ticket, volume, price, market.bid, market.ask, req)
