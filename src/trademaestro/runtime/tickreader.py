"""Reading a symbol's new ticks from the terminal, the way a live executor does.

Polling ``symbol_info_tick`` once per wake-up misses every tick between two polls; the terminal
keeps a tick history, so each wake-up asks it for everything since the last tick seen:
``copy_ticks_from(symbol, date_from, count, COPY_TICKS_ALL)`` (MT5_API.md §2.5). ``date_from``
has whole-second resolution, so the reply starts at the second of the last tick seen; the ticks
already seen in that second are dropped — by time, and among ticks sharing the last one's
``time_msc``, by how many of them were seen. A reply as long as ``count`` may have been cut, so
the reader asks again from where it got to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from trademaestro.core.errors import BrokerError

COPY_TICKS_ALL = -1
_ALL = 1 << 62


class TickReader:
    """The unseen ticks of one symbol (TICKS_DTYPE rows), oldest first.

    Args:
        symbol: the terminal's symbol name.
        start_msc: server time (ms) of the first tick to return; earlier ticks count as seen.
        margin: extra ticks asked for beyond the expected count (a reply of ``count`` ticks is
            read again from where it ended).
    """

    def __init__(self, symbol: str, start_msc: int, margin: int = 64) -> None:
        self.symbol = symbol
        self.margin = margin
        self.reset(start_msc)

    def reset(self, start_msc: int) -> None:
        """Forget what was seen: the next read starts at ``start_msc`` (server ms)."""
        self.last_msc = start_msc - 1
        self.same = _ALL  # ticks seen with time_msc == last_msc (before the start: all)
        self.in_second = 0  # ticks seen in last_msc's second
        self.calls = 0
        self._count = 0  # the count of the last request
        self._grow = False  # the next request doubles it

    def read(self, terminal: Any, expected: int = 0) -> np.ndarray[Any, Any]:
        """Every tick after the last one seen, up to the terminal's replay position.

        Args:
            terminal: the ``MetaTrader5``-like object (a gateway or the emulator).
            expected: how many new ticks the caller thinks there are (sizes the request).

        Raises:
            BrokerError: ``copy_ticks_from`` answered None (its ``last_error`` in the message).
        """
        parts: list[np.ndarray[Any, Any]] = []
        while True:
            name, args = self.request(expected)
            fresh, complete = self.take(getattr(terminal, name)(*args), terminal)
            parts.append(fresh)
            if complete:
                break
            expected = max(expected - len(fresh), 0)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def request(self, expected: int = 0) -> tuple[str, tuple[Any, ...]]:
        """The next ``copy_ticks_from`` call, as ``(name, args)``, for :meth:`take` to read
        (e.g. in a batch of gateway calls)."""
        if self._grow:
            self._count *= 2
        else:
            self._count = max(expected, 1) + self.in_second + self.margin
        second = max(self.last_msc, 0) // 1000
        return "copy_ticks_from", (self.symbol, second, self._count, COPY_TICKS_ALL)

    def take(self, reply: Any, terminal: Any) -> tuple[np.ndarray[Any, Any], bool]:
        """The unseen ticks of the reply to the last :meth:`request`, and whether they are all
        of them (False: the reply was cut, request again).

        Raises:
            BrokerError: the reply is None (``terminal.last_error()`` in the message).
        """
        self.calls += 1
        if reply is None:
            raise BrokerError(
                f"copy_ticks_from({self.symbol!r}, {max(self.last_msc, 0) // 1000}, "
                f"{self._count}, COPY_TICKS_ALL) answered None: "
                f"last_error {terminal.last_error()}"
            )
        fresh = self._unseen(reply)
        if len(fresh):
            self._saw(fresh)
        complete = len(reply) < self._count
        # A cut reply with nothing new: the second holds more seen ticks than counted.
        self._grow = not complete and not len(fresh)
        return fresh, complete

    def _unseen(self, reply: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        msc = reply["time_msc"]
        begin = int(np.searchsorted(msc, self.last_msc, side="left"))
        at_last = int(np.searchsorted(msc, self.last_msc, side="right")) - begin
        return reply[begin + min(self.same, at_last) :]

    def _saw(self, fresh: np.ndarray[Any, Any]) -> None:
        msc = fresh["time_msc"]
        last = int(msc[-1])
        same_in_fresh = len(msc) - int(np.searchsorted(msc, last, side="left"))
        second_start = last // 1000 * 1000
        in_second_fresh = len(msc) - int(np.searchsorted(msc, second_start, side="left"))
        if last == self.last_msc:
            self.same = min(self.same + same_in_fresh, _ALL)
        else:
            self.same = same_in_fresh
        if second_start == max(self.last_msc, 0) // 1000 * 1000 and self.last_msc >= 0:
            self.in_second += in_second_fresh
        else:
            self.in_second = in_second_fresh
        self.last_msc = last


def play_calls(broker: Any, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Run replay calls on ``broker`` (a Gateway's ``replay_call`` or an emulator's replay)."""
    replay_call = getattr(broker, "replay_call", None)
    if replay_call is not None:
        for method, args in calls:
            replay_call(method, *args)
    else:
        replay = broker.replay
        for method, args in calls:
            getattr(replay, method)(*args)


def drive_and_read(
    broker: Any,
    calls: list[tuple[str, tuple[Any, ...]]],
    readers: Mapping[str, TickReader],
    expected: Mapping[str, int],
) -> dict[str, np.ndarray[Any, Any]]:
    """Run the replay calls, then read each driven symbol's new ticks from ``broker``: through
    a gateway all in one round trip (``call_many``; a cut reply is read on with more calls)."""
    many = getattr(broker, "call_many", None)
    if many is None:
        play_calls(broker, calls)
        return {symbol: readers[symbol].read(broker, n) for symbol, n in expected.items()}
    requests = [(f"replay.{method}", args) for method, args in calls]
    requests += [readers[symbol].request(n) for symbol, n in expected.items()]
    replies = many(requests)[len(calls) :]
    out: dict[str, np.ndarray[Any, Any]] = {}
    for (symbol, n), reply in zip(expected.items(), replies, strict=True):
        fresh, complete = readers[symbol].take(reply, broker)
        if not complete:
            rest = readers[symbol].read(broker, max(n - len(fresh), 0))
            fresh = np.concatenate([fresh, rest])
        out[symbol] = fresh
    return out
