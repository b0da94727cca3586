"""Chaos: the paper executor is killed with SIGKILL at seeded random points, at least 50 times —
before an order is sent, between the fill and the executor's record of it, after a bar — and
restarted each time against the same emulator server (the broker outlives the executor, as a
real MT5 terminal and trade server do). Each restart resumes in recovery mode.

At the end: the trade list equals the uninterrupted backtest's exactly (no duplicate order, no
lost position, no missed exit), no position and no pending order is left at the broker, and no
client id ever produced two entry deals.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from trademaestro.brokers.emulator import EmulatorConfig
from trademaestro.brokers.emulator.server import BarFeed, EmulatorServer, EmulatorSpec
from trademaestro.brokers.mt5.gateway_remote import RemoteTerminal
from trademaestro.runtime.backtest import run_backtest
from trademaestro.runtime.settings import AUTHKEY_ENV, RunSettings

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "examples/strategies/xauusd_m15_ema_cross.json"
KILLS = 50
POINTS = ("before_send", "after_send", "bar")


@pytest.mark.slow
def test_fifty_sigkills_lose_and_duplicate_nothing(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "XAUUSD_M15_2024Q1.csv"
    key = os.urandom(16).hex()
    sock = str(tmp_path / "emu.sock")
    spec = EmulatorSpec(config=EmulatorConfig(), bars=(BarFeed("XAUUSD", str(data)),))
    server = EmulatorServer(spec, sock, key.encode())
    server.start()
    try:
        db = tmp_path / "runs.sqlite"
        env = {**os.environ, AUTHKEY_ENV: key}
        command = [
            sys.executable,
            "-m",
            "trademaestro.cli.main",
            "run",
            str(STRATEGY),
            "--data",
            str(data),
            "--speed",
            "0",
            "--db",
            str(db),
            "--broker-address",
            sock,
        ]
        rng = random.Random(20261121)
        kills: Counter[str] = Counter()
        for _ in range(KILLS + 40):
            chaos = ""
            if sum(kills.values()) < KILLS:
                point = rng.choice(POINTS)
                chaos = f"{point}:{rng.randint(1, 3) if point != 'bar' else rng.randint(1, 120)}"
            proc = subprocess.run(
                command,
                env={**env, "TRADEMAESTRO_CHAOS_KILL": chaos},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if proc.returncode == 0:
                break
            assert proc.returncode == -9, proc.stderr[-2000:]
            kills[chaos.partition(":")[0]] += 1
        else:
            pytest.fail("the executor never completed the replay")
        assert sum(kills.values()) >= KILLS
        assert set(kills) == set(POINTS), kills

        out = tmp_path / "report.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "trademaestro.cli.main",
                "report",
                "--db",
                str(db),
                "--report",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        chaotic = json.loads(out.read_text())["trades"]

        terminal = RemoteTerminal(sock, key.encode())
        try:
            assert terminal.initialize()
            assert terminal.positions_total() == 0  # nothing left open at the broker
            assert terminal.orders_total() == 0  # no orphan pending order
            deals = terminal.history_deals_get(0, 2**31 - 1)
        finally:
            terminal.close()
    finally:
        server.stop()

    entries = Counter(d.comment for d in deals if d.entry == 0 and d.comment.startswith("tm "))
    assert entries and max(entries.values()) == 1  # one entry deal per client id
    calm = run_backtest(
        RunSettings(strategy=str(STRATEGY), data=str(data), db_path=tmp_path / "calm.sqlite")
    )
    assert calm.report is not None
    assert chaotic == calm.report["trades"]
