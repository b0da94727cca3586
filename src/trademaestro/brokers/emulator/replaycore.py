"""The part of the replay driver shared by bar and tick replay: the clock, quotes set by hand,
account figures, and the events a price move causes (SL/TP closes, pending-order activation,
swap charges at rollovers, stop-out). See :mod:`.replay` for the semantics.

Performance rule: whoever writes ``Market.bid``/``ask`` bumps ``Ledger.seq`` and
``Ledger.quotes_seq`` (cached floating profits and account totals depend on every quote).
"""

from __future__ import annotations

from . import checks as ck
from .config import EmulatorConfig
from .ledger import Ledger
from .state import Market, PendingOrder, Position
from .trading import TradeServer

DAY = 86400
DEAL_REASON_SL = 4
DEAL_REASON_TP = 5
DEAL_REASON_SO = 6


class ReplayCore:
    """Clock, account figures and price-event primitives of the replay driver."""

    def __init__(self, ledger: Ledger, server: TradeServer, config: EmulatorConfig) -> None:
        self._ledger = ledger
        self._server = server
        self._config = config
        self._markets = ledger.markets
        self._next_rollover = 0
        self._so = config.margin_so_so
        self._qe = 0.0  # _quick_equity at ledger.seq == _qe_seq
        self._qe_seq = -1

    @property
    def now(self) -> int:
        """The replay clock: time of the latest quote, server seconds."""
        return self._ledger.now

    def set_quote(self, symbol: str, bid: float, ask: float, time: int | None = None) -> None:
        """Set the current quote of ``symbol`` directly (conversion symbols, tests); prices
        are rounded to the symbol's digits, as a server quotes them.

        Raises:
            KeyError: ``symbol`` has no specification.
        """
        market = self._markets[symbol]
        digits = market.spec.digits
        market.bid, market.ask = round(bid, digits), round(ask, digits)
        market.tick_k = -1
        self._ledger.seq += 1
        self._ledger.quotes_seq += 1
        if time is not None:
            market.time = time
            self._ledger.now = time

    @property
    def has_positions(self) -> bool:
        """True while any position is open (cheap; not part of MetaTrader5's surface)."""
        return bool(self._ledger.positions)

    def balance_equity(self) -> tuple[float, float]:
        """(balance, equity) now, account currency, rounded to the account's digits.

        Cheap enough to call every bar for an equity curve (not part of MetaTrader5's surface;
        ``account_info`` gives the same figures up to per-position rounding of the profit).
        """
        ledger = self._ledger
        balance = ledger.balance
        if not ledger.positions:
            return balance, balance
        return balance, round(self._quick_equity(), ledger.digits)

    def _quick_equity(self) -> float:
        """Balance + floating profit + swaps at the current quotes, unrounded (cached until
        ``Ledger.seq`` moves: every quote, fill and swap charge moves it)."""
        ledger = self._ledger
        if self._qe_seq == ledger.seq:
            return self._qe
        equity = ledger.balance
        for pos in ledger.positions.values():
            k = pos.k
            if k:
                q = self._markets[pos.symbol]
                equity += k * ((q.bid if pos.is_buy else q.ask) - pos.price_open) + pos.swap
            else:
                equity += ledger.floating(pos) + pos.swap
        self._qe = equity
        self._qe_seq = ledger.seq
        return equity

    # ------------------------------------------------------------------ price events
    def _trigger(self, m: Market, pos: Position, fill: float, reason: int, t: int) -> None:
        """Close ``pos`` by its SL or TP at ``fill`` (server comment ``[sl 2345.67]``)."""
        level = pos.sl if reason == DEAL_REASON_SL else pos.tp
        tag = "sl" if reason == DEAL_REASON_SL else "tp"
        self._ledger.close(pos, pos.volume, fill, reason, t,
                           f"[{tag} {level:.{m.spec.digits}f}]", pos.magic)

    def _activate(self, m: Market, order: PendingOrder, fill: float, t: int) -> None:
        ledger = self._ledger
        is_buy = ck.is_buy_type(order.type)
        margin = ledger.money.margin(m.spec, order.volume, fill)
        _, equity, used, _, _ = ledger.figures()
        if margin is None or equity - used - margin < 0.0:
            self._server.finish_order(order, 2, t)
            return
        del ledger.orders[order.ticket]
        m.orders.remove(order)
        ledger.open(m, is_buy, order.volume, fill, order.sl, order.tp, order.magic,
                    order.comment, 3, t, margin, order.type_filling, order)

    # ------------------------------------------------------------------ after a move
    def _rollover(self, t: int) -> None:
        day = t // DAY
        self._next_rollover = (day + 1) * DAY
        if not self._config.swaps_enabled:
            for pos in self._ledger.positions.values():
                pos.swap_day = day
            return
        for pos in self._ledger.positions.values():
            if pos.swap_day < day:
                self._charge_swaps(pos, day)

    def _charge_swaps(self, pos: Position, day: int) -> None:
        spec = self._markets[pos.symbol].spec
        days = 0
        for d in range(pos.swap_day, day):
            weekday = (d + 4) % 7  # 1970-01-01 was a Thursday; Sunday = 0 like DAY_OF_WEEK_*
            if 1 <= weekday <= 5:
                days += 3 if weekday == spec.swap_rollover3days else 1
        pos.swap_day = day
        if days:
            amount = self._ledger.money.daily_swap(spec, pos.is_buy, pos.volume) * days
            pos.swap = round(pos.swap + amount, self._ledger.digits)
            self._ledger.seq += 1

    def _stop_out(self, t: int) -> None:
        ledger = self._ledger
        level_so = self._config.margin_so_so
        while ledger.positions:
            _, _, margin, _, level = ledger.figures()
            if margin <= 0.0 or level >= level_so:
                return
            worst = min(ledger.positions.values(), key=ledger.floating)
            ledger.close(worst, worst.volume, ledger.close_price(worst), DEAL_REASON_SO, t,
                         f"[so {level:.2f}%]", worst.magic)


def expiry(order: PendingOrder) -> int:
    """Server time at which a pending order expires (a huge value for GTC)."""
    if order.type_time == 1:
        return (order.time_setup // DAY + 1) * DAY
    if order.type_time == 2:
        return order.expiration
    if order.type_time == 3:
        return (order.expiration // DAY + 1) * DAY
    return 1 << 62
