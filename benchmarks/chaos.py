"""Chaos drill: N SIGKILLs of the paper executor at seeded random points (default 200), each
followed by a restart in recovery mode against the same emulator server. Prints crashes
survived, duplicates, lost positions, orphan orders and recovery time p50/p99.

Usage: python benchmarks/chaos.py [--kills 200] [--seed 1] [--data FILE] [--strategy FILE]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.drill import run_drill
from trademaestro.runtime.settings import RunSettings
from trademaestro.settings import data_dir

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=data_dir() / "XAUUSD_M15_2024Q1.csv")
    parser.add_argument(
        "--strategy", type=Path, default=ROOT / "examples/strategies/xauusd_m15_ema_cross.json"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = run_drill(args.strategy, args.data, work, kills=args.kills, seed=args.seed)
        calm = run_backtest(
            RunSettings(strategy=str(args.strategy), data=str(args.data), db_path=work / "c.db")
        )
    expected = calm.report["trades"] if calm.report else []
    got = {(t["ticket"], t["volume"], t["close_time"]) for t in result.trades}
    want = {(t["ticket"], t["volume"], t["close_time"]) for t in expected}
    times = sorted(result.recovery_seconds)
    print(f"crashes survived: {sum(result.kills.values())} {dict(result.kills)}")
    print(f"duplicate entry deals: {result.duplicate_entries}")
    print(f"lost positions (trades of the calm run missing): {len(want - got)}")
    same = result.trades == expected
    print(f"unexpected trades: {len(got - want)}; identical trade lists: {same}")
    print(f"orphan orders at the broker: {result.orders_left}")
    print(f"positions left at the broker: {result.positions_left}")
    if times:
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        p50 = statistics.median(times)
        print(f"recovery time (spawn -> resuming): p50 {p50:.2f} s, p99 {p99:.2f} s")


if __name__ == "__main__":
    main()
