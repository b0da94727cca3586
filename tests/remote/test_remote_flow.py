"""The executor under remote control of the platform simulator, over real sockets on loopback,
trading replayed real XAUUSD M15 bars in the emulator.

A ``START_STRATEGY`` triggered through the official ``pusher`` library arrives over the
WebSocket; the strategy trades; manual orders come back with their tickets; a command delivered
by both paths (Pusher and heartbeat) runs once; a command whose Pusher message is dropped arrives
by heartbeat; a wrong secret stops the executor at once with the reason. Waits are on the
simulator's recorded state (condition variables), never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pusher
import pytest

from trademaestro.platform.handler import manual_client_id
from trademaestro.platform.sim.config import ExecutorCredentials, SimulatorConfig
from trademaestro.platform.sim.records import CommandRecord
from trademaestro.platform.sim.runner import RunningSimulator, run_simulator
from trademaestro.platform.spool import spool_dir

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "examples" / "strategies" / "xauusd_m15_ema_cross.json"
CHANNEL = "private-executor-exec-1"
KEY, SECRET = "tm-key-0001abcd", "tm-secret-do-not-leak-7f3a"


@pytest.fixture(scope="module")
def bars_file(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = (shared_data / "XAUUSD_M15.csv").read_text().splitlines()[:3001]
    path = tmp_path_factory.mktemp("remote") / "xau.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(
        executors=(ExecutorCredentials("exec-1", KEY, SECRET),),
        heartbeat_interval_seconds=0.5,
    )
    with run_simulator(config) as running:
        yield running


def _executor(sim: RunningSimulator, bars: Path, db: Path, secret: str) -> subprocess.Popen[str]:
    """The executor, its output into ``<db>.log`` (a file, not a pipe: a pipe nobody reads
    fills up and blocks the executor's logging)."""
    env = dict(
        os.environ,
        TRADEMAESTRO_API_KEY=KEY,
        TRADEMAESTRO_API_SECRET=secret,
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        PYTHONUNBUFFERED="1",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "trademaestro.cli.main", "run", "--platform",
         f"http://127.0.0.1:{sim.port}", "--data", f"XAUUSD={bars}", "--speed", "9000",
         "--start-bar", "400", "--db", str(db), "-v"],
        stdout=open(_log(db), "w"), stderr=subprocess.STDOUT, text=True, env=env,
    )


def _log(db: Path) -> Path:
    return db.with_name(db.name + ".log")


def _push(sim: RunningSimulator, command: str, parameters: dict[str, object], command_id: str,
          deliver: str = "both") -> None:
    reply = httpx.post(
        f"http://127.0.0.1:{sim.port}/sim/commands",
        json={"command": command, "parameters": parameters, "commandId": command_id,
              "deliver": deliver},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text


def _result(record: CommandRecord) -> dict[str, Any]:
    """The result of the command's last reported status."""
    result = record.history[-1].result
    assert result is not None, record.statuses
    return result


def _orders(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])


