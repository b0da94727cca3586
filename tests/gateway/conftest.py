"""Fixtures of the gateway and emulator-server tests: the real XAUUSD M15 bars as an emulator
recipe, gateways and servers that are always stopped, and a guard that fails a test leaving a
child process behind (and kills it)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from trademaestro.brokers.emulator.server import BarFeed, EmulatorServer, EmulatorSpec
from trademaestro.brokers.mt5.gateway import Gateway
from trademaestro.brokers.mt5.gateway_child import TerminalFactory

# The first two bars of XAUUSD_M15.csv (server time; prices as in the file; spread in points):
# 2024.03.20 06:30:00,2158.99000,2159.15000,2158.60000,2158.60000,208,6
# 2024.03.20 06:45:00,2158.60000,2158.82000,2156.83000,2156.85000,381,6
BAR0_TIME = 1710916200  # 2024-03-20 06:30:00 as epoch seconds
BAR1_TIME = BAR0_TIME + 900
BAR1_OPEN = 2158.60
BAR1_CLOSE = 2156.85
BAR1_ASK = 2158.66  # open + 6 points of 0.01 (XAUUSD digits 2)
POINT = 0.01


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (our children are reaped when they end)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def buy_request(volume: float = 0.1, comment: str = "tm gw-test") -> dict[str, Any]:
    """A market buy of XAUUSD (price 0.0: the emulator fills at the current ask)."""
    return {"action": 1, "symbol": "XAUUSD", "volume": volume, "type": 0, "price": 0.0,
            "deviation": 20, "type_filling": 1, "magic": 4242, "comment": comment}


@pytest.fixture(scope="session")
def xau_spec(shared_data: Path) -> EmulatorSpec:
    """An emulator with the real XAUUSD M15 bars, loaded by the factory in the child."""
    return EmulatorSpec(bars=(BarFeed("XAUUSD", str(shared_data / "XAUUSD_M15.csv")),))


@pytest.fixture(autouse=True)
def no_children_left() -> Iterator[None]:
    """Fail a test that leaves a child process running (after killing it)."""
    before = {p.pid for p in multiprocessing.active_children()}
    yield
    left = [p for p in multiprocessing.active_children() if p.pid not in before]
    for process in left:
        process.kill()
        process.join(5)
    assert not left, f"child processes left behind: {left}"


@pytest.fixture
def make_gateway(xau_spec: EmulatorSpec) -> Iterator[Callable[..., Gateway]]:
    """``make_gateway(timeouts=..., backoff=..., **factory_fields)``: a gateway on the XAUUSD
    emulator (unless ``emulator``/``kind`` say otherwise), closed at teardown."""
    made: list[Gateway] = []

    def make(*, timeouts: dict[str, float] | None = None,
             backoff: tuple[float, float] = (0.0, 0.0), close_grace: float = 2.0,
             **fields: Any) -> Gateway:
        fields.setdefault("emulator", xau_spec)
        gateway = Gateway(TerminalFactory(**fields), timeouts=timeouts, backoff=backoff,
                          close_grace=close_grace)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def server(xau_spec: EmulatorSpec) -> Iterator[EmulatorServer]:
    """A running emulator server (TCP on 127.0.0.1, free port) with the XAUUSD bars."""
    srv = EmulatorServer(xau_spec)
    srv.start()
    yield srv
    srv.stop()
    assert not srv.is_alive()
