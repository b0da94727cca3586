"""The tick pipeline: live-like tick flow through asyncio stages, feed → decide → execute.

* **feed** — replays real ticks (every symbol's, merged by ``time_msc``) at ``rate`` ticks per
  wall-clock second on an absolute schedule: tick ``n`` is due ``n / rate`` s after the start,
  so a late wake-up is caught up (at most ``batch_max`` ticks per wake-up), never drifts;
  ``rate`` 0 = as fast as possible. Each wake-up drives the broker's replay to every due tick,
  in order — one ``replay.tick(symbol, k)`` per tick, or with ``batch_method`` one call per
  wake-up (a replay method taking the list of ``(symbol, k)`` and playing them exactly as
  successive ``tick`` calls would: the emulator's ``replay.tick_batch``).
  Through a :class:`Gateway` the batch runs in a worker thread (the gateway waits on its pipe
  with the GIL released), so the event loop stays free. Then each tick goes into a
  :class:`LatestQueue` as a :class:`TickEvent` (keep the latest per symbol: a slow decide stage
  sees *coalescing*, the queue never holds more than one tick per symbol).
  With ``read_ticks`` the feed works as it would against a live terminal: after moving the
  market it reads every symbol's new ticks back with ``copy_ticks_from``
  (:class:`~trademaestro.runtime.tickreader.TickReader`, one call per symbol and wake-up, in the
  same worker-thread hop), and the events carry what the terminal returned; their latency counts
  from before the market was moved. A symbol whose read count differs from the ticks driven is
  logged and counted (``read_mismatches``).
  **Back-pressure**: before each batch, if the intent queue is at or above its high-water mark,
  the feed waits until the execute stage drained it to half the mark (an event set by the
  execute stage, no polling), counts one back-pressure event and the seconds waited, and shifts
  its schedule by the wait (no burst afterwards: the feed really slows down).
  With ``loop`` the ticks are replayed again when they run out, shifted by whole weeks (the
  span of the data rounded up, so weekdays and server-day rollovers stay aligned), reloaded
  into the broker with ``replay.load_ticks``.
* **decide** — takes the latest tick per symbol, calls ``decide(symbol, tick)`` (sync, or
  returning an awaitable) for a sequence of intents, records the **tick-to-decision latency**
  (from the tick's enqueue to the decision's return, before its intents are queued), and puts
  the intents in a :class:`PressureQueue` (never dropped; a full queue blocks decide).
* **execute** — sends each intent (:func:`send_intent`: open, close, modify, flatten) through
  the adapter; through a gateway in a worker thread. Counts orders sent and accepted.

Error policy (as :mod:`.pipeline`): a decision or an intent that raises is logged with its
context, counted and skipped; the stages go on. An intent interrupted by a watchdog restart of
the execute stage has an unknown outcome: it is counted (``intents_interrupted``), logged at
ERROR and NOT re-sent (resolving it belongs to the exactly-once executor's journal).
``intents_sent`` counts every intent handed to the executor (failed and interrupted included).
A failure to drive the broker's replay (e.g. a gateway timeout or crash: the emulator's state
is gone with its child) is not a bad item: it ends :meth:`TickPipeline.run` with that error,
after the stages are stopped (intents still queued are then not sent).

Costs: ``stats()`` sorts the latency reservoir (at most 65,536 values, a few ms); through a
gateway one round trip costs 70-180 us on a 2-core machine (the kernel's wake-up of the other
process is most of it), so one ``replay.tick`` per tick caps the feed near 10,000-15,000
ticks/s; one ``tick_batch`` call per wake-up, and with ``read_ticks`` one ``copy_ticks_from``
per symbol, lift it far past 20,000 ticks/s (``benchmarks/throughput.py`` prints the figures).

Clean stop (``stop`` event, ``duration`` elapsed or data exhausted): the feed stops, decide
handles the ticks still queued (at most one per symbol), execute drains every queued intent,
then :meth:`TickPipeline.run` returns :meth:`TickPipeline.stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import numpy as np

from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.mt5.gateway import Gateway
from trademaestro.core.errors import ConfigError
from trademaestro.core.timeframes import Timeframe
from trademaestro.runtime.monitor import LatencyStats, Monitor
from trademaestro.runtime.queues import LatestQueue, PressureQueue
from trademaestro.runtime.tickorders import (
    DecideFn,
    ExecuteFn,
    PipeIntent,
    TickEvent,
    send_intent,
)
from trademaestro.runtime.tickreader import TickReader, drive_and_read, play_calls
from trademaestro.runtime.watchdog import StageTask, Watchdog

log = logging.getLogger("trademaestro.tickpipe")
WEEK = 7 * 86400


class _Drain:
    """Events of the stages the feed and the clean stop wait on."""

    def __init__(self) -> None:
        self.below = asyncio.Event()  # the intent queue is at or under the low-water mark
        self.ticks_idle = asyncio.Event()  # decide has nothing queued or in hand


class TickPipeline:
    """Feed → decide → execute over real ticks (module docstring).

    Args:
        broker: a :class:`Gateway` (calls in worker threads) or an in-process ``MT5Emulator``,
            with the same ``ticks`` already loaded (``replay.load_ticks``).
        ticks: per symbol, the ticks loaded in the broker (``TICKS_DTYPE``).
        rate: target ticks per wall-clock second (0: as fast as possible).
        decide: the decision (default: none). execute: sends one intent (default:
            :func:`send_intent` over ``MT5Adapter(broker)``, which must be initialized).
        intent_queue: capacity of the intent queue; high_water: its back-pressure mark
            (default: half the capacity); the feed resumes at ``high_water // 2``.
        batch_max: most ticks driven per wake-up. batch_method, read_ticks: see the module
            docstring.
        loop: replay the ticks again when they run out (shifted by whole weeks).
        timeframe: of the bars rebuilt when the ticks are reloaded (``loop``).
        threaded: call the broker in worker threads (default: when it is a Gateway).
        monitor, watchdog: optional; stages ``feed``, ``decide``, ``execute``.

    Raises:
        ConfigError: a negative or non-finite rate, batch_max < 1, no ticks, an unknown stage.
    """

    def __init__(
        self,
        broker: Any,
        ticks: Mapping[str, np.ndarray[Any, Any]],
        *,
        rate: float,
        decide: DecideFn | None = None,
        execute: ExecuteFn | None = None,
        intent_queue: int = 64,
        high_water: int | None = None,
        batch_max: int = 256,
        batch_method: str | None = None,
        read_ticks: bool = False,
        loop: bool = False,
        timeframe: Timeframe = Timeframe.M1,
        threaded: bool | None = None,
        monitor: Monitor | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        if not (math.isfinite(rate) and rate >= 0) or batch_max < 1:
            raise ConfigError(
                f"TickPipeline: found rate {rate}, batch_max {batch_max}; "
                "allowed: rate >= 0 ticks/s (0: unpaced), batch_max >= 1"
            )
        if not ticks or any(len(t) == 0 for t in ticks.values()):
            raise ConfigError("TickPipeline ticks: found no ticks; allowed: {symbol: ticks}")
        self.broker, self.rate, self.batch_max = broker, float(rate), batch_max
        self.batch_method, self.loop, self.timeframe = batch_method, loop, timeframe
        self.read_ticks = read_ticks
        self.threaded = isinstance(broker, Gateway) if threaded is None else threaded
        self.symbols = list(ticks)
        self._arrays = {s: np.asarray(t) for s, t in ticks.items()}
        merged = np.concatenate([t["time_msc"] for t in self._arrays.values()])
        which = np.concatenate([np.full(len(t), i) for i, t in enumerate(self._arrays.values())])
        ks = np.concatenate([np.arange(len(t)) for t in self._arrays.values()])
        order = np.argsort(merged, kind="stable")
        self._seq_sym: list[int] = which[order].tolist()
        self._seq_k: list[int] = ks[order].tolist()
        span_s = (int(merged.max()) - int(merged.min())) // 1000 + 1
        self.shift_s = math.ceil(span_s / WEEK) * WEEK
        self._bids = {s: t["bid"].tolist() for s, t in self._arrays.items()}
        self._asks = {s: t["ask"].tolist() for s, t in self._arrays.items()}
        self._load_columns(0)
        self.readers = {s: TickReader(s, self._cols[s][0]) for s in self.symbols}
        self._read_k = dict.fromkeys(self.symbols, 0)
        self.decide_fn: DecideFn = decide or (lambda symbol, tick: ())
        if execute is None:
            adapter = MT5Adapter(broker)
            execute = lambda intent: send_intent(adapter, intent)  # noqa: E731
        self.execute_fn: ExecuteFn = execute
        self.ticks: LatestQueue[str, TickEvent] = LatestQueue()
        self.intents: PressureQueue[PipeIntent] = PressureQueue(intent_queue, high_water)
        self.low_water = self.intents.high_water // 2
        self.latency = LatencyStats(1 << 16)
        self.latency_window = LatencyStats()
        self.monitor, self.watchdog = monitor, watchdog
        self._wd = set(watchdog.stats()) if watchdog is not None else set()
        if monitor is not None:
            monitor.add_source("tickpipe", self.stats)
            monitor.add_latency("tick_to_decision", self.latency_window)
        self.counts = dict.fromkeys(
            (
                "ticks_fed",
                "passes",
                "decisions",
                "decide_errors",
                "intents_queued",
                "intents_sent",
                "intents_failed",
                "intents_interrupted",
                "orders_sent",
                "orders_accepted",
                "backpressure_events",
                "ticks_read",
                "read_mismatches",
            ),
            0,
        )
        self.fed = dict.fromkeys(self.symbols, 0)
        self.backpressure_wait_s = 0.0
        self.elapsed_s = 0.0
        self._deciding = False
        self._drain: _Drain | None = None

    def _load_columns(self, passes: int) -> None:
        """Tick times (server ms) of pass ``passes`` (0: as loaded)."""
        offset = passes * self.shift_s * 1000
        self._cols = {s: (t["time_msc"] + offset).tolist() for s, t in self._arrays.items()}

    # -- public ------------------------------------------------------------------------------
    async def run(
        self, duration: float | None = None, stop: asyncio.Event | None = None
    ) -> dict[str, Any]:
        """Feed until ``stop`` is set, ``duration`` wall seconds passed or (without ``loop``)
        the ticks ran out; then stop cleanly (module docstring) and return :meth:`stats`."""
        stop = stop if stop is not None else asyncio.Event()
        self._drain = _Drain()
        stages = [StageTask("decide", self._decide), StageTask("execute", self._execute)]
        for stage in stages:
            stage.start()
            if stage.name in self._wd and self.watchdog is not None:
                self.watchdog.register(stage.name, stage.restart)
        timer = None
        if duration is not None:
            timer = asyncio.get_running_loop().call_later(duration, stop.set)
        started = time.perf_counter()
        try:
            await self._feed(stop)
            self.elapsed_s = time.perf_counter() - started
            self._busy("feed", False)
            await _until(self._ticks_drained, stages)
            await _until(self.intents.join, stages)
        finally:
            if timer is not None:
                timer.cancel()
            for stage in stages:
                await stage.stop()
        return self.stats()

    def stats(self) -> dict[str, Any]:
        """Counters (ticks fed per symbol, coalesced, decisions, intents queued/sent/failed,
        orders sent/accepted, back-pressure events and seconds waited), queue stats (depth,
        max depth, put, coalesced/blocked) and the tick-to-decision latency since the start
        (ms: count, p50, p99, max)."""
        return {
            **self.counts,
            "fed": dict(self.fed),
            "ticks_coalesced": self.ticks.coalesced,
            "backpressure_wait_s": round(self.backpressure_wait_s, 3),
            "elapsed_s": round(self.elapsed_s, 3),
            "tick_queue": self.ticks.stats(),
            "intent_queue": self.intents.stats(),
            "latency": self.latency.snapshot(reset=False),
        }

    # -- feed ----------------------------------------------------------------------------------
    async def _feed(self, stop: asyncio.Event) -> None:
        rate, seq_sym, n_seq = self.rate, self._seq_sym, len(self._seq_sym)
        started = time.perf_counter()
        n = pos = 0
        self._busy("feed", True)
        while not stop.is_set():
            if self.intents.under_pressure:
                started += await self._backpressure(stop)
                continue
            count = self.batch_max
            if rate > 0:
                due = int((time.perf_counter() - started) * rate) + 1 - n
                if due <= 0:
                    await _wait(stop, started + n / rate - time.perf_counter())
                    continue
                count = min(due, count)
            if pos >= n_seq:
                if not self.loop:
                    return
                await self._wrap()
                pos = 0
            count = min(count, n_seq - pos)
            if self.read_ticks:
                await self._drive_and_read(pos, pos + count)
                pos += count
                n += count
                self.counts["ticks_fed"] += count
                self._beat("feed")
                await asyncio.sleep(0)
                continue
            await self._drive(pos, pos + count)
            now = time.perf_counter()
            symbols, put, fed = self.symbols, self.ticks.put, self.fed
            for i in range(pos, pos + count):
                symbol = symbols[seq_sym[i]]
                k = self._seq_k[i]
                put(
                    symbol,
                    TickEvent(
                        symbol,
                        k,
                        self._cols[symbol][k],
                        self._bids[symbol][k],
                        self._asks[symbol][k],
                        now,
                    ),
                )
                fed[symbol] += 1
            pos += count
            n += count
            self.counts["ticks_fed"] += count
            self._beat("feed")
            await asyncio.sleep(0)

    async def _drive(self, start: int, stop: int) -> None:
        calls = self._calls(start, stop)
        if self.threaded:
            await asyncio.to_thread(play_calls, self.broker, calls)
        else:
            play_calls(self.broker, calls)

    async def _drive_and_read(self, start: int, stop: int) -> None:
        """Drive ticks ``start..stop-1``, then read every symbol's new ticks back from the
        terminal (:class:`TickReader`, one ``copy_ticks_from`` per symbol) and queue those: the
        decisions see what the terminal returned. Latency counts from before the drive."""
        stamp = time.perf_counter()
        seq_sym, symbols = self._seq_sym, self.symbols
        expected: dict[str, int] = {}
        for i in range(start, stop):
            symbol = symbols[seq_sym[i]]
            expected[symbol] = expected.get(symbol, 0) + 1
        calls = self._calls(start, stop)
        args = (self.broker, calls, self.readers, expected)
        if self.threaded:
            got = await asyncio.to_thread(drive_and_read, *args)
        else:
            got = drive_and_read(*args)
        put, fed, read_k = self.ticks.put, self.fed, self._read_k
        for symbol, ticks in got.items():
            k0 = read_k[symbol]
            times, bids, asks = (ticks[f].tolist() for f in ("time_msc", "bid", "ask"))
            for j, (msc, bid, ask) in enumerate(zip(times, bids, asks, strict=True)):
                put(symbol, TickEvent(symbol, k0 + j, msc, bid, ask, stamp))
            read_k[symbol] = k0 + len(times)
            fed[symbol] += len(times)
            self.counts["ticks_read"] += len(times)
            if len(times) != expected.get(symbol, 0):
                self.counts["read_mismatches"] += 1
                log.warning(
                    "tick pipeline: drove %d %s ticks, the terminal returned %d",
                    expected.get(symbol, 0),
                    symbol,
                    len(times),
                )

    def _calls(self, start: int, stop: int) -> list[tuple[str, tuple[Any, ...]]]:
        """The replay calls driving ticks ``start..stop-1`` of the merged sequence."""
        seq_sym, seq_k, symbols = self._seq_sym, self._seq_k, self.symbols
        if self.batch_method is None:
            return [("tick", (symbols[seq_sym[i]], seq_k[i])) for i in range(start, stop)]
        pairs = [(symbols[seq_sym[i]], seq_k[i]) for i in range(start, stop)]
        return [(self.batch_method, (pairs,))]

    async def _wrap(self) -> None:
        """Ticks ran out: reload them shifted by whole weeks (``loop``)."""
        self.counts["passes"] += 1
        shift = self.counts["passes"] * self.shift_s
        calls: list[tuple[str, tuple[Any, ...]]] = []
        for symbol, array in self._arrays.items():
            shifted = array.copy()
            shifted["time"] += shift
            shifted["time_msc"] += shift * 1000
            calls.append(("load_ticks", (symbol, int(self.timeframe), shifted)))
        if self.threaded:
            await asyncio.to_thread(play_calls, self.broker, calls)
        else:
            play_calls(self.broker, calls)
        self._load_columns(self.counts["passes"])
        for symbol, reader in self.readers.items():
            reader.reset(self._cols[symbol][0])
            self._read_k[symbol] = 0
        log.info("tick pipeline: ticks replayed again, shifted by %d s", shift)

    async def _backpressure(self, stop: asyncio.Event) -> float:
        """Wait until the intent queue is at or under the low-water mark; seconds waited."""
        assert self._drain is not None
        self.counts["backpressure_events"] += 1
        started = time.perf_counter()
        below = self._drain.below
        while len(self.intents) > self.low_water and not stop.is_set():
            below.clear()
            waiter = asyncio.ensure_future(below.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            self._beat("feed")
        waited = time.perf_counter() - started
        self.backpressure_wait_s += waited
        return waited

    # -- decide and execute ---------------------------------------------------------------------
    async def _decide(self) -> None:
        assert self._drain is not None
        idle = self._drain.ticks_idle
        while True:
            if not len(self.ticks):
                idle.set()
            symbol, tick = await self.ticks.get()
            idle.clear()
            self._deciding = True
            self._busy("decide", True)
            try:
                try:
                    result = self.decide_fn(symbol, tick)
                    intents = await result if inspect.isawaitable(result) else result
                except Exception as exc:
                    self.counts["decide_errors"] += 1
                    log.error(
                        "decide failed on %s tick %d (time_msc %d): %s; carrying on",
                        symbol,
                        tick.k,
                        tick.time_msc,
                        exc,
                        exc_info=exc,
                    )
                    intents = ()
                seconds = time.perf_counter() - tick.enqueued
                self.latency.record(seconds)
                self.latency_window.record(seconds)
                self.counts["decisions"] += 1
                for intent in intents:
                    await self.intents.put(intent)
                    self.counts["intents_queued"] += 1
            finally:
                self._deciding = False
                self._beat("decide")
                self._busy("decide", False)

    async def _execute(self) -> None:
        assert self._drain is not None
        below = self._drain.below
        while True:
            intent = await self.intents.get()
            self._busy("execute", True)
            try:
                if self.threaded:
                    result = await asyncio.to_thread(self.execute_fn, intent)
                else:
                    result = self.execute_fn(intent)
                outcomes = await result if inspect.isawaitable(result) else result
                self.counts["orders_sent"] += len(outcomes)
                self.counts["orders_accepted"] += sum(1 for o in outcomes if o.ok)
            except asyncio.CancelledError:
                self.counts["intents_interrupted"] += 1
                log.error(
                    "execute stage interrupted during %r: outcome unknown, not re-sent", intent
                )
                raise
            except Exception as exc:
                self.counts["intents_failed"] += 1
                log.error("execute failed on %r: %s; carrying on", intent, exc, exc_info=exc)
            finally:
                self.counts["intents_sent"] += 1
                self.intents.task_done()
                if len(self.intents) <= self.low_water:
                    below.set()
                self._beat("execute")
                self._busy("execute", False)

    async def _ticks_drained(self) -> None:
        assert self._drain is not None
        while len(self.ticks) or self._deciding:
            self._drain.ticks_idle.clear()
            await self._drain.ticks_idle.wait()

    def _beat(self, stage: str) -> None:
        if stage in self._wd and self.watchdog is not None:
            self.watchdog.beat(stage)

    def _busy(self, stage: str, busy: bool) -> None:
        if stage in self._wd and self.watchdog is not None:
            self.watchdog.set_busy(stage, busy)


async def _wait(stop: asyncio.Event, delay: float) -> None:
    """Sleep ``delay`` s, or less when ``stop`` is set (long waits only watch the event)."""
    if delay < 0.05:
        await asyncio.sleep(max(delay, 0.0))
    else:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


async def _until(make: Callable[[], Coroutine[Any, Any, None]], stages: list[StageTask]) -> None:
    """Await ``make()``; a stage task that ends meanwhile (not replaced by a watchdog restart)
    raises RuntimeError instead of waiting forever."""
    waiter = asyncio.ensure_future(make())
    try:
        while True:
            tasks = {s.task for s in stages if s.task is not None}
            done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            if waiter in done:
                waiter.result()
                return
            for task in done:
                if any(s.task is task for s in stages):
                    if not task.cancelled():
                        task.result()
                    raise RuntimeError(f"tick pipeline stage {task.get_name()!r} ended")
    finally:
        waiter.cancel()
