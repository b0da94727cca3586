"""Bounded queues of the executor's pipeline, each with a stated policy when full.

* :class:`LatestQueue` — market ticks: at most one pending item per key (symbol); a newer tick
  replaces an older one that was not consumed yet (counted as *coalesced*). Never blocks the
  producer; memory is bounded by the number of keys.
* :class:`PressureQueue` — closed bars and order intents: never dropped. Bounded: a full queue
  blocks the producer (back-pressure), and past ``high_water`` items it reports pressure so the
  feed can slow down before it blocks.

Both record depth, the maximum depth seen and throughput counters for the monitor.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class LatestQueue(Generic[K, T]):
    """Keep-the-latest-per-key queue (see the module docstring)."""

    def __init__(self) -> None:
        self._items: OrderedDict[K, T] = OrderedDict()
        self._ready = asyncio.Event()
        self.put_count = 0
        self.coalesced = 0
        self.max_depth = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: K, item: T) -> None:
        """Offer ``item`` for ``key``; replaces a pending one (never blocks)."""
        self.put_count += 1
        if key in self._items:
            self.coalesced += 1
        self._items[key] = item
        self.max_depth = max(self.max_depth, len(self._items))
        self._ready.set()

    async def get(self) -> tuple[K, T]:
        """The oldest pending key and its latest item (waits while empty)."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        key, item = self._items.popitem(last=False)
        return key, item

    def stats(self) -> dict[str, int]:
        """Depth and counters for the monitor."""
        return {
            "depth": len(self._items),
            "max_depth": self.max_depth,
            "put": self.put_count,
            "coalesced": self.coalesced,
        }


class PressureQueue(Generic[T]):
    """Never-dropping bounded queue with back-pressure (see the module docstring).

    Args:
        maxsize: capacity; a producer putting into a full queue waits.
        high_water: depth from which :attr:`under_pressure` is True (default: half the size).
    """

    def __init__(self, maxsize: int, high_water: int | None = None) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize: found {maxsize}; allowed: 1 or more")
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self.high_water = high_water if high_water is not None else max(1, maxsize // 2)
        self.put_count = 0
        self.max_depth = 0
        self.blocked = 0

    def __len__(self) -> int:
        return self._queue.qsize()

    @property
    def under_pressure(self) -> bool:
        """True while the depth is at or above the high-water mark."""
        return self._queue.qsize() >= self.high_water

    async def put(self, item: T) -> None:
        """Append ``item``; waits while the queue is full (never drops)."""
        if self._queue.full():
            self.blocked += 1
        await self._queue.put(item)
        self.put_count += 1
        self.max_depth = max(self.max_depth, self._queue.qsize())

    async def get(self) -> T:
        """The next item (waits while empty)."""
        return await self._queue.get()

    def task_done(self) -> None:
        """Mark the last item got as handled."""
        self._queue.task_done()

    async def join(self) -> None:
        """Wait until every item put has been handled."""
        await self._queue.join()

    def stats(self) -> dict[str, int]:
        """Depth and counters for the monitor."""
        return {
            "depth": self._queue.qsize(),
            "max_depth": self.max_depth,
            "put": self.put_count,
            "blocked": self.blocked,
        }
