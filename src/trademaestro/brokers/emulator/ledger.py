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
        self._clock = clock
        if config.deposit_deal and config.balance > 0:
            self.deals.append(tuple.__new__(TradeDeal, (
                self._deal_ticket(), 0, 0, 0, DEAL_TYPE_BALANCE, DEAL_ENTRY_IN, 0, 0, 0, 0.0,
                0.0, 0.0, 0.0, self.balance, 0.0, "", "Initial deposit", "",
            )))

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
        """Floating profit of ``pos`` at the current quote, account currency, rounded."""
        market = self.markets[pos.symbol]
        price = market.bid if pos.is_buy else market.ask
        profit = self.money.profit(market.spec, pos.is_buy, pos.volume, pos.price_open, price,
                                   True)
        return round(profit or 0.0, self.digits)

    def totals(self) -> tuple[float, float, float]:
        """(floating profit, accumulated swap, margin) over all open positions."""
        profit = swap = margin = 0.0
        for pos in self.positions.values():
            profit += self.floating(pos)
            swap += pos.swap
            margin += pos.margin
        return profit, swap, margin

    def figures(self, extra_margin: float = 0.0) -> tuple[float, float, float, float, float]:
        """(profit, equity, margin, margin_free, margin_level %) with ``extra_margin`` added."""
        profit, swap, margin = self.totals()
        margin = round(margin + extra_margin, self.digits)
        equity = round(self.balance + profit + swap, self.digits)
        level = equity / margin * 100.0 if margin > 0.0 else 0.0
        return round(profit + swap, self.digits), equity, margin, round(equity - margin,
                                                                         self.digits), level

    # ----------------------------------------------------------------- fills
    def _commission(self, volume: float) -> float:
        return round(-self.config.commission_per_lot * volume, self.digits) + 0.0

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
        ticket = order.ticket if order is not None else self.order_ticket()
        type_ = order.type if order is not None else (0 if is_buy else 1)
        self._history_order(
            ticket, spec.name, type_, volume, order.price if order else price, sl, tp, magic,
            comment, reason, time, ticket, type_filling,
            order.type_time if order else 0, order.time_setup if order else None,
        )
        commission = self._commission(volume)
        deal = self._deal_ticket()
        self.deals.append(tuple.__new__(TradeDeal, (
            deal, ticket, time, time * 1000, 0 if is_buy else 1, DEAL_ENTRY_IN, magic, ticket,
            reason, volume, price, commission, 0.0, 0.0, 0.0, spec.name, comment, "",
        )))
        self.balance = round(self.balance + commission, self.digits)
        pos = Position(ticket, spec.name, is_buy, volume, price, sl, tp, magic, comment,
                       reason, time, round(margin, self.digits))
        self._set_k(pos)
        self.positions[ticket] = pos
        market.positions.append(pos)
        self.margin_sum = sum(p.margin for p in self.positions.values())
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
        step_digits = _decimals(spec.volume_step)
        full = volume >= pos.volume - spec.volume_step * 1e-6
        profit = self.money.profit(spec, pos.is_buy, volume, pos.price_open, price, True)
        profit = round(profit or 0.0, self.digits)
        share = 1.0 if full else volume / pos.volume
        swap = round(pos.swap * share, self.digits)
        commission = self._commission(volume)
        type_ = 1 if pos.is_buy else 0
        if order_ticket is None:
            ticket = self.order_ticket()
            self._history_order(ticket, spec.name, type_, volume, price, 0.0, 0.0, magic,
                                comment, reason, time, pos.ticket, type_filling)
        else:
            ticket = order_ticket
        deal = self._deal_ticket()
        self.deals.append(tuple.__new__(TradeDeal, (
            deal, ticket, time, time * 1000, type_, entry, magic, pos.ticket, reason,
            volume, price, commission, swap, profit, 0.0, spec.name, comment, "",
        )))
        self.balance = round(self.balance + profit + commission + swap, self.digits)
        if full:
            del self.positions[pos.ticket]
            market.positions.remove(pos)
            self.closed_positions.add(pos.ticket)
        else:
            remaining = round(pos.volume - volume, step_digits)
            pos.margin = round(pos.margin * remaining / pos.volume, self.digits)
            pos.swap = round(pos.swap - swap, self.digits)
            pos.volume = remaining
            pos.time_update = time
            self._set_k(pos)
        self.margin_sum = sum(p.margin for p in self.positions.values())
        return deal, ticket

    def _set_k(self, pos: Position) -> None:
        spec = self.markets[pos.symbol].spec
        if spec.currency_profit == self.config.currency:
            money = spec.contract_size * pos.volume
            pos.k = money if pos.is_buy else -money


def _decimals(step: float) -> int:
    """Decimals needed to write a volume step such as 0.01 exactly (at most 8)."""
    for d in range(9):
        if abs(round(step, d) - step) < 1e-12:
            return d
    return 8
