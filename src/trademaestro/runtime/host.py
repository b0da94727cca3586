"""Strategies started, stopped, paused and updated while the executor runs (remote control).

The host owns the strategy set of a live (or paper-over-live) session. Starting a strategy
builds its instances (:class:`~trademaestro.runtime.slots.SlotFactory`), warms their bar stores
from the terminal's history, re-learns positions they already hold (same magic number), routes
their orders through the exactly-once path and hands them to the live pipeline. Stopping one
takes it out of the pipeline and finishes its runs; its positions stay open unless asked to close
them. Pausing keeps its bar stores current (so a resume trades on correct indicators) but it no
longer acts; its positions keep their stops at the broker.

Broker work runs in worker threads; the strategy set itself is only changed on the event loop,
between pipeline items, so a stage never sees a half-added strategy. Stopping and updating take
the account's turn (:class:`~trademaestro.runtime.actstages.ActStages`): a bar of the strategy
still in flight (an entry about to be sent) finishes first, and none starts until the strategy
is gone — a strategy stopped with its positions closed opens nothing afterwards. The platform's
manual orders do not wait for the turn (``CLOSE_ALL`` must not wait behind a slow supervisor).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from trademaestro.core.errors import ConfigError, TradeMaestroError
from trademaestro.core.timeframes import Timeframe
from trademaestro.runtime.brokerlink import attach_safety
from trademaestro.runtime.live import LivePipeline
from trademaestro.runtime.live_session import warm_feed
from trademaestro.runtime.planning import build_plan
from trademaestro.runtime.recovery import relearn_positions
from trademaestro.runtime.review import ReviewFn
from trademaestro.runtime.session import Session, Slot
from trademaestro.runtime.slots import SlotFactory
from trademaestro.strategy.loader import LoadedStrategy

log = logging.getLogger("trademaestro.host")


class HostError(TradeMaestroError):
    """A strategy command that cannot be carried out (unknown strategy, unsafe update...)."""


@dataclass
class Hosted:
    """One strategy of the host: its slots (one per symbol) and its state."""

    strategy_id: str
    loaded: LoadedStrategy
    slots: list[Slot]
    state: str = "running"  # running | paused
    source: str = field(default="platform")


class StrategyHost:
    """The executor's strategy set under remote control (see the module docstring).

    Args:
        session: the live session (its factory, store, safety and broker are shared).
        pipeline: the running live pipeline.
        factory: builds the strategies' slots.
        warmup_bars: closed bars of history loaded for each new strategy.
    """

    def __init__(
        self,
        session: Session,
        pipeline: LivePipeline,
        factory: SlotFactory,
        *,
        warmup_bars: int,
    ) -> None:
        self.session = session
        self.pipeline = pipeline
        self.factory = factory
        self.warmup_bars = warmup_bars
        self.strategies: dict[str, Hosted] = {}
        self.entry_review: ReviewFn | None = None  # given to every strategy started
        for slot in session.slots:
            sid = slot.instance.plan.strategy_id
            hosted = self.strategies.setdefault(sid, Hosted(sid, slot.strategy, [], source="cli"))
            hosted.slots.append(slot)

    def set_entry_review(self, review: ReviewFn | None) -> None:
        """Give every strategy (running and future) the last look before its entries."""
        self.entry_review = review
        for hosted in self.strategies.values():
            for slot in hosted.slots:
                slot.instance.entry_review = review

    # -- queries ------------------------------------------------------------------------------
    def active(self) -> list[dict[str, Any]]:
        """The active strategies for the heartbeat: ``[{strategyId, symbol, state}]``."""
        return [
            {"strategyId": h.strategy_id, "symbol": slot.symbol, "state": h.state}
            for h in self.strategies.values()
            for slot in h.slots
        ]

    def magics(self) -> dict[int, str]:
        """Magic number → strategy id of every hosted strategy."""
        return {
            s.instance.plan.magic: h.strategy_id for h in self.strategies.values() for s in h.slots
        }

    def get(self, strategy_id: str) -> Hosted:
        """The hosted strategy ``strategy_id``.

        Raises:
            HostError: no such strategy runs here.
        """
        hosted = self.strategies.get(strategy_id)
        if hosted is None:
            running = ", ".join(sorted(self.strategies)) or "none"
            raise HostError(f"strategy {strategy_id!r} is not running here (running: {running})")
        return hosted

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, loaded: LoadedStrategy, source: str = "platform") -> dict[str, Any]:
        """Start a strategy: one instance per symbol, warmed up, positions re-learnt.

        Raises:
            HostError: it runs already. ConfigError, StrategyError, SymbolError, BrokerError:
                it cannot be built or warmed up (nothing is left half-started).
        """
        sid = loaded.spec.strategyId or ""
        if sid in self.strategies:
            raise HostError(f"strategy {sid!r} is already running; use UPDATE_STRATEGY")
        slots = await asyncio.to_thread(self._build, loaded, source)
        self._attach(Hosted(sid, loaded, slots, source=source))
        log.warning("strategy %s started on %s", sid, ", ".join(s.symbol for s in slots))
        return {"strategyId": sid, "symbols": [s.symbol for s in slots], "state": "running"}

    def _build(self, loaded: LoadedStrategy, source: str) -> list[Slot]:
        """Build, warm and record the slots of ``loaded`` (worker thread)."""
        spec = loaded.spec
        symbols = spec.symbol_list
        if not symbols:
            raise ConfigError("the strategy names no symbol (symbol or symbols)")
        path = f"{source}:{spec.strategyId}"
        session = self.session
        factory = self.factory
        built: list[Slot] = []
        try:
            for sym in symbols:
                self._check_timeframe(sym, spec.timeframe)
                if sym not in factory.feeds:
                    factory.feeds[sym] = warm_feed(
                        session.adapter, sym, spec.timeframe, self.warmup_bars
                    )
                slot = factory.build(path, loaded, sym, len(symbols) > 1)
                if session.safety is not None:
                    attach_safety([slot.instance], session.safety)
                slot.instance.entry_review = self.entry_review
                fresh = warm_feed(session.adapter, sym, spec.timeframe, self.warmup_bars)
                slot.instance.store.extend(fresh.rates)
                factory.begin_run(slot)
                relearn_positions(session, slot.instance)
                built.append(slot)
        except BaseException:
            factory.release(path)
            raise
        return built

    def _check_timeframe(self, symbol: str, timeframe: Timeframe) -> None:
        for hosted in self.strategies.values():
            for slot in hosted.slots:
                if slot.symbol == symbol and slot.strategy.spec.timeframe != timeframe:
                    raise ConfigError(
                        f"{symbol} is traded on {slot.strategy.spec.timeframe.name} by "
                        f"{hosted.strategy_id}; allowed: one timeframe per symbol"
                    )

    def _attach(self, hosted: Hosted) -> None:
        """Put the slots into the session and the pipeline (event loop only)."""
        self.strategies[hosted.strategy_id] = hosted
        for slot in hosted.slots:
            self.session.slots.append(slot)
            self.pipeline.add_slot(slot)

    def _detach(self, hosted: Hosted) -> None:
        del self.strategies[hosted.strategy_id]
        for slot in hosted.slots:
            self.pipeline.remove_slot(slot)
            self.session.slots.remove(slot)
        self.factory.release(hosted.slots[0].source if hosted.slots else "")

    async def stop(self, strategy_id: str, close_positions: bool = False) -> dict[str, Any]:
        """Stop a strategy; with ``close_positions`` its positions are closed first.

        Raises:
            HostError: no such strategy.
        """
        hosted = self.get(strategy_id)
        closed: list[int] = []
        # In the account's turn: a bar of this strategy still in flight (an entry about to be
        # sent) finishes first, and none starts before the slots are gone.
        async with self.pipeline.acts.turn:
            if close_positions:
                closed = await asyncio.to_thread(self._close_positions, hosted)
            self._detach(hosted)
        await asyncio.to_thread(self._finish_runs, hosted)
        log.warning("strategy %s stopped%s", strategy_id, " (positions closed)" if closed else "")
        return {"strategyId": strategy_id, "state": "stopped", "closedTickets": closed}

    def _close_positions(self, hosted: Hosted) -> list[int]:
        tickets: list[int] = []
        for slot in hosted.slots:
            quote = slot.instance.adapter.quote(slot.symbol)
            tickets.extend(slot.instance.close_all("manual", quote.time))
        return tickets

    def _finish_runs(self, hosted: Hosted) -> None:
        store = self.session.store
        if store is None:
            return
        account = self.session.adapter.account()
        for slot in hosted.slots:
            if slot.run_id is not None:
                store.finish_run(
                    slot.run_id,
                    status="interrupted",
                    final_balance=account.balance,
                    final_equity=account.equity,
                    error=None,
                )

    def pause(self, strategy_id: str) -> dict[str, Any]:
        """Stop acting (bars are still appended); positions unchanged.

        Raises:
            HostError: no such strategy.
        """
        hosted = self.get(strategy_id)
        hosted.state = "paused"
        for slot in hosted.slots:
            self.pipeline.paused.add(id(slot))
        return {"strategyId": strategy_id, "state": "paused"}

    def resume(self, strategy_id: str) -> dict[str, Any]:
        """Act again from the next closed bar.

        Raises:
            HostError: no such strategy.
        """
        hosted = self.get(strategy_id)
        hosted.state = "running"
        for slot in hosted.slots:
            self.pipeline.paused.discard(id(slot))
        return {"strategyId": strategy_id, "state": "running"}

    async def update(self, loaded: LoadedStrategy) -> dict[str, Any]:
        """Reload a strategy's rules without stopping it, when that is safe: its positions keep
        their owner (same magic number and symbols). Otherwise, with positions open, refused.

        Raises:
            HostError: no such strategy, or the update would orphan open positions.
        """
        sid = loaded.spec.strategyId or ""
        hosted = self.get(sid)
        old = hosted.slots
        new_magic = build_plan(loaded, loaded.spec.symbol_list[0])[0].magic
        same_owner = new_magic == old[0].instance.plan.magic and set(loaded.spec.symbol_list) == {
            s.symbol for s in old
        }
        if not same_owner:
            open_positions = await asyncio.to_thread(self._open_count, hosted)
            if open_positions:
                raise HostError(
                    f"UPDATE_STRATEGY {sid}: {open_positions} open position(s) would be orphaned "
                    "(the magic number or the symbols change); close them or stop the strategy "
                    "first"
                )
        async with self.pipeline.acts.turn:  # no bar of the old rules in flight meanwhile
            self._detach(hosted)
            await asyncio.to_thread(self._finish_runs, hosted)
            try:
                slots = await asyncio.to_thread(self._build, loaded, hosted.source)
            except BaseException:
                # The old rules come back rather than leaving the strategy stopped.
                self._attach(hosted)
                raise
            updated = Hosted(sid, loaded, slots, state=hosted.state, source=hosted.source)
            self._attach(updated)
        if updated.state == "paused":
            self.pause(sid)
        log.warning("strategy %s updated in place", sid)
        return {"strategyId": sid, "state": updated.state, "symbols": [s.symbol for s in slots]}

    def _open_count(self, hosted: Hosted) -> int:
        adapter = self.session.adapter
        return sum(
            len(adapter.positions(symbol=s.symbol, magic=s.instance.plan.magic))
            for s in hosted.slots
        )
