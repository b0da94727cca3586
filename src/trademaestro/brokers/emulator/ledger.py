"""The account book of the emulated hedging account: balance, positions, orders, deals, tickets.

Every executed fill goes through :meth:`Ledger.open` or :meth:`Ledger.close`, which write the
history order (state FILLED), the deal (entry IN/OUT) and update the balance:

* commission = −``commission_per_lot`` · lots on every IN and OUT deal, charged to the balance
  when the deal happens (account currency, rounded to the currency digits);
* on an OUT deal the realised profit (price difference, converted at the close price when the
  conversion pair is the symbol itself, see :mod:`.money`) and the closed share of the
  position's accumulated swap are added to the balance.

Equity = balance + Σ (floating profit + swap) of the open positions; margin = Σ position margins
(each computed once, at its open price, when the position opens).

Caching (results identical to recomputing everything): :attr:`Ledger.quotes_seq` is bumped by
every quote change (the replay's writes to ``Market.bid``/``ask``) and :attr:`Ledger.seq` by
every change of a quote or of the open positions (open, close, swap charge). A position's floating
profit is computed once per quote change; :meth:`Ledger.totals` / :meth:`Ledger.figures`
recompute only when :attr:`seq` moved, summing in the same order as ever. Opening a position
extends the cached sums by the new position's terms, which is exactly what the summation loop
computes (the new position is the last in the loop's order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config import EmulatorConfig
from .money import Money
from .results import TradeDeal, TradeOrder
from .state import Market, PendingOrder, Position

ORDER_STATE_FILLED = 4
DEAL_ENTRY_IN = 0
DEAL_ENTRY_OUT = 1
DEAL_TYPE_BALANCE = 2


class Ledger:
    """Account state plus the bookkeeping primitives used by the trade server and the replay.

    Args:
        config: the emulator configuration (balance, currency, leverage, commission, tickets).
        clock: optional callable returning the server time in seconds for API trades; None uses
            the replay clock (the time of the latest quote, :attr:`now`).
    """

    def __init__(self, config: EmulatorConfig, clock: Callable[[], int] | None = None) -> None:
        self.config = config
        self.digits = config.currency_digits
        self.markets: dict[str, Market] = {n: Market(s) for n, s in config.symbols.items()}
        self.money = Money(config.currency, config.leverage, self.markets)
        self.balance = round(config.balance, self.digits)
        self.positions: dict[int, Position] = {}
        self.orders: dict[int, PendingOrder] = {}
        self.history_orders: list[Any] = []
        self.deals: list[Any] = []
        self.closed_positions: set[int] = set()
        self.next_order = config.first_order_ticket
        self.next_deal = config.first_deal_ticket
        self.request_id = 0
        self.margin_sum = 0.0
        self.now = 0
        self.seq = 0
        self.quotes_seq = 0
        self._totals_seq = -1
        self._totals = (0.0, 0.0, 0.0)
        self._figures_seq = -1
        self._figures = (0.0, 0.0, 0.0, 0.0, 0.0)
        self._indexes: dict[tuple[int, int], _RecordIndex] = {}
        self._clock = clock
        self.on_close: Callable[[Position, float, float, int], None] | None = None
        """Called as ``on_close(position, price, profit, time)`` just before a fully closed
        position leaves the book (fault injection: :class:`~.faults.GhostPosition`)."""
        if config.deposit_deal and config.balance > 0:
            self.deals.append(tuple.__new__(TradeDeal, (
                self._deal_ticket(), 0, 0, 0, DEAL_TYPE_BALANCE, DEAL_ENTRY_IN, 0, 0, 0, 0.0,
                0.0, 0.0, 0.0, self.balance, 0.0, "", "Initial deposit", "",
            )))

    # ----------------------------------------------------------------- history look-ups
    def matching(self, records: list[Any], column: int, key: int) -> tuple[Any, ...]:
        """The records of ``records`` (``deals`` or ``history_orders``: append-only lists)
        whose field ``column`` equals ``key``, in their order (an index per column, extended
        with the records appended since the last look-up; O(1) instead of a scan)."""
        index = self._indexes.get((id(records), column))
        if index is None or index.records is not records or index.size > len(records):
            index = _RecordIndex(records, column)
            self._indexes[(id(records), column)] = index
        return index.get(key)

    # ----------------------------------------------------------------- clock and tickets
    def time(self) -> int:
        """Server time (seconds) for API trades: the injected clock, else the replay clock."""
        return self._clock() if self._clock is not None else self.now

    def order_ticket(self) -> int:
        """A new order ticket (also the ticket of a position it opens)."""
        ticket = self.next_order
        self.next_order += 1
        return ticket

    def _deal_ticket(self) -> int:
        ticket = self.next_deal
        self.next_deal += 1
        return ticket

    # ----------------------------------------------------------------- valuations
    def close_price(self, pos: Position) -> float:
        """The price that closes ``pos`` now: bid for a buy, ask for a sell."""
        market = self.markets[pos.symbol]
        return market.bid if pos.is_buy else market.ask

    def floating(self, pos: Position) -> float:
        """Floating profit of ``pos`` at the current quote, account currency, rounded (cached
        on the position until the next quote change)."""
        if pos.fl_seq == self.quotes_seq:
            return pos.fl
        value = self._floating(pos)
        pos.fl = value
        pos.fl_seq = self.quotes_seq
        return value

    def _floating(self, pos: Position) -> float:
        market = self.markets[pos.symbol]
        if pos.k:  # profit currency = account currency: Money.profit without the conversion
            delta = market.bid - pos.price_open if pos.is_buy else pos.price_open - market.ask
            return round(delta * market.spec.contract_size * pos.volume or 0.0, self.digits)
        price = market.bid if pos.is_buy else market.ask
        profit = self.money.profit(market.spec, pos.is_buy, pos.volume, pos.price_open, price,
                                   True)
        return round(profit or 0.0, self.digits)

    def totals(self) -> tuple[float, float, float]:
        """(floating profit, accumulated swap, margin) over all open positions (cached while
        :attr:`seq` does not move)."""
        if self._totals_seq == self.seq:
            return self._totals
        profit = swap = margin = 0.0
        floating = self.floating
        for pos in self.positions.values():
            profit += floating(pos)
            swap += pos.swap
            margin += pos.margin
        self._totals = profit, swap, margin
        self._totals_seq = self.seq
        return self._totals

    def figures(self, extra_margin: float = 0.0) -> tuple[float, float, float, float, float]:
        """(profit, equity, margin, margin_free, margin_level %) with ``extra_margin`` added."""
        if not extra_margin and self._figures_seq == self.seq:
            return self._figures
        profit, swap, margin = self.totals()
        margin = round(margin + extra_margin, self.digits)
        equity = round(self.balance + profit + swap, self.digits)
        level = equity / margin * 100.0 if margin > 0.0 else 0.0
        out = (round(profit + swap, self.digits), equity, margin,
               round(equity - margin, self.digits), level)
        if not extra_margin:
            self._figures = out
            self._figures_seq = self.seq
        return out

    # ----------------------------------------------------------------- fills
    def _history_order(
        self, ticket: int, symbol: str, type_: int, volume: float, price: float, sl: float,
        tp: float, magic: int, comment: str, reason: int, time: int, position_id: int,
        type_filling: int, type_time: int = 0, time_setup: int | None = None,
    ) -> None:
        setup = time if time_setup is None else time_setup
        self.history_orders.append(tuple.__new__(TradeOrder, (
            ticket, setup, setup * 1000, time, time * 1000, 0, type_, type_time, type_filling,
            ORDER_STATE_FILLED, magic, position_id, 0, reason, volume, 0.0, price, sl, tp,
            price, 0.0, symbol, comment, "",
        )))

    def open(
        self, market: Market, is_buy: bool, volume: float, price: float, sl: float, tp: float,
        magic: int, comment: str, reason: int, time: int, margin: float, type_filling: int,
        order: PendingOrder | None = None,
    ) -> tuple[int, int]:
        """Open a position at ``price``: history order + IN deal + position. Returns
        (deal ticket, order ticket). A triggered pending ``order`` keeps its ticket."""
        spec = market.spec
        name = spec.name
        digits = self.digits
        type_ = 0 if is_buy else 1
        if order is None:
            ticket = self.next_order
            self.next_order = ticket + 1
            self.history_orders.append(tuple.__new__(TradeOrder, (
                ticket, time, time * 1000, time, time * 1000, 0, type_, 0, type_filling,
                ORDER_STATE_FILLED, magic, ticket, 0, reason, volume, 0.0, price, sl, tp,
                price, 0.0, name, comment, "",
            )))
        else:
            ticket = order.ticket
            self._history_order(ticket, name, order.type, volume, order.price, sl, tp, magic,
                                comment, reason, time, ticket, type_filling, order.type_time,
                                order.time_setup)
        commission = round(-self.config.commission_per_lot * volume, digits) + 0.0
        deal = self.next_deal
        self.next_deal = deal + 1
        self.deals.append(tuple.__new__(TradeDeal, (
            deal, ticket, time, time * 1000, type_, DEAL_ENTRY_IN, magic, ticket,
            reason, volume, price, commission, 0.0, 0.0, 0.0, name, comment, "",
        )))
        self.balance = round(self.balance + commission, digits)
        pos = Position(ticket, name, is_buy, volume, price, sl, tp, magic, comment,
                       reason, time, round(margin, digits))
        if spec.currency_profit == self.config.currency:
            money = spec.contract_size * volume
            pos.k = money if is_buy else -money
        if self._totals_seq == self.seq:  # extend the cached sums: the new position is last
            profit, swap, margin_total = self._totals
            self._totals = (profit + self.floating(pos), swap + 0.0, margin_total + pos.margin)
            self._totals_seq = self.seq + 1
        self.seq += 1
        positions = self.positions
        positions[ticket] = pos
        market.positions.append(pos)
        self.margin_sum = self.margin_sum + pos.margin if len(positions) > 1 else pos.margin
        return deal, ticket

    def close(
        self, pos: Position, volume: float, price: float, reason: int, time: int,
        comment: str, magic: int, type_filling: int = 0, entry: int = DEAL_ENTRY_OUT,
        order_ticket: int | None = None,
    ) -> tuple[int, int]:
        """Close ``volume`` lots of ``pos`` at ``price`` (whole position when equal): history
        order (unless ``order_ticket`` names an existing one, as for close-by) + OUT deal;
        realised profit, commission and swap share go to the balance.
        Returns (deal ticket, order ticket)."""
        market = self.markets[pos.symbol]
        spec = market.spec
        digits = self.digits
        is_buy = pos.is_buy
        full = volume >= pos.volume - spec.volume_step * 1e-6
        if pos.k:  # profit currency = account currency: Money.profit without the conversion
            delta = price - pos.price_open if is_buy else pos.price_open - price
            profit = round(delta * spec.contract_size * volume or 0.0, digits)
        else:
            raw = self.money.profit(spec, is_buy, volume, pos.price_open, price, True)
            profit = round(raw or 0.0, digits)
        swap = round(pos.swap * (1.0 if full else volume / pos.volume), digits)
        commission = round(-self.config.commission_per_lot * volume, digits) + 0.0
        type_ = 1 if is_buy else 0
        name = spec.name
        if order_ticket is None:
            ticket = self.next_order
            self.next_order = ticket + 1
            self.history_orders.append(tuple.__new__(TradeOrder, (
                ticket, time, time * 1000, time, time * 1000, 0, type_, 0, type_filling,
                ORDER_STATE_FILLED, magic, pos.ticket, 0, reason, volume, 0.0, price, 0.0, 0.0,
                price, 0.0, name, comment, "",
            )))
        else:
            ticket = order_ticket
        deal = self.next_deal
        self.next_deal = deal + 1
        self.deals.append(tuple.__new__(TradeDeal, (
            deal, ticket, time, time * 1000, type_, entry, magic, pos.ticket, reason,
            volume, price, commission, swap, profit, 0.0, name, comment, "",
        )))
        self.balance = round(self.balance + profit + commission + swap, digits)
        if full:
            if self.on_close is not None:
                self.on_close(pos, price, profit, time)
            del self.positions[pos.ticket]
            market.positions.remove(pos)
            self.closed_positions.add(pos.ticket)
        else:
            remaining = round(pos.volume - volume, market.volume_digits)
            pos.margin = round(pos.margin * remaining / pos.volume, digits)
            pos.swap = round(pos.swap - swap, digits)
            pos.volume = remaining
            pos.time_update = time
            pos.fl_seq = -1
            self._set_k(pos)
        self.seq += 1
        self.margin_sum = sum(p.margin for p in self.positions.values())
        return deal, ticket

    def _set_k(self, pos: Position) -> None:
        spec = self.markets[pos.symbol].spec
        if spec.currency_profit == self.config.currency:
            money = spec.contract_size * pos.volume
            pos.k = money if pos.is_buy else -money




class _RecordIndex:
    """Records of an append-only list grouped by one field, caught up lazily."""

    __slots__ = ("column", "groups", "records", "size")

    def __init__(self, records: list[Any], column: int) -> None:
        self.records = records
        self.column = column
        self.size = 0
        self.groups: dict[Any, list[Any]] = {}

    def get(self, key: Any) -> tuple[Any, ...]:
        records = self.records
        if self.size < len(records):
            groups, column = self.groups, self.column
            for record in records[self.size:]:
                group = groups.get(record[column])
                if group is None:
                    groups[record[column]] = [record]
                else:
                    group.append(record)
            self.size = len(records)
        return tuple(self.groups.get(key, ()))
