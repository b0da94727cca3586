"""The supervisor process: runs the executor as a child and restarts it when it crashes.

``trademaestro supervise -- run ...`` (seed 003 §6.3, issue 4 item 8). The supervisor is a small
process that does nothing but start the executor (``python -m trademaestro.cli.main run ...``),
wait for it, and decide:

* the child exited with a code the executor returns on purpose (:data:`FINAL_EXIT_CODES`: 0 done,
  2 bad input, 3 orders rejected, 130 interrupted) -> the supervisor exits with that code.
  Restarting would not help (bad input stays bad) or would repeat a finished run;
* any other exit (1: an unhandled exception; a negative code: killed by a signal, e.g. SIGKILL
  from the OOM killer) is a crash -> restart after a back-off delay (:class:`Backoff`). The
  restarted child gets ``TRADEMAESTRO_RECOVERY=1`` and ``TRADEMAESTRO_RESTART_COUNT=<n>`` so
  that it starts in recovery mode: load state, reconcile with the broker, then trade
  (:func:`recovery_info` reads them);
* more than :attr:`CrashLoop.restarts` restarts would fall within :attr:`CrashLoop.window`
  seconds -> a crash loop: no more restarts, ``alert`` is called once, exit
  :data:`EXIT_CRASH_LOOP`.

SIGINT/SIGTERM to the supervisor are forwarded to the child (:meth:`Supervisor.terminate`); the
supervisor then waits for the child, does not restart it, and exits with the child's code. A
child that has not exited ``kill_after`` seconds after the forwarded signal is killed. The child
runs in its own process group, so a terminal's Ctrl-C reaches it once, through the supervisor.
Every child is waited for: no zombies. Every start, exit and restart is logged on logger
``trademaestro.supervisor`` as ``<event> <json fields>`` with the fields also in
``record.fields``.

The restart decisions are a pure :class:`RestartPolicy` (tested without processes); the
:class:`Supervisor` is the shell around it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import FrameType
from typing import Any

from trademaestro.core.errors import ConfigError
from trademaestro.runtime.background import log_event
from trademaestro.runtime.restarts import (
    EXIT_CRASH_LOOP,
    FINAL_EXIT_CODES,
    RECOVERY_ENV,
    RESTART_COUNT_ENV,
    Backoff,
    CrashLoop,
    RecoveryInfo,
    RestartPolicy,
    exit_code_of,
    recovery_info,
)

__all__ = [
    "EXIT_CRASH_LOOP",
    "FINAL_EXIT_CODES",
    "RECOVERY_ENV",
    "RESTART_COUNT_ENV",
    "Backoff",
    "CrashLoop",
    "RecoveryInfo",
    "RestartPolicy",
    "Supervisor",
    "default_command",
    "exit_code_of",
    "main",
    "recovery_info",
]

log = logging.getLogger("trademaestro.supervisor")

_SPAWN_FAILED = 127  # a restart that could not be started counts as a crash with this code

Clock = Callable[[], float]
Sleeper = Callable[[float], None]
Alert = Callable[[str], None]


def _event(level: int, event: str, **fields: Any) -> None:
    log_event(log, level, event, **fields)


def default_command(argv: Sequence[str]) -> list[str]:
    """The executor's command line: this Python running the ``trademaestro`` CLI with ``argv``."""
    return [sys.executable, "-m", "trademaestro.cli.main", *argv]


