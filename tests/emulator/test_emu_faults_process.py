"""Process-level faults on real XAUUSD M15 bars: Crash (exit code 70 of the hosting process, run
in a subprocess), Hang (blocks the calling thread until released) and Latency (delays the call
by at least its seconds)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from trademaestro.brokers.emulator import (
    CRASH_EXIT_CODE,
    EmulatorConfig,
    FaultPlan,
    Hang,
    IpcTimeout,
    Latency,
    MT5Emulator,
)
from trademaestro.core.timeframes import Timeframe

N = 1000  # 2024-04-05 04:30 server time: open 2270.69, spread 5 points -> ask 2270.74
BUY = {"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0, "comment": "tm hang"}

CHILD = """
import sys
from trademaestro.brokers.emulator import EmulatorConfig, FaultPlan, MT5Emulator
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import load_bars

rates = load_bars(sys.argv[1]).rates
plan = FaultPlan.from_spec([{"function": "order_send", "fault": "crash", "skip": 1}])
emu = MT5Emulator(EmulatorConfig(), faults=plan)
emu.replay.load_rates("XAUUSD", Timeframe.M15, rates)
emu.initialize()
emu.replay.open_bar("XAUUSD", 1000)
request = {"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0}
print("first", emu.order_send(request).retcode, flush=True)
emu.order_send(request)
print("after the crash", flush=True)
"""


def _emu(bars: np.ndarray, plan: FaultPlan) -> MT5Emulator:
    emu = MT5Emulator(EmulatorConfig(), faults=plan)
    emu.replay.load_rates("XAUUSD", Timeframe.M15, bars)
    assert emu.initialize() is True
    emu.replay.open_bar("XAUUSD", N)
    return emu


def test_crash_kills_the_hosting_process_with_exit_code_70(shared_data: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CHILD, str(shared_data / "XAUUSD_M15.csv")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == CRASH_EXIT_CODE == 70
    assert done.stdout == "first 10009\n"
    assert done.stderr == ""


def test_hang_blocks_until_released(xau_bars: np.ndarray) -> None:
    release = threading.Event()
    plan = FaultPlan().add("order_send", Hang(release=release))
    emu = _emu(xau_bars, plan)
    out: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: out.setdefault("res", emu.order_send(BUY)),
                              daemon=True)
    worker.start()
    worker.join(timeout=0.2)
    try:
        assert worker.is_alive()  # still blocked in order_send
        assert "res" not in out
        assert plan.fired == [("order_send", "hang")]
        assert emu.positions_total() == 0  # other threads keep using the emulator meanwhile
    finally:
        release.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert (out["res"].retcode, out["res"].price) == (10009, 2270.74)  # then it ran normally
    assert emu.positions_total() == 1


def test_hang_with_seconds_ends_by_itself(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("account_info", Hang(seconds=0.05))
    emu = _emu(xau_bars, plan)
    start = time.perf_counter()
    info = emu.account_info()
    assert time.perf_counter() - start >= 0.05
    assert info.balance == 10000.0


def test_latency_delays_the_call(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Latency(0.05))
    emu = _emu(xau_bars, plan)
    start = time.perf_counter()
    res = emu.order_send(BUY)
    elapsed = time.perf_counter() - start
    assert elapsed >= 0.05
    assert (res.retcode, res.price, res.volume) == (10009, 2270.74, 0.1)
    assert emu.order_send(BUY).retcode == 10009  # times=1: the next call runs undelayed
    assert emu.positions_total() == 2
    assert plan.fired == [("order_send", "latency")]


def test_latency_then_timeout_on_one_call(xau_bars: np.ndarray) -> None:
    plan = FaultPlan().add("order_send", Latency(0.03)).add("order_send", IpcTimeout())
    emu = _emu(xau_bars, plan)
    start = time.perf_counter()
    assert emu.order_send(BUY) is None
    assert time.perf_counter() - start >= 0.03
    assert emu.last_error() == (-10005, "IPC timeout")
    assert emu.positions_total() == 0
    assert plan.fired == [("order_send", "latency"), ("order_send", "ipc_timeout")]
