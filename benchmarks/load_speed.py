"""Loading speed of the bar and tick loaders on the real files (prints seconds; target < 0.3 s
for XAUUSD_M15.csv, 47,165 rows) and of recording a 47,165-point equity curve in SQLite."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from trademaestro.data import load_bars, load_ticks
from trademaestro.persistence.store import Store
from trademaestro.settings import data_dir


def best_of(fn: object, repeat: int = 5) -> float:
    """Best wall time of ``repeat`` calls, seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    root = data_dir()
    for name in ("XAUUSD_M15.csv", "XAUUSD_H1.csv", "EURUSD_M15.csv"):
        path = root / name
        print(f"load_bars {name}: {best_of(lambda p=path: load_bars(p)):.3f} s")
    ticks = root / "GBPUSD_ticks_2010-01-01.csv"
    print(f"load_ticks {ticks.name}: {best_of(lambda: load_ticks(ticks)):.3f} s")
    rates = load_bars(root / "XAUUSD_M15.csv").rates
    pairs = zip(rates["time"], rates["close"], strict=True)
    points = [(int(t), 10_000.0, float(c)) for t, c in pairs]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "b.sqlite") as store:
        run = store.begin_run(
            mode="backtest",
            strategy_id="b",
            strategy_name="b",
            strategy_json="{}",
            symbol="XAUUSD",
            timeframe="M15",
            data_path="x",
            bars=len(rates),
            data_from=int(rates["time"][0]),
            data_to=int(rates["time"][-1]),
            initial_balance=10_000.0,
            currency="USD",
            options={},
        )
        t0 = time.perf_counter()
        store.record_equity(run, points)
        print(f"record_equity {len(points)} points: {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
