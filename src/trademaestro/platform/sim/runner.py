"""Run the simulator in-process: uvicorn on a background thread, bound to a socket this module
opens itself (port 0 = a free port, known before the server starts).

    with run_simulator(SimulatorConfig(...)) as sim:
        sim.base_url                    # "http://127.0.0.1:54321"
        sim.push_command("START_STRATEGY", doc)
        sim.state.wait_for_status(cid, "executed")

Every method is safe to call from any thread except the server's own event loop (the
coroutine-backed ones would dead-lock there: use :class:`Simulator` directly in routes).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn

from trademaestro.platform.sim.app import create_app
from trademaestro.platform.sim.config import (
    ActiveStrategy,
    ExecutorCredentials,
    SimulatorConfig,
    SupervisorPolicy,
)
from trademaestro.platform.sim.core import Simulator, executor_channel
from trademaestro.platform.sim.records import Delivery, WsFaults
from trademaestro.platform.sim.state import SimState

log = logging.getLogger(__name__)
T = TypeVar("T")
CALL_TIMEOUT_S = 10.0


class RunningSimulator:
    """A simulator serving on ``host:port`` from a background thread (see :func:`run_simulator`).

    Attributes:
        config: its configuration.
        simulator: the :class:`Simulator` the routes use.
        host, port: where it listens.
    """

    def __init__(self, config: SimulatorConfig, *, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        self.config = config
        self.simulator = Simulator(config)
        # proto IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY on accepted sockets only then;
        # without it, Nagle + delayed ACK add 40 ms to every keep-alive response.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
            self._sock.listen(128)
        except OSError:
            self._sock.close()
            raise
        self.host: str = host
        self.port: int = self._sock.getsockname()[1]
        uv_config = uvicorn.Config(
            create_app(config, self.simulator), log_config=None, log_level=log_level,
            access_log=False, lifespan="on", loop="asyncio", ws="websockets-sansio",
            ws_ping_interval=None, timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(uv_config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]},
            name=f"platform-sim:{self.port}", daemon=True,
        )
        self._stopped = False

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> RunningSimulator:
        """Start serving; returns once ``/sim/health`` answers.

        Raises:
            RuntimeError: the server thread died or did not get ready within ``timeout`` s.
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not (self._server.started and self.simulator.loop is not None):
            if not self._thread.is_alive():
                self._sock.close()
                raise RuntimeError(f"platform simulator on port {self.port} failed to start")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"platform simulator not ready within {timeout} s")
            time.sleep(0.002)
        status = _http_status(self.host, self.port, "/sim/health", timeout)
        if status != 200:
            self.stop()
            raise RuntimeError(f"platform simulator health check answered {status}")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every socket, stop the server and join its thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        loop = self.simulator.loop
        if loop is not None and self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self.simulator.shutdown(), loop).result(timeout)
            except Exception as exc:  # the loop may already be closing
                log.debug("simulator shutdown: %s", exc)
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()
        if self._thread.is_alive():
            log.warning("platform simulator thread still alive after %.1f s", timeout)

    # --- addresses ----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://host:port`` (what ``trademaestro run --platform`` takes)."""
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> SimState:
        """The recorded state (thread-safe; has the ``wait_*`` helpers)."""
        return self.simulator.state

    def ws_url(self, key: str | None = None) -> str:
        """The Pusher WebSocket URL (``ws://host:port/app/{key}?protocol=7&...``)."""
        return (f"ws://{self.host}:{self.port}/app/{key or self.config.pusher.key}"
                "?protocol=7&client=trademaestro&version=1.0")

    def credentials(self, executor_id: str | None = None) -> ExecutorCredentials:
        """The credentials of an executor (the first one by default)."""
        ids = self.state.executor_ids
        creds = self.state.executor(executor_id or ids[0])
        if creds is None:
            raise KeyError(f"unknown executor {executor_id!r}; known: {', '.join(ids)}")
        return creds

    def headers(self, executor_id: str | None = None) -> dict[str, str]:
        """``{"X-API-Key": ..., "X-API-Secret": ...}`` of an executor."""
        creds = self.credentials(executor_id)
        return {"X-API-Key": creds.api_key, "X-API-Secret": creds.api_secret}

    def pusher_kwargs(self) -> dict[str, Any]:
        """Arguments for ``pusher.Pusher(**kwargs)`` pointing the official library here."""
        app = self.config.pusher
        return {"app_id": app.app_id, "key": app.key, "secret": app.secret,
                "host": self.host, "port": self.port, "ssl": False}

    # --- actions ------------------------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self.simulator.loop
        if loop is None or self._stopped:
            coro.close()
            raise RuntimeError("platform simulator is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(CALL_TIMEOUT_S)

    def push_command(
        self, command: str, parameters: dict[str, Any] | None = None, *,
        deliver: Delivery = "both", executor_id: str | None = None,
        command_id: str | None = None, raw: dict[str, Any] | None = None,
    ) -> str:
        """Issue a command (see :meth:`Simulator.push_command`); returns its id."""
        record, _ = self._call(self.simulator.push_command(
            command, parameters or {}, deliver=deliver, executor_id=executor_id,
            command_id=command_id, raw=raw))
        return record.command_id

    def trigger(self, channel: str, event: str, data: str) -> int:
        """Publish a channel event unsigned; returns the sockets it was handed to."""
        return self._call(self.simulator.trigger(channel, event, data))

    def kick(self, code: int, message: str = "kicked by simulator", *,
             socket_id: str | None = None, executor_id: str | None = None) -> int:
        """``pusher:error`` ``code`` and close the matching sockets; returns how many."""
        channel = executor_channel(executor_id) if executor_id else None
        return self._call(self.simulator.hub.kick(code, message, socket_id=socket_id,
                                                  channel=channel))

    def ping(self, socket_id: str | None = None) -> int:
        """Send ``pusher:ping`` now; returns to how many sockets."""
        return self._call(self.simulator.hub.ping(socket_id))

    def set_faults(self, *, drop_next: int | None = None, delay_seconds: float | None = None,
                   refuse_connections: bool | None = None,
                   answer_pings: bool | None = None) -> WsFaults:
        """Change the WebSocket faults (None keeps a value); returns them."""
        faults = self.state.faults
        if drop_next is not None:
            faults.drop_next = drop_next
        if delay_seconds is not None:
            faults.delay_seconds = delay_seconds
        if refuse_connections is not None:
            faults.refuse_connections = refuse_connections
        if answer_pings is not None:
            faults.answer_pings = answer_pings
        self.state.set_faults(faults)
        return faults

    def set_supervisor_policy(self, policy: SupervisorPolicy) -> None:
        """Replace the supervisor policy."""
        self.state.set_supervisor_policy(policy)

    def set_active_strategies(self, executor_id: str, items: list[ActiveStrategy]) -> None:
        """Replace what ``/active-strategies`` serves for an executor."""
        self.state.set_active_strategies(executor_id, items)


def _http_status(host: str, port: int, path: str, timeout: float) -> int:
    """The status code of a plain ``GET path`` (no TLS, no client library: fast)."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n" not in head:
            chunk = conn.recv(1024)
            if not chunk:
                break
            head += chunk
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


@contextmanager
def run_simulator(
    config: SimulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
    startup_timeout: float = 10.0, log_level: str = "warning",
) -> Iterator[RunningSimulator]:
    """Serve a simulator for the duration of the ``with`` block.

    Args:
        config: default :class:`SimulatorConfig` (one executor ``exec-1`` with random
            credentials).
        host, port: where to listen; port 0 picks a free port (see ``.port``).

    Raises:
        OSError: the address cannot be bound. RuntimeError: the server did not start.
    """
    running = RunningSimulator(config or SimulatorConfig(), host=host, port=port,
                               log_level=log_level)
    running.start(startup_timeout)
    try:
        yield running
    finally:
        running.stop()
