"""Tick replay: the clock moves tick by tick through real ticks (our driver API, beside the
bar replay of :mod:`.replay`; not part of the ``MetaTrader5`` surface).

* :meth:`TickReplay.load_ticks` ``(symbol, timeframe, ticks)`` installs the ticks and the bars
  of ``timeframe`` built from them (:mod:`.tape`); those bars back ``copy_rates_*`` for the
  symbol and timeframe, and the ticks back ``copy_ticks_*``.
* :meth:`TickReplay.tick` ``(symbol, k)`` moves the clock to tick ``k``: time = the tick's
  (seconds; ``symbol_info_tick`` also gives its ``time_msc`` and ``flags``), Bid/Ask = the
  tick's. The bar holding the tick is the forming bar (``copy_rates_from_pos`` index 0, with
  its OHLC, tick count and minimum spread so far); the bars before it are closed. Then, in
  this order:

  1. swaps are charged for every server-day rollover crossed (as in bar replay);
  2. SL/TP of the symbol's open positions: a buy's SL when Bid <= sl, TP when Bid >= tp; a
     sell's SL when Ask >= sl, TP when Ask <= tp. **The fill is the tick's price** (Bid for a
     buy, Ask for a sell): a tick that jumped past the level fills at the tick price, i.e. with
     slippage, possibly better than the level for a TP (price improvement), worse for an SL;
  3. pending orders of the symbol expire (at or after their expiry time) or trigger at the
     tick's price: buy limit when Ask <= price, sell limit when Bid >= price, buy stop when
     Ask >= price, sell stop when Bid <= price; stop-limits become limit orders at
     ``stoplimit`` (checked from the next tick). A position opened by an order has its SL/TP
     checked from the next tick;
  4. stop-out check, as after a bar.

Deals are stamped with the tick's time in seconds (their ``time_msc`` is ``time`` · 1000).
Tick prices are used as given (rounded to digits): ``EmulatorConfig.spread_points`` does not
apply to ticks. Ticks may be replayed out of order or skipped (the driver chooses ``k``); the
runtime replays them in order. Cost of :meth:`TickReplay.tick` with no position or order open
on the symbol: about 1 µs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trademaestro.core.errors import ConfigError
from trademaestro.core.timeframes import Timeframe

from .replaycore import DEAL_REASON_SL, DEAL_REASON_TP, ReplayCore, expiry
from .specs import spec_for
from .state import Market
from .tape import TickTape, build_tape


class TickReplay(ReplayCore):
    """Tick-level driver methods (see the module docstring)."""

    def load_ticks(self, symbol: str, timeframe: int, ticks: np.ndarray[Any, Any]) -> None:
        """Install real ticks (``core.bars.TICKS_DTYPE``, non-decreasing ``time_msc``, server
        time) of ``symbol`` and the bars of ``timeframe`` built from their bid.

        Replaces any bars or ticks loaded before for the symbol; the clock of the symbol is
        not started (call :meth:`tick`). The bars serve ``copy_rates_*`` (``timeframe`` only)
        and, if the driver prefers, :meth:`Replay.open_bar`/``run_bar`` (at the first/last tick
        quote of each bar).

        Raises:
            SymbolError: no specification for ``symbol``.
            ConfigError: unknown timeframe, wrong dtype, no ticks, decreasing ``time_msc``,
                ``time`` != ``time_msc // 1000``, bad or crossed prices (naming the tick).
        """
        spec = spec_for(symbol, self._config.symbols)
        try:
            tf = Timeframe(int(timeframe))
        except (ValueError, TypeError):
            raise ConfigError(f"load_ticks({symbol!r}): timeframe {timeframe!r} is not a "
                              "TIMEFRAME_* value") from None
        tape = build_tape(symbol, tf, ticks, spec)
        m = self._markets[symbol]
        m.load(int(tf), tf.seconds, tape.rates, tape.rates["spread"])
        asks = tape.ticks["ask"]
        m.ask_opens = asks[tape.starts].tolist()
        m.ask_closes = asks[tape.ends].tolist()
        m.tape = tape

    def _tape(self, symbol: str) -> TickTape:
        tape = self._markets[symbol].tape
        if tape is None:
            raise ConfigError(f"{symbol!r} has no ticks loaded; call load_ticks first")
        return tape

    def tick_bars(self, symbol: str) -> np.ndarray[Any, Any]:
        """All bars built from the loaded ticks of ``symbol`` (RATES_DTYPE, read-only; the
        last one is complete only if the ticks cover it to its end).

        Raises:
            KeyError: unknown symbol. ConfigError: no ticks loaded for it.
        """
        return self._tape(symbol).rates

    def tick_bar_index(self, symbol: str) -> np.ndarray[Any, Any]:
        """For each loaded tick of ``symbol``, the index of its bar in :meth:`tick_bars`
        (int64, read-only, non-decreasing).

        Raises:
            KeyError: unknown symbol. ConfigError: no ticks loaded for it.
        """
        return self._tape(symbol).bar_index

    def tick_batch(self, pairs: Sequence[tuple[str, int]]) -> None:
        """Play :meth:`tick` for each ``(symbol, k)`` of ``pairs``, in order: one call for a
        batch of ticks (through a gateway, one round trip instead of one per tick)."""
        tick = self.tick
        for symbol, k in pairs:
            tick(symbol, k)

    def tick(self, symbol: str, k: int) -> None:
        """Move the clock to tick ``k`` of ``symbol`` and play its consequences (module doc).

        Raises:
            KeyError: unknown symbol. ConfigError: no ticks loaded for it. IndexError: ``k``
            outside the ticks.
        """
        m = self._markets[symbol]
        tape = m.tape
        if tape is None or k < 0:
            if tape is None:
                raise ConfigError(f"tick({symbol!r}, {k}): no ticks loaded; call load_ticks "
                                  "first")
            raise IndexError(f"tick({symbol!r}, {k}): tick index < 0")
        t = tape.times[k]
        bid = tape.bids[k]
        ask = tape.asks[k]
        m.tick_k = k
        m.index = tape.bar_of[k]
        m.formed = False
        m.bid = bid
        m.ask = ask
        m.time = t
        ledger = self._ledger
        ledger.now = t
        ledger.seq += 1
        ledger.quotes_seq += 1
        if ledger.positions and t >= self._next_rollover:
            self._rollover(t)
        if m.positions:
            self._positions_at_tick(m, bid, ask, t)
        if m.orders:
            self._orders_at_tick(m, bid, ask, t)
        # Fast stop-out guard (as after a bar): the full check only near or below the level.
        if ledger.positions and (self._quick_equity() * 100.0
                                 <= self._so * ledger.margin_sum * 1.001):
            self._stop_out(t)

    def _positions_at_tick(self, m: Market, bid: float, ask: float, t: int) -> None:
        eps = m.spec.point * 1e-3
        hits = []
        for pos in m.positions:
            sl, tp = pos.sl, pos.tp
            if pos.is_buy:
                if sl > 0.0 and bid <= sl + eps:
                    hits.append((pos, bid, DEAL_REASON_SL))
                elif tp > 0.0 and bid >= tp - eps:
                    hits.append((pos, bid, DEAL_REASON_TP))
            elif sl > 0.0 and ask >= sl - eps:
                hits.append((pos, ask, DEAL_REASON_SL))
            elif tp > 0.0 and ask <= tp + eps:
                hits.append((pos, ask, DEAL_REASON_TP))
        for pos, fill, reason in hits:
            self._trigger(m, pos, fill, reason, t)

    def _orders_at_tick(self, m: Market, bid: float, ask: float, t: int) -> None:
        eps = m.spec.point * 1e-3
        for order in list(m.orders):
            if expiry(order) <= t:
                self._server.finish_order(order, 6, t)
                continue
            p, kind = order.price, order.type
            if (kind == 2 and ask <= p + eps) or (kind == 4 and ask >= p - eps):
                fill = ask
            elif (kind == 3 and bid >= p - eps) or (kind == 5 and bid <= p + eps):
                fill = bid
            elif (kind == 6 and ask >= p - eps) or (kind == 7 and bid <= p + eps):
                order.type, order.price, order.stoplimit = kind - 4, order.stoplimit, 0.0
                continue
            else:
                continue
            self._activate(m, order, fill, t)