def test_remote_control_end_to_end(sim: RunningSimulator, bars_file: Path, tmp_path: Path) -> None:
    state = sim.simulator.state
    db = tmp_path / "remote.db"
    proc = _executor(sim, bars_file, db, SECRET)
    try:
        state.wait_for_subscription(CHANNEL, timeout=60)
        # START_STRATEGY through the official Pusher server library.
        app = sim.config.pusher
        client = pusher.Pusher(app_id=app.app_id, key=app.key, secret=app.secret,
                               host="127.0.0.1", port=sim.port, ssl=False)
        document = json.loads(STRATEGY.read_text())
        client.trigger(CHANNEL, "command-received",
                       {"commandId": "c-start", "command": "START_STRATEGY",
                        "parameters": document})
        started = state.wait_for_status("c-start", "executed", timeout=60)
        assert started.statuses == ["received", "executing", "executed"]
        assert _result(started)["symbols"] == ["XAUUSD"]
        # The strategy trades on the replayed bars.
        state.wait_until(lambda: _orders(db) >= 2 or None, 120, "strategy orders")
        # A manual order, delivered by both paths (the Pusher copy late, after the heartbeat's):
        # executed once, its ticket reported.
        httpx.post(f"http://127.0.0.1:{sim.port}/sim/ws/faults", json={"delaySeconds": 2.0},
                   timeout=10)
        _push(sim, "OPEN_POSITION", {"symbol": "XAUUSD", "side": "buy", "volume": 0.1},
              "c-open", deliver="both")
        opened = state.wait_for_status("c-open", "executed", timeout=60)
        state.wait_until(lambda: ((r := state.command("c-open")) and r.pusher_sends >= 1) or None,
                         30, "the late Pusher copy")
        httpx.post(f"http://127.0.0.1:{sim.port}/sim/ws/faults", json={"delaySeconds": 0.0},
                   timeout=10)
        ticket = _result(opened)["ticket"]
        assert isinstance(ticket, int) and ticket > 0
        assert _result(opened)["volume"] == pytest.approx(0.1)
        _push(sim, "close_position", {"ticket": ticket}, "c-close", deliver="pusher")
        closed = state.wait_for_status("c-close", "executed", timeout=60)
        assert closed.statuses == ["received", "executing", "executed"]
        assert _result(closed)["ticket"] == ticket
        _push(sim, "PAUSE_STRATEGY", {"strategyId": document["strategyId"]}, "c-pause")
        state.wait_for_status("c-pause", "executed", timeout=60)
        # The Pusher message is lost: the heartbeat delivers it.
        httpx.post(f"http://127.0.0.1:{sim.port}/sim/ws/faults", json={"dropNext": 1}, timeout=10)
        _push(sim, "RESUME_STRATEGY", {"strategyId": document["strategyId"]}, "c-resume")
        resumed = state.wait_for_status("c-resume", "executed", timeout=60)
        # New rules in place (same magic number and symbol: its positions keep their owner).
        updated_doc = json.loads(json.dumps(document))
        updated_doc["strategyName"] = "updated in place"
        _push(sim, "update-strategy", updated_doc, "c-update", deliver="pusher")
        updated = state.wait_for_status("c-update", "executed", timeout=60)
        assert _result(updated)["state"] == "running"
        stranger = dict(updated_doc, strategyId="not-running-here")
        _push(sim, "UPDATE_STRATEGY", stranger, "c-update-2", deliver="pusher")
        refused = state.wait_for_status("c-update-2", "failed", timeout=60)
        assert "not running here" in _result(refused)["error"]
        # An invalid command fails with the JSON path; nothing is sent.
        _push(sim, "OPEN_POSITION", {"symbol": "XAUUSD", "side": "buy", "volume": -1},
              "c-bad", deliver="pusher")
        bad = state.wait_for_status("c-bad", "failed", timeout=60)
        # From the command line, through the spool, into the same bus.
        cli = subprocess.run(
            [sys.executable, "-m", "trademaestro.cli.main", "command", "close_all",
             "--param", "symbol=XAUUSD", "--db", str(db), "--command-id", "cli-1", "--wait", "60"],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert json.loads(cli.stdout.splitlines()[-1])["status"] == "executed"
        _push(sim, "STOP_STRATEGY", {"strategyId": document["strategyId"],
                                     "closePositions": True}, "c-stop", deliver="pusher")
        stopped = state.wait_for_status("c-stop", "executed", timeout=60)
        # Wait until the duplicate deliveries have had their chance (another heartbeat).
        beats = len(state.heartbeats())
        state.wait_for_heartbeats(beats + 2, timeout=30)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        out = _log(db).read_text()
        assert proc.returncode == 0, out
    except TimeoutError as exc:
        proc.send_signal(signal.SIGUSR1)  # every thread's stack into the output
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        proc.kill()
        proc.wait()
        out = _log(db).read_text()
        lines = [ln for ln in out.splitlines() if "safety.calls" not in ln and "live: " not in ln]
        commands = {c.command_id: c.statuses for c in state.commands()}
        raise AssertionError(
            f"{exc}\ncommands: {commands}\nexecutor output:\n" + "\n".join(lines[-150:])
        ) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pause = state.command("c-pause")
    assert pause is not None and pause.statuses[:3] == ["received", "executing", "executed"]
    first = state.command("c-open")
    assert first is not None and first.heartbeat_sends >= 1 and first.pusher_sends >= 1
    assert first.statuses.count("executing") == 1  # both deliveries, one execution
    with sqlite3.connect(db) as conn:
        sent = conn.execute(
            "SELECT COUNT(*) FROM order_journal WHERE client_id = ?", (manual_client_id("c-open"),)
        ).fetchone()[0]
    assert sent == 1
    assert resumed.statuses == ["received", "executing", "executed"]
    assert bad.statuses == ["received", "failed"]
    assert "volume" in _result(bad)["error"]
    assert _result(stopped)["state"] == "stopped"
    # The credentials are in neither the log nor the database.
    assert SECRET not in out
    for path in tmp_path.rglob("*"):  # the database, its WAL, the risk state, the log, the spool
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert list(spool_dir(db).glob("*.json")) == []  # the CLI command was carried out


def test_a_wrong_secret_stops_the_executor_with_the_reason(
    sim: RunningSimulator, bars_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "db.sqlite"
    proc = _executor(sim, bars_file, db, "wrong-secret")
    proc.wait(timeout=120)
    out = _log(db).read_text()
    assert proc.returncode == 2, out
    assert "refused the credentials" in out
    assert "wrong-secret" not in out
    assert len(sim.simulator.state.auth_failures) == 1  # not retried
