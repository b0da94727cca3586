"""The run report: one dict of a fixed shape, and its atomic JSON file.

Shape (times are broker server time as ``YYYY-MM-DDTHH:MM:SS``; money in account currency)::

    {
      "strategy": {"strategyId": str, "symbol": str, "timeframe": str},
      "data": {"path": str, "bars": int, "from": str, "to": str},
      "initial_balance": float,
      "final_balance": float,
      "final_equity": float,
      "stats": {"trades", "win_rate", "profit_factor", "net_profit", "max_drawdown",
                "max_drawdown_pct", "sharpe"},      # see trademaestro.report.stats
      "trades": [ ... ]                              # see trademaestro.report.trades
    }

``final_balance`` / ``final_equity`` are the run's recorded end values; for a run that never
finished (still ``running``, e.g. after a crash) they are the last equity sample's, or the
initial balance when there is none.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from trademaestro.persistence.store import Store
from trademaestro.report.stats import compute_stats
from trademaestro.report.timefmt import server_iso
from trademaestro.report.trades import build_trades


def build_report(store: Store, run_id: int) -> dict[str, Any]:
    """The report of run ``run_id`` in ``store`` (shape in the module docstring).

    Raises:
        StoreError: the run does not exist.
        ReportError: the recorded deals or equity samples cannot be used.
    """
    run = store.load_run(run_id)
    orders, positions = store.load_orders(run_id), store.load_positions(run_id)
    if run["mode"] != "backtest":
        # A paper/live run resumed after a restart holds deals of positions opened by earlier
        # runs of the same strategy and symbol: their order records (exit reasons, SL/TP) are
        # there. This run's own records come last, so they win.
        earlier = [
            rid
            for rid in store.run_ids()
            if rid < run_id
            and (other := store.load_run(rid))["strategy_id"] == run["strategy_id"]
            and other["symbol"] == run["symbol"]
            and other["mode"] == run["mode"]
        ]
        orders = [o for rid in earlier for o in store.load_orders(rid)] + orders
        positions = [p for rid in earlier for p in store.load_positions(rid)] + positions
        # Orders whose own record was lost in a crash are in the exactly-once journal (written
        # before sending): the lowest precedence.
        journal_orders, journal_positions = store.journal_records(run["strategy_id"], run["symbol"])
        orders = journal_orders + orders
        positions = journal_positions + positions
    trades = build_trades(store.load_deals(run_id), orders, positions)
    curve = store.load_equity(run_id)
    initial = float(run["initial_balance"])
    final_balance, final_equity = run["final_balance"], run["final_equity"]
    if final_balance is None or final_equity is None:
        if curve.time.size:
            final_balance, final_equity = float(curve.balance[-1]), float(curve.equity[-1])
        else:
            final_balance, final_equity = initial, initial
    return {
        "strategy": {
            "strategyId": run["strategy_id"],
            "symbol": run["symbol"],
            "timeframe": run["timeframe"],
        },
        "data": {
            "path": run["data_path"],
            "bars": run["bars"],
            "from": server_iso(run["data_from"]),
            "to": server_iso(run["data_to"]),
        },
        "initial_balance": initial,
        "final_balance": float(final_balance),
        "final_equity": float(final_equity),
        "stats": compute_stats(trades, curve.time, curve.equity, initial),
        "trades": trades,
    }


def write_report_json(report: dict[str, Any], path: str | Path) -> None:
    """Write ``report`` as indented JSON to ``path``, atomically.

    The text goes to a temporary file in the same directory, is flushed and fsynced, then
    ``os.replace``-d over ``path`` (and the directory is fsynced where the OS allows): a reader
    sees the old file or the new one, never a part. Parent directories are created.

    Raises:
        ValueError: the report holds NaN or infinity (not valid JSON).
        TypeError: the report holds a value JSON cannot represent.
        OSError: the file cannot be written; the temporary file is removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); silently skipped where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
