"""Soak: real ticks through the tick pipeline (emulator in a gateway child process) at a given
rate for a given time, looping the tick files when they run out (shifted by whole weeks).

Prints every ``--every`` seconds (default 60): RSS of this process + the gateway child, tick and
intent queue depths (now / max so far), tick-to-decision latency p50/p99/max over the interval,
ticks fed and coalesced in the interval; then a final summary (every counter of
``TickPipeline.stats``). Default: 1,000 ticks/s for 30 minutes on GBPUSD + EURUSD of
2010-01-01 with periodic orders (every 30 s of tick time per symbol: open 0.01 lot, then
flatten). TRADEMAESTRO_DATA_DIR overrides the data folder.

    python benchmarks/soak.py --rate 1000 --minutes 30 [--batch] [--period 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from trademaestro.brokers.emulator.server import EmulatorSpec, TickFeed
from trademaestro.brokers.mt5.gateway import Gateway, TerminalFactory
from trademaestro.data import load_ticks
from trademaestro.runtime.tickorders import PeriodicOrders, process_rss
from trademaestro.runtime.tickpipe import TickPipeline
from trademaestro.settings import data_dir


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="ticks per second (0: max)")
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock minutes")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between lines")
    parser.add_argument("--symbols", default="GBPUSD,EURUSD", help="comma-separated")
    parser.add_argument(
        "--period",
        type=float,
        default=30.0,
        help="seconds of tick time between orders per symbol (0: no orders)",
    )
    parser.add_argument(
        "--batch", action="store_true", help="one gateway call per wake-up (replay.tick_batch)"
    )
    args = parser.parse_args()
    if args.rate < 0 or args.minutes <= 0 or args.every <= 0 or args.period < 0:
        parser.error("--rate >= 0, --minutes > 0, --every > 0, --period >= 0")
    return args


async def _report(pipe: TickPipeline, pid_of: Any, every: float) -> None:
    start = time.monotonic()
    fed = coalesced = 0
    while True:
        await asyncio.sleep(every)
        stats = pipe.stats()
        lat = pipe.latency_window.snapshot()
        tq, iq = stats["tick_queue"], stats["intent_queue"]
        print(
            f"{time.monotonic() - start:7.0f} s  RSS {process_rss(pid_of()) / 2**20:7.1f} MiB  "
            f"ticks +{stats['ticks_fed'] - fed:7d} (coalesced +"
            f"{stats['ticks_coalesced'] - coalesced:6d})  queues tick {tq['depth']}/"
            f"{tq['max_depth']} intent {iq['depth']}/{iq['max_depth']}  latency ms p50 "
            f"{lat['p50_ms']} p99 {lat['p99_ms']} max {lat['max_ms']}  intents "
            f"{stats['intents_sent']}  back-pressure {stats['backpressure_events']}",
            flush=True,
        )
        fed, coalesced = stats["ticks_fed"], stats["ticks_coalesced"]


async def _main(args: argparse.Namespace) -> None:
    folder = data_dir()
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    paths = {s: folder / f"{s}_ticks_2010-01-01.csv" for s in symbols}
    ticks = {s: load_ticks(p).ticks for s, p in paths.items()}
    spec = EmulatorSpec(ticks=tuple(TickFeed(s, str(p)) for s, p in paths.items()))
    factory = TerminalFactory(kind="emulator", emulator=spec)
    gateway = Gateway(factory)
    try:
        if not gateway.initialize():
            raise SystemExit(f"initialize failed: {gateway.last_error()}")
        decide = None
        if args.period > 0:
            decide = PeriodicOrders(
                {s: int(t["time_msc"][0]) for s, t in ticks.items()},
                period=args.period,
                max_catch_up=2,
            )
        pipe = TickPipeline(
            gateway,
            ticks,
            rate=args.rate,
            decide=decide,
            loop=True,
            batch_method="tick_batch" if args.batch else None,
        )
        print(
            f"soak: {args.rate:g} ticks/s for {args.minutes:g} min, symbols {symbols}, "
            f"orders every {args.period:g} s of tick time, "
            f"{'batched' if args.batch else 'one gateway call per tick'}; "
            f"RSS at start {process_rss(gateway.pid) / 2**20:.1f} MiB",
            flush=True,
        )
        reporter = asyncio.ensure_future(_report(pipe, lambda: gateway.pid, args.every))
        try:
            stats = await pipe.run(duration=args.minutes * 60.0)
        finally:
            reporter.cancel()
        stats["rss_mib_end"] = round(process_rss(gateway.pid) / 2**20, 1)
        stats["rate_achieved"] = round(stats["ticks_fed"] / max(stats["elapsed_s"], 1e-9), 1)
        stats["gateway"] = {k: v for k, v in gateway.health().items() if k != "latency"}
        print("summary:", json.dumps(stats, indent=1, default=str))
    finally:
        gateway.close()


if __name__ == "__main__":
    asyncio.run(_main(_args()))
