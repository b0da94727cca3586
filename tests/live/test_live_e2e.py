"""``trademaestro live`` end to end against an emulator server whose market clock this test
process drives, on the real XAUUSD M15 bars.

Lock-step: the test plays a bar out and opens the next, then waits (on the executor's log line,
never a fixed sleep) until the executor has acted on the bar that closed. The executor polls the
terminal only — it never touches the clock — and yet trades exactly what the backtest traded on
the same bars (sides, times, prices and exit reasons; volumes differ because the live account
starts with its own balance at the warm-up point).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trademaestro.brokers.emulator.clock import drive_clock
from trademaestro.brokers.emulator.server import BarFeed, EmulatorServer, EmulatorSpec
from trademaestro.brokers.mt5.gateway_remote import RemoteTerminal
from trademaestro.persistence.store import Store
from trademaestro.report.build import build_report
from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.feeds import load_feeds, merge_timeline
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "examples" / "strategies" / "xauusd_m15_ema_cross.json"
BARS = 900
WARM = 400  # bars closed before the executor starts


@pytest.fixture(scope="module")
def bars_file(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first BARS real bars, as a temporary file (the server and the backtest load it)."""
    lines = (shared_data / "XAUUSD_M15.csv").read_text().splitlines()[: BARS + 1]
    path = tmp_path_factory.mktemp("live") / "xau.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


class _Lines:
    """The executor's stderr, line by line, from a reader thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stderr is not None
        stream = proc.stderr

        def read() -> None:
            for line in stream:
                self.queue.put(line)
            self.queue.put(None)

        threading.Thread(target=read, daemon=True).start()

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        while True:
            line = self.queue.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"executor exited before {text!r}:\n{''.join(self.seen)}")
            self.seen.append(line)
            if text in line:
                return line


@pytest.fixture
def server(bars_file: Path, tmp_path: Path) -> Iterator[EmulatorServer]:
    srv = EmulatorServer(
        EmulatorSpec(bars=(BarFeed("XAUUSD", str(bars_file)),)),
        str(tmp_path / "terminal.sock"),
        b"live-test-key",
    )
    srv.start()
    yield srv
    srv.stop()


Trade = tuple[str, str, float, str, float, str]


def _trades(db: Path) -> list[Trade]:
    with Store(db) as store:
        report = build_report(store, store.latest_run_id() or 0)
    return [
        (t["side"], t["open_time"], t["open_price"], t["close_time"], t["close_price"],
         t["exit_reason"])
        for t in report["trades"]
    ]


def test_live_trades_what_the_backtest_trades(
    server: EmulatorServer, bars_file: Path, tmp_path: Path
) -> None:
    timeline = merge_timeline(load_feeds({"XAUUSD": str(bars_file)}, skip_bad_rows=False))
    times = timeline.times
    backtest_db = tmp_path / "backtest.db"
    run_backtest(RunSettings(strategy=str(STRATEGY), data=str(bars_file), db_path=backtest_db))
    expected_all = _trades(backtest_db)
    # Start where the backtest is flat, so that both start from the same position state.
    iso = [f"{datetime.fromtimestamp(t, UTC):%Y-%m-%dT%H:%M:%S}" for t in times]
    k = next(
        k for k in range(WARM, BARS - 200)
        if not any(o <= iso[k + 1] and c >= iso[k - 1] for _, o, _, c, _, _ in expected_all)
    )
    terminal = RemoteTerminal(server.address, server.authkey)
    drive_clock(terminal.replay, timeline, bar_seconds=0, start=0, stop_after=k)
    terminal.replay.open_bar("XAUUSD", k)  # bars 0..k-1 closed, bar k forming

    live_db = tmp_path / "live.db"
    env = dict(os.environ, TRADEMAESTRO_EMULATOR_KEY="live-test-key", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trademaestro.cli.main", "live", str(STRATEGY),
         "--terminal-address", str(server.address), "--db", str(live_db),
         "--warmup-bars", str(k), "--poll-seconds", "0.01", "-v"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )
    lines = _Lines(proc)
    try:
        lines.wait_for(f"warmed up with {k} XAUUSD bars")
        last = BARS - 2
        for j in range(k, last):
            terminal.replay.run_bar("XAUUSD", j)
            terminal.replay.open_bar("XAUUSD", j + 1)
            lines.wait_for(f"bar {times[j]} (")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = "".join(lines.seen)
    assert "caught up" not in log  # lock-step: every bar acted on, none skipped
    # Every bar acted on exactly once, in order.
    acted = [int(line.split(" bar ")[1].split()[0]) for line in lines.seen
             if "closed and acted on" in line]
    assert acted == times[k:last]
    live = _trades(live_db)
    expected = [t for t in expected_all if t[1] > iso[k] and t[3] < iso[last]]
    assert len(expected) >= 5
    assert [t for t in live if t[3] is not None and t[3] < iso[last]] == expected
    terminal.close()


def test_live_keeps_up_with_a_free_running_clock_process(
    server: EmulatorServer, bars_file: Path, tmp_path: Path
) -> None:
    """The clock runs in its own process (``trademaestro emulator-clock``) faster than the
    executor polls: bars that closed between two polls are caught up (appended, not traded);
    every closed bar is accounted for exactly once; no order is sent twice."""
    terminal = RemoteTerminal(server.address, server.authkey)
    timeline = merge_timeline(load_feeds({"XAUUSD": str(bars_file)}, skip_bad_rows=False))
    drive_clock(terminal.replay, timeline, bar_seconds=0, start=0, stop_after=WARM)
    terminal.replay.open_bar("XAUUSD", WARM)
    env = dict(os.environ, TRADEMAESTRO_EMULATOR_KEY="live-test-key", PYTHONUNBUFFERED="1")
    live_db = tmp_path / "live.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trademaestro.cli.main", "live", str(STRATEGY),
         "--terminal-address", str(server.address), "--db", str(live_db),
         "--warmup-bars", "300", "--poll-seconds", "0.05", "-v"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )
    lines = _Lines(proc)
    try:
        lines.wait_for("warmed up with 300 XAUUSD bars")
        groups = 300
        clock = subprocess.run(
            [sys.executable, "-m", "trademaestro.cli.main", "emulator-clock",
             "--data", f"XAUUSD={bars_file}", "--address", str(server.address),
             "--bar-seconds", "0.02", "--bars", str(groups)],
            check=False, env=env, capture_output=True, text=True, timeout=120,
        )
        assert clock.returncode == 0, clock.stderr
        assert f"{groups} bar group(s)" in clock.stdout
        last_closed = timeline.times[WARM + groups - 1]
        lines.wait_for(f"bar {last_closed} (")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    acted = [int(line.split(" bar ")[1].split()[0]) for line in lines.seen
             if "closed and acted on" in line]
    caught = sum(int(m.group(1)) for line in lines.seen
                 if (m := re.search(r"(\d+) closed bar\(s\) caught up", line)))
    assert acted == sorted(set(acted))  # in order, none twice
    assert acted[0] > timeline.times[WARM - 1] and acted[-1] == last_closed
    assert caught > 0  # the clock outran the polls at least once
    assert len(acted) + caught == groups  # bars WARM .. WARM+groups-1: each accounted once
    with sqlite3.connect(live_db) as db:
        ids = [row[0] for row in db.execute("SELECT client_id FROM order_journal")]
    assert len(ids) == len(set(ids))  # no intent journalled twice
    terminal.close()
