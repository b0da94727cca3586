"""The executor under remote control of the web platform (``trademaestro run --platform URL``).

Start-up: the API key and secret come from the keyring or the environment
(:func:`~trademaestro.platform.credentials.load_credentials`); ``GET /api/executor/config`` gives
the executor id, the Pusher settings, the heartbeat interval and the supervisor settings. The
market is either replayed data in the MT5 emulator (paper mode: the emulator runs in a gateway
process and a clock task moves its market on at ``speed`` × real time) or a live terminal. No
strategy runs until a command starts it — or, when the platform's config says
``autoRestartStrategies``, those of its active strategies marked ``shouldAutoRestart``.

Then, beside the live pipeline: the command bus (one queue, every command id executed at most
once across Pusher, heartbeat, the command line (``trademaestro command``, through a spool
directory beside the database) and restarts, lifecycle reported through an ordered outbox), the
Pusher client (``command-received`` on ``private-executor-{id}``), and the heartbeat (status,
account, active strategies, health → ``pendingCommands``, the fallback delivery path).

Wrong credentials (401/403) stop the executor at once with the reason (exit code 2): retrying
cannot fix them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from trademaestro.brokers.emulator import EmulatorConfig
from trademaestro.core.errors import ConfigError
from trademaestro.persistence.platform_store import PlatformStore
from trademaestro.persistence.store import Store
from trademaestro.platform.bus import CommandBus
from trademaestro.platform.client import PlatformClient
from trademaestro.platform.credentials import Credentials, load_credentials
from trademaestro.platform.errors import PlatformAuthError, PlatformRejected
from trademaestro.platform.handler import ExecutorHandler
from trademaestro.platform.heartbeat import HeartbeatLoop
from trademaestro.platform.outbox import Outbox
from trademaestro.platform.pretrade import SupervisorGate
from trademaestro.platform.realtime import PusherClient
from trademaestro.platform.spool import FINAL, CommandSpool, spool_dir
from trademaestro.platform.supervisor import Supervisor, SupervisorSettings
from trademaestro.runtime.backtest import RunResult
from trademaestro.runtime.brokerlink import emulator_gateway
from trademaestro.runtime.feeds import load_feeds, merge_timeline, parse_data_specs
from trademaestro.runtime.host import StrategyHost
from trademaestro.runtime.live import LivePipeline, live_session
from trademaestro.runtime.live_session import LiveSettings, open_live_session
from trademaestro.runtime.settings import RunSettings
from trademaestro.strategy.loader import load_strategy

log = logging.getLogger("trademaestro.remote")


@dataclass(frozen=True, slots=True)
class PaperMarket:
    """Replayed data as the market of a remote-controlled paper executor.

    Attributes:
        data: ``SYMBOL=FILE`` specs (one per symbol the platform may trade).
        speed: replay speed × real time (> 0: the platform's commands arrive in real time).
        start_bar: the clock starts at this bar of the data: the bars before it are the history
            strategies warm up on.
    """

    data: tuple[str, ...]
    speed: float
    start_bar: int = 1000


class RemoteRefused(ConfigError):
    """The platform refused the executor's credentials (401/403): stop, do not retry."""


async def run_remote(
    url: str,
    settings: RunSettings,
    live: LiveSettings,
    *,
    paper: PaperMarket | None = None,
    credentials: Credentials | None = None,
    stop: asyncio.Event | None = None,
) -> RunResult:
    """Run the executor under remote control until SIGINT/SIGTERM (or ``stop``).

    Raises:
        RemoteRefused: the platform refused the credentials (at start or later).
        ConfigError: no credentials, bad options or data.
    """
    creds = credentials if credentials is not None else load_credentials()
    stop = stop or asyncio.Event()
    async with PlatformClient(url, creds) as client:
        try:
            config = await client.get_config()
        except PlatformAuthError as exc:
            raise RemoteRefused(f"the platform at {url} refused the credentials: {exc}") from None
        log.warning(
            "executor %s bootstrapped from %s (heartbeat every %s s, supervisor %s)",
            config.executor_id,
            url,
            config.heartbeat_interval_s,
            config.supervisor.mode,
        )
        session, clock, poll_seconds = await asyncio.to_thread(_open, settings, live, paper)
        assert session.factory is not None and session.store is not None
        store_path = session.store.path
        refused: list[BaseException] = []

        def services(pipeline: LivePipeline, stop: asyncio.Event) -> list[Any]:
            assert session.factory is not None
            host = StrategyHost(session, pipeline, session.factory, warmup_bars=live.warmup_bars)
            pstore = PlatformStore(store_path)
            outbox = Outbox(
                pstore,
                client.report_command,
                is_fatal=lambda e: isinstance(e, PlatformAuthError),
                is_permanent=lambda e: isinstance(e, PlatformRejected),
            )
            bus = CommandBus(pstore, ExecutorHandler(host), outbox)
            supervision = SupervisorSettings.from_wire(config.supervisor.model_dump(by_alias=True))
            if supervision.mode.value != "off":
                supervisor = Supervisor(client.supervisor_evaluate, pstore, supervision)
                host.set_entry_review(SupervisorGate(supervisor, asyncio.get_running_loop()))

            async def on_event(_name: str, data: dict[str, Any] | str) -> None:
                await bus.submit(data, "pusher")

            async def on_commands(commands: list[dict[str, Any]]) -> None:
                for command in commands:
                    await bus.submit(command, "heartbeat")

            def snapshot() -> dict[str, Any]:
                return {
                    "status": "online",
                    "account": dict(pipeline.account)
                    or {"balance": 0.0, "equity": 0.0, "margin": 0.0, "openPositions": 0},
                    "activeStrategies": host.active(),
                    "health": {**pipeline.policy.health.report(), **pipeline.feed.report()},
                }

            pusher = PusherClient(
                config.pusher.ws_url(), config.channel, client.pusher_auth, on_event
            )
            heartbeat = HeartbeatLoop(client, config.heartbeat_interval_s, snapshot, on_commands)

            async def guarded(name: str, coro: Any) -> None:
                try:
                    await coro
                except PlatformAuthError as exc:
                    log.critical(
                        "%s: the platform refused the credentials: %s; stopping", name, exc
                    )
                    refused.append(exc)
                    stop.set()

            async def auto_restart() -> None:
                if not config.auto_restart_strategies:
                    return
                for item in await client.active_strategies():
                    if item.get("shouldAutoRestart"):
                        try:
                            await host.start(load_strategy(item.get("parameters") or {}), "auto")
                        except Exception as exc:
                            log.error("auto-restart of %s refused: %s", item.get("strategyId"), exc)

            spool = CommandSpool(spool_dir(store_path))
            submitted: set[str] = set()

            async def spool_loop() -> None:
                """Commands from ``trademaestro command`` (source ``cli``), every half second."""
                while not stop.is_set():
                    for path, raw in await asyncio.to_thread(spool.pending):
                        cid = path.stem
                        record = (
                            pstore.get(str(raw.get("commandId", cid)))
                            if isinstance(raw, dict)
                            else None
                        )
                        if record is not None and record.status in FINAL:
                            await asyncio.to_thread(path.unlink, True)
                        elif cid not in submitted:
                            submitted.add(cid)
                            await bus.submit(raw, "cli")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.5)

            async def close_store() -> None:
                await stop.wait()
                pstore.close()

            return [
                guarded("commands", bus.run(stop)),
                guarded("reports", outbox.run(stop)),
                guarded("pusher", pusher.run(stop)),
                guarded("heartbeat", heartbeat.run(stop)),
                auto_restart(),
                spool_loop(),
                close_store(),
            ]

        clock_thread = None
        clock_stop = threading.Event()
        if clock is not None:
            clock_thread = threading.Thread(
                target=clock, args=(clock_stop,), name="market-clock", daemon=True
            )
            clock_thread.start()
        try:
            result = await live_session(session, poll_seconds, stop, services=services)
        finally:
            clock_stop.set()
            if clock_thread is not None:
                clock_thread.join(10)
        if refused:
            raise RemoteRefused(f"the platform refused the credentials: {refused[0]}")
        return result


