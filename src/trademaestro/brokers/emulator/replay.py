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

from .replaycore import DEAL_REASON_SL, DEAL_REASON_TP, expiry
from .specs import spec_for
from .state import Market
from .tickreplay import TickReplay


class Replay(TickReplay):
    """Driver of the emulated market: bar replay (this module) and tick replay
    (:mod:`.tickreplay`); see the module docstrings for the exact semantics."""

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

    def open_bar(self, symbol: str, index: int) -> None:
        """Move the clock to the first tick of bar ``index`` of ``symbol``."""
        m = self._markets[symbol]
        if index < 0:
            raise IndexError(f"bar index {index} < 0")
        t = m.times[index]
        m.index = index
        m.formed = False
        m.tick_k = -1
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
        m.tick_k = -1
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
                    fill, reason = o, DEAL_REASON_TP
                elif sl_hit:
                    fill, reason = (o if o <= sl + eps else sl), DEAL_REASON_SL
                elif tp_hit:
                    fill, reason = tp, DEAL_REASON_TP
                else:
                    continue
            else:
                ao = m.ask_opens[i]
                sl_hit = sl > 0.0 and h + sp >= sl - eps
                tp_hit = tp > 0.0 and low + sp <= tp + eps
                if tp_hit and ao <= tp + eps:
                    fill, reason = ao, DEAL_REASON_TP
                elif sl_hit:
                    fill, reason = (ao if ao >= sl - eps else sl), DEAL_REASON_SL
                elif tp_hit:
                    fill, reason = tp, DEAL_REASON_TP
                else:
                    continue
            self._trigger(m, pos, fill, reason, m.times[i])

    def _orders_in_bar(self, m: Market, i: int) -> None:
        spec = m.spec
        eps = spec.point * 1e-3
        o, h, low = m.opens[i], m.highs[i], m.lows[i]
        sp = m.spreads[i]
        t = m.times[i]
        digits = spec.digits
        ao, ah, al = round(o + sp, digits), round(h + sp, digits), round(low + sp, digits)
        for order in list(m.orders):
            if expiry(order) <= t:
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
