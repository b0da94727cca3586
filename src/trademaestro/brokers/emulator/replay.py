"""Bar replay: our own driver API of the emulator (not part of the ``MetaTrader5`` surface).

The clock and the quotes move only when the driver says so:

* :meth:`Replay.open_bar` ``(symbol, i)`` — the clock is at the first tick of bar ``i``:
  time = bar time, Bid = open, Ask = open + spread · point. ``copy_rates_from_pos`` index 0 is
  this forming bar with o=h=l=c=open and tick_volume 1. Market orders sent now fill here.
* :meth:`Replay.run_bar` ``(symbol, i)`` — the rest of bar ``i`` happens, in this order:

  1. SL/TP of every open position on the symbol are checked against the bar (buys on Bid:
     SL if low <= sl, TP if high >= tp; sells on Ask = Bid + spread · point: SL if
     high + spread >= sl, TP if low + spread <= tp). The fill is the level itself, or the bar's
     open (Ask open for sells) when the bar opened beyond it (gap). **When both SL and TP lie
     inside one bar the stop is assumed hit first** (the conservative assumption: bars do not
     tell the order of the extremes) — unless the bar opened beyond the TP, in which case the
     TP is certain to come first. Deals are stamped with the bar's open time, reason
     ``DEAL_REASON_SL``/``DEAL_REASON_TP``, comment ``[sl 2345.67]`` / ``[tp …]``.
  2. Pending orders of the symbol expire (``ORDER_TIME_SPECIFIED``/``_DAY`` at their expiration,
     ``ORDER_TIME_DAY`` at the end of their server day) or trigger: limits at their price or
     better, stops at their price or worse (bar open on a gap); stop-limits become limit orders
     at ``stoplimit``. A triggered order opens a position stamped with the bar's open time; its
     SL/TP are first checked on the next bar. No money at activation → the order is cancelled.
  3. The quote moves to the bar's close (time = bar time + timeframe − 1 s), swaps are
     charged for every server-day rollover crossed and stop-out is checked: while the margin
     level is below ``margin_so_so`` the most losing position is closed (``DEAL_REASON_SO``).

Swaps (if enabled) are charged at each 00:00 server-time rollover crossed while a position is
open, for the day that ends (Monday..Friday; triple on the symbol's ``swap_rollover3days``),
accumulated on the position and realised on its closing deal.

Bars are bid prices. The spread of a bar is ``EmulatorConfig.spread_points`` when set, else the
bar's ``spread`` column (points) when the data has spreads, else the symbol's default spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.errors import ConfigError
from trademaestro.core.timeframes import Timeframe

from . import checks as ck
from .config import EmulatorConfig
from .ledger import Ledger
from .specs import spec_for
from .state import Market, PendingOrder, Position
from .trading import TradeServer

_DAY = 86400
_DEAL_REASON_SL = 4
_DEAL_REASON_TP = 5
_DEAL_REASON_SO = 6


class Replay:
    """Driver of the emulated market (see the module docstring for the exact semantics)."""

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

    def load_rates(
        self, symbol: str, timeframe: int, rates: np.ndarray[Any, Any], has_spread: bool = True
    ) -> None:
        """Install the real bars (RATES_DTYPE, strictly ascending ``time``) to replay.

        ``has_spread`` False means the ``spread`` column carries no information (all 0): the
        symbol's default spread is used and written into the served bars.

        Raises:
            SymbolError: no specification for ``symbol``.
            ConfigError: unknown timeframe, wrong dtype, empty or unsorted bars.
        """
        spec = spec_for(symbol, self._config.symbols)
        try:
            tf = Timeframe(int(timeframe))
        except ValueError:
            raise ConfigError(f"load_rates({symbol!r}): timeframe {timeframe!r} is not a "
                              "TIMEFRAME_* value") from None
        if not isinstance(rates, np.ndarray) or rates.dtype.names != RATES_DTYPE.names:
            found = getattr(rates, "dtype", type(rates).__name__)
            raise ConfigError(f"load_rates({symbol!r}): found {found}; allowed: a numpy "
                              f"array of RATES_DTYPE {RATES_DTYPE.names}")
        bars = np.array(rates, dtype=RATES_DTYPE, copy=True)
        if len(bars) == 0 or (len(bars) > 1 and not np.all(np.diff(bars["time"]) > 0)):
            raise ConfigError(f"load_rates({symbol!r}): bars must be non-empty with strictly "
                              "ascending time")
        if self._config.spread_points is not None:
            bars["spread"] = self._config.spread_points
        elif not has_spread:
            bars["spread"] = spec.spread
        self._markets[symbol].load(int(tf), tf.seconds, bars, bars["spread"])

    def set_quote(self, symbol: str, bid: float, ask: float, time: int | None = None) -> None:
        """Set the current quote of ``symbol`` directly (conversion symbols, tests).

        Raises:
            KeyError: ``symbol`` has no specification.
        """
        market = self._markets[symbol]
        market.bid, market.ask = bid, ask
        self._ledger.seq += 1
        self._ledger.quotes_seq += 1
        if time is not None:
            market.time = time
            self._ledger.now = time

    def open_bar(self, symbol: str, index: int) -> None:
        """Move the clock to the first tick of bar ``index`` of ``symbol``."""
        m = self._markets[symbol]
        if index < 0:
            raise IndexError(f"bar index {index} < 0")
        t = m.times[index]
        m.index = index
        m.formed = False
        m.bid = m.opens[index]
        m.ask = m.ask_opens[index]
        m.time = t
        ledger = self._ledger
        ledger.now = t
        ledger.seq += 1
        ledger.quotes_seq += 1
        if ledger.positions and t >= self._next_rollover:
            self._rollover(t)

    def run_bar(self, symbol: str, index: int) -> None:
        """Play the rest of bar ``index``: SL/TP, pending orders, close quote, swaps, stop-out."""
        m = self._markets[symbol]
        if index < 0:
            raise IndexError(f"bar index {index} < 0")
        if m.positions:
            self._positions_in_bar(m, index)
        if m.orders:
            self._orders_in_bar(m, index)
        t = m.times[index] + m.tf_seconds - 1
        m.index = index
        m.formed = True
        m.bid = m.closes[index]
        m.ask = m.ask_closes[index]
        m.time = t
        ledger = self._ledger
        ledger.now = t
        ledger.seq += 1
        ledger.quotes_seq += 1
        if ledger.positions:
            if t >= self._next_rollover:
                self._rollover(t)
            # Fast stop-out guard: the full check only when the margin level is within 0.1% of
            # the stop-out level or below it.
            if self._quick_equity() * 100.0 <= self._so * ledger.margin_sum * 1.001:
                self._stop_out(t)

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

    # ------------------------------------------------------------------ inside a bar
    def _positions_in_bar(self, m: Market, i: int) -> None:
        eps = m.spec.point * 1e-3
        o, h, low = m.opens[i], m.highs[i], m.lows[i]
        sp = m.spreads[i]
        for pos in list(m.positions):
            sl, tp = pos.sl, pos.tp
            if pos.is_buy:
                sl_hit = sl > 0.0 and low <= sl + eps
                tp_hit = tp > 0.0 and h >= tp - eps
                if tp_hit and o >= tp - eps:
                    fill, reason = o, _DEAL_REASON_TP
                elif sl_hit:
                    fill, reason = (o if o <= sl + eps else sl), _DEAL_REASON_SL
                elif tp_hit:
                    fill, reason = tp, _DEAL_REASON_TP
                else:
                    continue
            else:
                ao = m.ask_opens[i]
                sl_hit = sl > 0.0 and h + sp >= sl - eps
                tp_hit = tp > 0.0 and low + sp <= tp + eps
                if tp_hit and ao <= tp + eps:
                    fill, reason = ao, _DEAL_REASON_TP
                elif sl_hit:
                    fill, reason = (ao if ao >= sl - eps else sl), _DEAL_REASON_SL
                elif tp_hit:
                    fill, reason = tp, _DEAL_REASON_TP
                else:
                    continue
            self._trigger(m, pos, fill, reason, m.times[i])

    def _trigger(self, m: Market, pos: Position, fill: float, reason: int, t: int) -> None:
        """Close ``pos`` by its SL or TP at ``fill`` (server comment ``[sl 2345.67]``)."""
        level = pos.sl if reason == _DEAL_REASON_SL else pos.tp
        tag = "sl" if reason == _DEAL_REASON_SL else "tp"
        self._ledger.close(pos, pos.volume, fill, reason, t,
                           f"[{tag} {level:.{m.spec.digits}f}]", pos.magic)

    def _orders_in_bar(self, m: Market, i: int) -> None:
        spec = m.spec
        eps = spec.point * 1e-3
        o, h, low = m.opens[i], m.highs[i], m.lows[i]
        sp = m.spreads[i]
        t = m.times[i]
        digits = spec.digits
        ao, ah, al = round(o + sp, digits), round(h + sp, digits), round(low + sp, digits)
        for order in list(m.orders):
            if _expiry(order) <= t:
                self._server.finish_order(order, 6, t)
                continue
            p, kind = order.price, order.type
            if kind == 2 and al <= p + eps:
                fill = min(p, ao)
            elif kind == 4 and ah >= p - eps:
                fill = max(p, ao)
            elif kind == 3 and h >= p - eps:
                fill = max(p, o)
            elif kind == 5 and low <= p + eps:
                fill = min(p, o)
            elif (kind == 6 and ah >= p - eps) or (kind == 7 and low <= p + eps):
                order.type, order.price, order.stoplimit = kind - 4, order.stoplimit, 0.0
                continue
            else:
                continue
            self._activate(m, order, fill, t)

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

    # ------------------------------------------------------------------ after a bar
    def _rollover(self, t: int) -> None:
        day = t // _DAY
        self._next_rollover = (day + 1) * _DAY
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
            ledger.close(worst, worst.volume, ledger.close_price(worst), _DEAL_REASON_SO, t,
                         f"[so {level:.2f}%]", worst.magic)


def _expiry(order: PendingOrder) -> int:
    """Server time at which a pending order expires (a huge value for GTC)."""
    if order.type_time == 1:
        return (order.time_setup // _DAY + 1) * _DAY
    if order.type_time == 2:
        return order.expiration
    if order.type_time == 3:
        return (order.expiration // _DAY + 1) * _DAY
    return 1 << 62