def _open(
    settings: RunSettings, live: LiveSettings, paper: PaperMarket | None
) -> tuple[Any, Any, float]:
    """Open the live session (worker thread); for paper, the emulator gateway with the data,
    moved to ``start_bar``, and the clock function that moves it on. Returns (session, clock or
    None, poll seconds: at most a quarter of a replayed bar, so that no bar is missed)."""
    if settings.db_path is None and settings.record:
        settings = _with_db(settings)
    if paper is None:
        return open_live_session(settings, live), None, live.poll_seconds
    from trademaestro.brokers.emulator.clock import drive_clock

    if not paper.speed > 0:
        raise ConfigError(f"--speed: found {paper.speed}; allowed: > 0 under remote control")
    specs = parse_data_specs(paper.data, [s.split("=", 1)[0] for s in paper.data if "=" in s])
    feeds = load_feeds(specs, skip_bad_rows=settings.skip_bad_rows)
    timeline = merge_timeline(feeds)
    timeframes = {sym: int(f.bars.timeframe or 0) for sym, f in feeds.items()}
    missing = [sym for sym, tf in timeframes.items() if not tf]
    if missing:
        raise ConfigError(f"--data: the timeframe of {', '.join(missing)} cannot be inferred")
    config = EmulatorConfig(balance=settings.balance, spread_points=settings.spread_points)
    broker = emulator_gateway(config, feeds, timeframes, settings)
    try:
        start = max(2, min(paper.start_bar, len(timeline.times) - 2))
        drive_clock(broker.replay, timeline, bar_seconds=0, start=0, stop_after=start)
        for symbol, j in timeline.groups[start]:
            broker.replay.open_bar(symbol, j)
        session = open_live_session(settings, live, broker)
    except BaseException:
        broker.close()
        raise
    step = min(f.bars.timeframe.seconds for f in feeds.values() if f.bars.timeframe)

    def clock(halt: threading.Event) -> None:
        try:
            drive_clock(
                broker.replay, timeline, bar_seconds=step / paper.speed, start=None, stop=halt
            )
        except Exception as exc:  # the gateway closed at shutdown, or it died
            if not halt.is_set():
                log.error("market clock stopped: %s", exc)

    return session, clock, min(live.poll_seconds, step / paper.speed / 4)


def _with_db(settings: RunSettings) -> RunSettings:
    from dataclasses import replace

    return replace(settings, db_path=Store.default_path())
