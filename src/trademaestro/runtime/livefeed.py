"""The live market-data feed: new closed bars and current ticks, polled from the terminal.

MT5 has no push API: the executor asks. For each watched series (symbol, timeframe) a poll calls
``copy_rates_from_pos(symbol, timeframe, 1, n)`` — position 0 is the forming bar, 1 the last
closed one (MT5_API.md) — and keeps the bars newer than the last one it has seen. A bar closes
when the first tick of the next bar arrives, so a bar is reported once the terminal shows its
successor forming. When polls missed bars (a disconnect, a slow terminal), the gap is fetched in
one call and reported as catch-up: the caller appends those bars to its series but acts only on
the newest one — a trade decided on a stale bar at today's price would be a different trade.

Every broker call goes through the run's safe broker (retries, reconnects, circuit breaker); a
failed poll raises and the caller's error policy decides (log, count, poll again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from trademaestro.brokers.port import BrokerPort, Quote
from trademaestro.core.errors import DataError
from trademaestro.core.timeframes import Timeframe

log = logging.getLogger("trademaestro.livefeed")


@dataclass(frozen=True, slots=True)
class NewBars:
    """The closed bars a poll found for one series: ``bars`` (RATES records, ascending server
    time), of which only the last is to be acted on; ``missed`` = len(bars) - 1 caught up."""

    symbol: str
    timeframe: Timeframe
    bars: np.ndarray

    @property
    def missed(self) -> int:
        """Bars caught up without acting on them."""
        return max(len(self.bars) - 1, 0)


class LiveBarFeed:
    """Polls the terminal for closed bars of the watched series.

    Args:
        broker: the run's broker (``closed_bars``, ``quote``).
        last_times: for each watched (symbol, timeframe), the open time (server time, seconds)
            of the last closed bar the caller already has (its warm-up's last bar).
        max_catch_up: at most this many bars are fetched to close a gap (older ones are lost:
            logged at ERROR; the series then has a hole, as a restarted terminal would).
    """

    def __init__(
        self,
        broker: BrokerPort,
        last_times: dict[tuple[str, Timeframe], int],
        *,
        max_catch_up: int = 1000,
    ) -> None:
        self.broker = broker
        self.last_times = dict(last_times)
        self.max_catch_up = max_catch_up
        self.polls = 0
        self.bars_seen = 0
        self.bars_missed = 0

    def watch(self, symbol: str, timeframe: Timeframe, last_time: int) -> None:
        """Watch one more series (a strategy started while running)."""
        self.last_times.setdefault((symbol, timeframe), last_time)

    def poll(self) -> list[NewBars]:
        """One poll of every watched series: the new closed bars of each, oldest series first.

        Raises:
            BrokerError: the terminal did not answer (after the safe broker's retries).
            DataError: the terminal returned bars out of order.
        """
        self.polls += 1
        found = []
        for (symbol, timeframe), last in self.last_times.items():
            new = self._new_bars(symbol, timeframe, last)
            if new is not None:
                found.append(new)
        return found

    def _new_bars(self, symbol: str, timeframe: Timeframe, last: int) -> NewBars | None:
        recent = self.broker.closed_bars(symbol, timeframe, 2)
        if len(recent) == 0 or int(recent["time"][-1]) <= last:
            return None
        count = 2
        while int(recent["time"][0]) > last and len(recent) >= count < self.max_catch_up:
            # More than two bars closed since the last poll: fetch the gap in one call (the
            # estimate counts calendar bars, so weekends only make it generous). More bars may
            # close between two calls: the window is widened until it reaches back to ``last``
            # (or the terminal's history, or ``max_catch_up``, ends).
            estimate = (int(recent["time"][-1]) - last) // timeframe.seconds + 2
            count = min(self.max_catch_up, max(estimate, 2 * count))
            recent = self.broker.closed_bars(symbol, timeframe, count)
        times = recent["time"]
        if len(times) > 1 and bool(np.any(np.diff(times) <= 0)):
            raise DataError(
                f"terminal:{symbol}",
                None,
                f"copy_rates_from_pos({symbol}, {timeframe.name}) returned bars out of order",
            )
        bars = recent[times > last]
        if len(bars) == 0:
            return None
        if int(recent["time"][0]) > last and len(recent) >= self.max_catch_up:
            log.error(
                "%s %s: more than %d bars closed since the last poll; the older ones are lost",
                symbol,
                timeframe.name,
                self.max_catch_up,
            )
        self.last_times[(symbol, timeframe)] = int(bars["time"][-1])
        new = NewBars(symbol, timeframe, np.array(bars))
        self.bars_seen += len(bars)
        self.bars_missed += new.missed
        if new.missed:
            log.warning(
                "%s %s: %d closed bar(s) caught up without acting on them (polls missed them)",
                symbol,
                timeframe.name,
                new.missed,
            )
        return new

    def quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """The current tick of each symbol (``symbol_info_tick``)."""
        return {symbol: self.broker.quote(symbol) for symbol in symbols}

    def report(self) -> dict[str, int]:
        """Counters for the monitor."""
        return {"polls": self.polls, "bars": self.bars_seen, "caught_up": self.bars_missed}
