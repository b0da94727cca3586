"""Backtest speed: µs per bar through the whole engine (adapter + emulator for every order).

Prints, on ../shared/data/XAUUSD_M15.csv (47,165 bars; TRADEMAESTRO_DATA_DIR overrides):
* the EMA-cross example strategy;
* the managed-exits example: trailing stop, break-even, partial take-profits, risk sizing, session
  and spread filters (issue 3; target under 10 µs per bar);
* an SMA(10)/SMA(20) crossover, and — when the `backtesting` package is installed (bench extra) —
  backtesting.py's SmaCross on the same bars in the same run, and the ratio.

Figures are the best of ``--repeat`` runs (default 3) of the bar loop including order handling and
the end-of-run accounting; loading the CSV and opening the session are reported separately.
Target (issue 2): under 5 µs per bar.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from trademaestro.runtime.backtest import backtest_session
from trademaestro.runtime.session import open_session
from trademaestro.runtime.settings import RunSettings
from trademaestro.settings import data_dir

ROOT = Path(__file__).resolve().parent.parent


def bench_ours(strategy: Path, data: Path, repeat: int) -> tuple[float, float, int, int]:
    """(best loop seconds, session-open seconds, bars, orders) for one strategy."""
    settings = RunSettings(strategy=str(strategy), data=str(data), record=False)
    best, opening, bars, orders = float("inf"), 0.0, 0, 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        session = open_session(settings, "backtest")
        t1 = time.perf_counter()
        result = backtest_session(session)
        t2 = time.perf_counter()
        if t2 - t1 < best:
            best, opening, bars, orders = t2 - t1, t1 - t0, result.bars, result.orders_sent
    return best, opening, bars, orders


def bench_backtesting_py(data: Path, repeat: int) -> tuple[float, int] | None:
    """Best seconds of backtesting.py's SmaCross on the same bars, or None if not installed."""
    try:
        import pandas as pd
        from backtesting import Backtest, Strategy
        from backtesting.lib import crossover
        from backtesting.test import SMA
    except ImportError:
        return None

    frame = pd.read_csv(data)
    frame.index = pd.to_datetime(frame["DateTime"], format="%Y.%m.%d %H:%M:%S")
    frame = frame.rename(columns={"TickVolume": "Volume"})
    frame = frame[["Open", "High", "Low", "Close", "Volume"]]

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.ma1 = self.I(SMA, self.data.Close, 10)
            self.ma2 = self.I(SMA, self.data.Close, 20)

        def next(self) -> None:
            if crossover(self.ma1, self.ma2):
                self.position.close()
                self.buy()
            elif crossover(self.ma2, self.ma1):
                self.position.close()
                self.sell()

    best, trades = float("inf"), 0
    for _ in range(repeat):
        bt = Backtest(frame, SmaCross, cash=1_000_000, commission=0.0, finalize_trades=True)
        t0 = time.perf_counter()
        stats = bt.run()
        best = min(best, time.perf_counter() - t0)
        trades = int(stats["# Trades"])
    return best, trades


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = data_dir() / "XAUUSD_M15.csv"
    if not data.is_file():
        raise SystemExit(f"market data not found: {data} (set TRADEMAESTRO_DATA_DIR)")

    print(f"data: {data}")
    cases = {
        "EMA cross example (ATR stop, R:R target, risk sizing)": ROOT
        / "examples/strategies/xauusd_m15_ema_cross.json",
        "SMA(10)/SMA(20) crossover": ROOT / "benchmarks/sma_cross_10_20.json",
        "managed exits example (partials, break-even, trailing, risk sizing, session+spread"
        " filters; issue-3 target < 10 µs/bar)": ROOT
        / "examples/strategies/xauusd_m15_managed_exits.json",
    }
    sma_us = None
    for name, path in cases.items():
        loop, opening, bars, orders = bench_ours(path, data, args.repeat)
        us = loop / bars * 1e6
        print(
            f"{name}: {us:.2f} µs/bar ({bars} bars, {orders} orders, loop {loop * 1e3:.0f} ms, "
            f"load+open {opening * 1e3:.0f} ms)"
        )
        if "SMA" in name:
            sma_us = us
    theirs = bench_backtesting_py(data, args.repeat)
    if theirs is None:
        print("backtesting.py: not installed (pip install -e '.[bench]') - no ratio")
        return
    seconds, trades = theirs
    bars = 47_165
    their_us = seconds / bars * 1e6
    print(f"backtesting.py SmaCross: {their_us:.2f} µs/bar ({trades} trades)")
    if sma_us is not None:
        print(f"ratio backtesting.py / TradeMaestro (SMA 10/20): {their_us / sma_us:.2f}x")
    print("targets: under 5 µs/bar (EMA cross), under 10 µs/bar (managed exits)")


if __name__ == "__main__":
    main()