class Supervisor:
    """Start the executor as a child process and restart it when it crashes (module docstring).

    Args:
        argv: the executor's arguments (``["run", "s.json", "--data", ...]``), passed to
            :func:`default_command`; ignored when ``command`` is given.
        command: the full child command line instead (tests run tiny ``python -c`` scripts).
        backoff, crash_loop, stable_after, final_codes: the :class:`RestartPolicy`.
        alert: called once with a message when a crash loop stops the restarts (default: a
            CRITICAL log line). An alert that raises is logged and ignored.
        clock: monotonic seconds for run times, the crash-loop window and ``kill_after``.
        sleeper: waits a back-off delay (default: an event wait that :meth:`terminate` cuts
            short).
        kill_after: seconds between a forwarded signal and SIGKILL; None never kills.
        poll_interval: seconds between checks while waiting for the child (real time).
        env: the child's base environment (default ``os.environ``).

    Raises:
        ConfigError: an empty command.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        command: Sequence[str] | None = None,
        backoff: Backoff | None = None,
        crash_loop: CrashLoop | None = None,
        stable_after: float = 300.0,
        final_codes: Iterable[int] = FINAL_EXIT_CODES,
        alert: Alert | None = None,
        clock: Clock = time.monotonic,
        sleeper: Sleeper | None = None,
        kill_after: float | None = 30.0,
        poll_interval: float = 0.2,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.command = list(command) if command is not None else default_command(argv)
        if command is not None and not self.command:
            raise ConfigError("supervise: found an empty command; allowed: the executor's command")
        if command is None and not argv:
            raise ConfigError(
                "supervise: found no executor arguments; allowed: e.g. "
                "`trademaestro supervise -- run STRATEGY.json --data FILE`"
            )
        self.policy = RestartPolicy(
            backoff or Backoff(), crash_loop or CrashLoop(), stable_after, final_codes
        )
        self._alert = alert or (lambda message: log.critical("ALERT %s", message))
        self._clock = clock
        self._wake = threading.Event()
        self._sleep: Sleeper = sleeper or self._wait_unless_stopped
        self._kill_after = kill_after
        self._poll = poll_interval
        self._env = dict(os.environ if env is None else env)
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop_signal: int | None = None
        self._stop_at = 0.0
        self.starts = 0
        self.restarts = 0
        self.children: list[subprocess.Popen[bytes]] = []

    def _wait_unless_stopped(self, seconds: float) -> None:
        self._wake.wait(seconds)

    @property
    def stopping(self) -> bool:
        """True once :meth:`terminate` was called."""
        return self._stop_signal is not None

    def terminate(self, signum: int = signal.SIGTERM) -> None:
        """Forward ``signum`` to the running child and stop restarting (safe from a signal
        handler and from another thread). On Windows SIGINT becomes CTRL_BREAK_EVENT and any
        other signal TerminateProcess."""
        with self._lock:
            first = self._stop_signal is None
            if first:
                self._stop_signal = signum
                self._stop_at = self._clock()
            self._wake.set()
            proc = self._proc
            if proc is not None and proc.poll() is None:
                _event(logging.INFO, "child_signal", pid=proc.pid, signal=_signal_name(signum))
                _send(proc, signum)

    def run(self) -> int:
        """Supervise until the child finishes, a stop is requested or a crash loop is detected.

        Returns:
            the exit code: the child's final code, the child's code after a stop (a death by
            signal N as 128 + N), or :data:`EXIT_CRASH_LOOP`.

        Raises:
            ConfigError: the first child cannot be started (e.g. the program does not exist).
        """
        while True:
            with self._lock:
                if self._stop_signal is not None:
                    return 128 + self._stop_signal
                proc = self._spawn()
                late = self._requested_signal()
                if proc is not None and late is not None:
                    _send(proc, late)  # a signal arrived while it was starting
            started = self._clock()
            if proc is None:
                returncode, ran_for = _SPAWN_FAILED, 0.0
            else:
                returncode = self._wait(proc)
                ran_for = self._clock() - started
                _event(
                    logging.INFO if returncode == 0 else logging.WARNING,
                    "child_exit",
                    pid=proc.pid,
                    returncode=returncode,
                    ran_for_s=round(ran_for, 3),
                    start=self.starts,
                )
            if self._requested_signal() is not None:
                return exit_code_of(returncode)
            decision = self.policy.decide(returncode, ran_for, self._clock())
            if decision.action == "finish":
                _event(logging.INFO, "supervisor_done", returncode=returncode)
                return decision.code
            if decision.action == "crash_loop":
                self._crash_loop(returncode)
                return decision.code
            _event(
                logging.WARNING,
                "child_restart_scheduled",
                delay_s=round(decision.delay, 3),
                restart=self.restarts + 1,
                consecutive_failures=self.policy.failures,
            )
            self._sleep(decision.delay)
            self.restarts += 1

    def _requested_signal(self) -> int | None:
        return self._stop_signal

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        """Start a child; None when a restart cannot be started (counted as a crash).

        Raises:
            ConfigError: the first child cannot be started.
        """
        env = dict(self._env)
        env[RECOVERY_ENV] = "1" if self.restarts else "0"
        env[RESTART_COUNT_ENV] = str(self.restarts)
        try:
            if sys.platform == "win32":
                proc = subprocess.Popen(
                    self.command,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    creationflags=subprocess.CREATE_NEW_PROCESS_GROUP,
                )
            else:
                proc = subprocess.Popen(
                    self.command, env=env, stdin=subprocess.DEVNULL, process_group=0
                )
        except OSError as exc:
            if not self.starts:
                raise ConfigError(f"supervise: cannot start {self.command[0]!r}: {exc}") from exc
            _event(logging.ERROR, "child_start_failed", command=self.command, error=str(exc))
            return None
        self._proc = proc
        self.children.append(proc)
        self.starts += 1
        _event(
            logging.INFO,
            "child_start",
            pid=proc.pid,
            start=self.starts,
            restart_count=self.restarts,
            recovery=bool(self.restarts),
            command=self.command,
        )
        return proc

    def _wait(self, proc: subprocess.Popen[bytes]) -> int:
        killed = False
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                return proc.wait(timeout=self._poll)
            if (
                not killed
                and self._stop_signal is not None
                and self._kill_after is not None
                and self._clock() - self._stop_at >= self._kill_after
            ):
                _event(logging.ERROR, "child_kill", pid=proc.pid, kill_after_s=self._kill_after)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                killed = True

    def _crash_loop(self, returncode: int) -> None:
        loop = self.policy.crash_loop
        message = (
            f"executor crash loop: {loop.restarts} restarts within {loop.window:g} s, last exit "
            f"code {returncode}; the supervisor stopped restarting it"
        )
        _event(
            logging.CRITICAL,
            "crash_loop",
            restarts=self.restarts,
            window_s=loop.window,
            returncode=returncode,
        )
        try:
            self._alert(message)
        except Exception:
            log.exception("supervisor alert failed")


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _send(proc: subprocess.Popen[bytes], signum: int) -> None:
    try:
        if sys.platform == "win32":
            if signum == signal.SIGINT:
                proc.send_signal(signal.CTRL_BREAK_EVENT)
            else:
                proc.terminate()
        else:
            proc.send_signal(signum)
    except ProcessLookupError:  # exited in the meantime; wait() reaps it
        pass


def main(
    argv: Sequence[str],
    *,
    backoff: Backoff | None = None,
    crash_loop: CrashLoop | None = None,
    stable_after: float = 300.0,
    alert: Alert | None = None,
    kill_after: float | None = 30.0,
    command: Sequence[str] | None = None,
) -> int:
    """``trademaestro supervise -- ARGS``: supervise ``python -m trademaestro.cli.main ARGS``.

    A leading ``--`` in ``argv`` is dropped; ``command`` replaces the whole child command line.
    SIGINT and SIGTERM are forwarded to the child while this runs (handlers installed in the main
    thread, restored on return). The supervisor's options come from the caller (the CLI). When
    logging is not configured yet, INFO and above go to stderr.

    Returns:
        the exit code (:meth:`Supervisor.run`); 2 with the message on stderr when ``argv`` is
        empty or the executor cannot be started.
    """
    if not logging.getLogger().handlers:  # the supervisor's starts and exits are its output
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    args = list(argv)
    if args[:1] == ["--"]:
        args = args[1:]
    try:
        supervisor = Supervisor(
            args,
            command=command,
            backoff=backoff,
            crash_loop=crash_loop,
            stable_after=stable_after,
            alert=alert,
            kill_after=kill_after,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def forward(signum: int, frame: FrameType | None) -> None:
        supervisor.terminate(signum)

    previous: dict[int, Any] = {}
    for forwarded in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[forwarded] = signal.signal(forwarded, forward)
    try:
        return supervisor.run()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
