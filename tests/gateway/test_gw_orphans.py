"""No orphans: a gateway child and an emulator server end when the process that started them
is killed; a remote gateway without its server fails to start and leaves nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import psutil
import pytest

from trademaestro.brokers.emulator.server import EmulatorServer, EmulatorSpec
from trademaestro.brokers.mt5.gateway import Gateway
from trademaestro.brokers.mt5.gateway_child import TerminalFactory
from trademaestro.core.errors import BrokerError


def _host(kind: str, spec: EmulatorSpec, report) -> None:
    """Start a gateway or a server, report its pid, then wait to be killed."""
    if kind == "gateway":
        keep = Gateway(TerminalFactory(emulator=spec))
    else:
        keep = EmulatorServer(spec)
        keep.start()
    report.send(keep.pid)
    threading.Event().wait()


def _gone(pid: int, timeout: float) -> bool:
    """Whether ``pid`` ended (or is a zombie) within ``timeout`` seconds."""
    try:
        process = psutil.Process(pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
            threading.Event().wait(0.05)
    except psutil.NoSuchProcess:
        return True
    return False


@pytest.mark.parametrize("kind", ["gateway", "server"])
def test_children_end_with_their_killed_parent(kind):
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    host = ctx.Process(target=_host, args=(kind, EmulatorSpec(), sender))
    host.start()
    try:
        assert receiver.poll(30)
        child = receiver.recv()
        assert psutil.pid_exists(child)
        os.kill(host.pid, signal.SIGKILL)
        host.join(10)
        assert _gone(child, 10)
    finally:
        if host.is_alive():
            host.kill()
            host.join(5)


def test_a_remote_gateway_fails_to_start_without_a_server(make_gateway):
    with pytest.raises(BrokerError) as caught:
        make_gateway(kind="remote", address=("127.0.0.1", 9), authkey=b"k", emulator=None)
    assert caught.value.code == -10003 and "not reachable" in str(caught.value)
