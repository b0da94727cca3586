"""The chaos drill: kill the paper executor with SIGKILL at seeded random points, restart it
against the same emulator server, and count what went wrong.

Used by the CI chaos test (50 kills) and ``benchmarks/chaos.py`` (default 200). Kill points
(:mod:`trademaestro.core.chaos`): ``before_send`` (journalled, not sent), ``after_send`` (filled,
reply not recorded), ``bar`` (after a bar was acted on).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trademaestro.brokers.emulator import EmulatorConfig
from trademaestro.brokers.emulator.server import BarFeed, EmulatorServer, EmulatorSpec
from trademaestro.brokers.mt5.gateway_remote import RemoteTerminal
from trademaestro.runtime.settings import AUTHKEY_ENV

POINTS = ("before_send", "after_send", "bar")
_RESUME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*recovery: resuming", re.M)


@dataclass
class DrillResult:
    """What a drill found.

    Attributes:
        kills: SIGKILLs by kill point.
        trades: the final report's trade rows.
        positions_left, orders_left: positions and pending orders left at the broker.
        duplicate_entries: client ids with more than one entry deal.
        recovery_seconds: per restart, from spawn to the "resuming" log line (wall seconds).
    """

    kills: Counter[str] = field(default_factory=Counter)
    trades: list[dict[str, Any]] = field(default_factory=list)
    positions_left: int = -1
    orders_left: int = -1
    duplicate_entries: int = -1
    recovery_seconds: list[float] = field(default_factory=list)


def run_drill(
    strategy: Path, data: Path, workdir: Path, *, kills: int, seed: int, symbol: str = "XAUUSD"
) -> DrillResult:
    """Run the drill (see the module docstring); raises RuntimeError if the executor never
    completes or dies another way than SIGKILL."""
    key = os.urandom(16).hex()
    sock = str(workdir / "emu.sock")
    spec = EmulatorSpec(config=EmulatorConfig(), bars=(BarFeed(symbol, str(data)),))
    server = EmulatorServer(spec, sock, key.encode())
    server.start()
    result = DrillResult()
    try:
        db = workdir / "runs.sqlite"
        env = {**os.environ, AUTHKEY_ENV: key}
        command = [
            sys.executable,
            "-m",
            "trademaestro.cli.main",
            "run",
            str(strategy),
            "--data",
            str(data),
            "--speed",
            "0",
            "--db",
            str(db),
            "--broker-address",
            sock,
        ]
        rng = random.Random(seed)
        for attempt in range(kills * 2 + 40):
            chaos = ""
            if sum(result.kills.values()) < kills:
                point = rng.choice(POINTS)
                count = rng.randint(1, 120) if point == "bar" else rng.randint(1, 3)
                chaos = f"{point}:{count}"
            spawned = time.time()
            proc = subprocess.run(
                command,
                env={**env, "TRADEMAESTRO_CHAOS_KILL": chaos},
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if attempt:
                resumed = _RESUME.search(proc.stderr)
                if resumed:
                    at = datetime.strptime(resumed.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                    result.recovery_seconds.append(max(at - spawned, 0.0))
            if proc.returncode == 0:
                break
            if proc.returncode != -9:
                raise RuntimeError(f"executor exited {proc.returncode}: {proc.stderr[-2000:]}")
            result.kills[chaos.partition(":")[0]] += 1
        else:
            raise RuntimeError("the executor never completed the replay")
        out = workdir / "report.json"
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
        if done.returncode != 0:
            raise RuntimeError(f"report failed: {done.stderr[-2000:]}")
        result.trades = json.loads(out.read_text())["trades"]
        terminal = RemoteTerminal(sock, key.encode())
        try:
            terminal.initialize()
            result.positions_left = int(terminal.positions_total())
            result.orders_left = int(terminal.orders_total())
            deals = terminal.history_deals_get(0, 2**31 - 1)
        finally:
            terminal.close()
        entries = Counter(d.comment for d in deals if d.entry == 0 and d.comment.startswith("tm "))
        result.duplicate_entries = sum(1 for n in entries.values() if n > 1)
    finally:
        server.stop()
    return result
