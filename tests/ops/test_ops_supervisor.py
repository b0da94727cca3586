"""The supervisor: restart rules (pure) and real child processes (tiny ``python -c`` scripts)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from trademaestro.core.errors import ConfigError
from trademaestro.runtime.restarts import (
    EXIT_CRASH_LOOP,
    RECOVERY_ENV,
    RESTART_COUNT_ENV,
    Backoff,
    CrashLoop,
    RecoveryInfo,
    RestartPolicy,
    exit_code_of,
    recovery_info,
)
from trademaestro.runtime.supervisor import Supervisor, default_command, main

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals and process groups")

PY = [sys.executable, "-I", "-S", "-c"]

# Appends "<recovery> <restart count>" to argv[1], then exits argv[2] for the first argv[3] starts
# and 0 afterwards.
FLAKY = textwrap.dedent(
    """
    import os, sys
    path, code, failing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(path, "a") as f:
        f.write(os.environ.get("TRADEMAESTRO_RECOVERY", "-") + " "
                + os.environ.get("TRADEMAESTRO_RESTART_COUNT", "-") + "\\n")
    with open(path) as f:
        starts = len(f.readlines())
    sys.exit(code if starts <= failing else 0)
    """
)

# Writes "ready" to argv[1], then waits for a signal; on SIGTERM/SIGINT writes the signal's name
# to argv[2] and exits argv[3]. With argv[4] == "ignore" it ignores SIGTERM instead.
WAITER = textwrap.dedent(
    """
    import os, signal, sys
    ready, got, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
    def handler(signum, frame):
        with open(got, "w") as f:
            f.write(signal.Signals(signum).name)
        sys.exit(code)
    if len(sys.argv) > 4 and sys.argv[4] == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif len(sys.argv) > 4 and sys.argv[4] == "default":
        pass
    else:
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    with open(ready + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(ready + ".tmp", ready)
    while True:
        signal.pause()
    """
)


class FakeTime:
    """A clock that only moves when the supervisor sleeps; the sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(autouse=True)
def no_children_left() -> Iterator[None]:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE
    ]
    zombies = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and p.status() == psutil.STATUS_ZOMBIE
    ]
    for p in left:
        p.kill()
    assert not left, f"child processes left running: {left}"
    assert not zombies, f"zombie children: {zombies}"


def wait_for_file(path: Path, timeout: float = 10.0) -> str:
    """Wait until a child created ``path`` (synchronisation with a real process, not a delay)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        threading.Event().wait(0.005)
    return path.read_text()


def assert_all_reaped(sup: Supervisor) -> None:
    assert sup.children, "no child was started"
    assert all(child.returncode is not None for child in sup.children)


def make(fake: FakeTime, command: list[str], **kwargs: object) -> Supervisor:
    opts: dict[str, object] = {
        "backoff": Backoff(initial=1.0, maximum=5.0, factor=2.0),
        "crash_loop": CrashLoop(restarts=3, window=60.0),
        "clock": fake.clock,
        "sleeper": fake.sleep,
        "poll_interval": 0.02,
        "env": {**os.environ, RECOVERY_ENV: "1", RESTART_COUNT_ENV: "9"},
    }
    opts.update(kwargs)
    return Supervisor([], command=command, **opts)  # type: ignore[arg-type]


# --- pure rules -------------------------------------------------------------------------------


def test_backoff_sequence_is_capped_exponential() -> None:
    backoff = Backoff(initial=0.5, maximum=10.0, factor=3.0)
    assert [backoff.delay(n) for n in range(1, 6)] == pytest.approx([0.5, 1.5, 4.5, 10.0, 10.0])
    assert Backoff(initial=1, maximum=60, factor=2).delay(10_000) == pytest.approx(60.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"initial": 0.0}, "initial: found 0.0; allowed: > 0"),
        ({"initial": 5.0, "maximum": 1.0}, "maximum: found 1.0; allowed: >= initial"),
        ({"factor": 0.5}, "factor: found 0.5; allowed: >= 1"),
    ],
)
def test_backoff_refuses_bad_values(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Backoff(**kwargs)


def test_crash_loop_refuses_bad_values() -> None:
    with pytest.raises(ConfigError, match="restarts: found 0"):
        CrashLoop(restarts=0)
    with pytest.raises(ConfigError, match="window: found -1"):
        CrashLoop(window=-1)


def test_policy_final_codes_finish() -> None:
    policy = RestartPolicy(Backoff(), CrashLoop())
    for code in (0, 2, 3, 130):
        decision = policy.decide(code, 1.0, 0.0)
        assert (decision.action, decision.code) == ("finish", code)
    assert policy.decide(1, 1.0, 0.0).action == "restart"
    assert policy.decide(-9, 1.0, 0.0).action == "restart"


def test_policy_crash_loop_after_n_restarts_in_window() -> None:
    policy = RestartPolicy(Backoff(1, 100, 2), CrashLoop(restarts=3, window=10.0))
    actions = [policy.decide(1, 0.1, t) for t in (0.0, 1.0, 2.0, 3.0)]
    assert [a.action for a in actions] == ["restart", "restart", "restart", "crash_loop"]
    assert [a.delay for a in actions[:3]] == pytest.approx([1.0, 2.0, 4.0])
    assert actions[3].code == EXIT_CRASH_LOOP


def test_policy_old_restarts_leave_the_window() -> None:
    policy = RestartPolicy(Backoff(1, 100, 2), CrashLoop(restarts=2, window=10.0))
    assert policy.decide(1, 0.1, 0.0).action == "restart"
    assert policy.decide(1, 0.1, 5.0).action == "restart"
    assert policy.decide(1, 0.1, 10.0).action == "crash_loop"  # restarts at 0 and 5 are in
    policy = RestartPolicy(Backoff(1, 100, 2), CrashLoop(restarts=2, window=10.0))
    assert policy.decide(1, 0.1, 0.0).action == "restart"
    assert policy.decide(1, 0.1, 5.0).action == "restart"
    assert policy.decide(1, 0.1, 10.5).action == "restart"  # the one at 0 is 10.5 s old


def test_policy_stable_run_resets_backoff() -> None:
    policy = RestartPolicy(Backoff(1, 100, 2), CrashLoop(restarts=99), stable_after=60.0)
    delays = [policy.decide(1, ran, t).delay for t, ran in enumerate([1, 1, 1, 61, 1])]
    assert delays == pytest.approx([1.0, 2.0, 4.0, 1.0, 2.0])


def test_recovery_info() -> None:
    assert recovery_info({}) == RecoveryInfo(recovery=False, restart_count=0)
    assert recovery_info({RECOVERY_ENV: "1", RESTART_COUNT_ENV: "3"}) == RecoveryInfo(True, 3)
    with pytest.raises(ConfigError, match="TRADEMAESTRO_RECOVERY: found 'yes'; allowed: 0 or 1"):
        recovery_info({RECOVERY_ENV: "yes"})
    with pytest.raises(ConfigError, match="TRADEMAESTRO_RESTART_COUNT: found '-1'"):
        recovery_info({RESTART_COUNT_ENV: "-1"})


def test_exit_code_of_signal_death() -> None:
    assert exit_code_of(-15) == 143
    assert exit_code_of(-9) == 137
    assert exit_code_of(3) == 3


def test_default_command_runs_the_cli() -> None:
    assert default_command(["run", "s.json"]) == [
        sys.executable,
        "-m",
        "trademaestro.cli.main",
        "run",
        "s.json",
    ]
    with pytest.raises(ConfigError, match="found no executor arguments"):
        Supervisor([])
    with pytest.raises(ConfigError, match="empty command"):
        Supervisor([], command=[])


# --- real children ----------------------------------------------------------------------------


def test_clean_exit_is_not_restarted(fake_time: FakeTime, tmp_path: Path) -> None:
    log_file = tmp_path / "starts.txt"
    sup = make(fake_time, [*PY, FLAKY, str(log_file), "1", "0"])
    assert sup.run() == 0
    assert (sup.starts, sup.restarts, fake_time.sleeps) == (1, 0, [])
    assert log_file.read_text() == "0 0\n"  # inherited TRADEMAESTRO_RECOVERY=1 was overridden
    assert_all_reaped(sup)


def test_crashes_are_restarted_with_backoff_and_recovery_env(
    fake_time: FakeTime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_file = tmp_path / "starts.txt"
    sup = make(
        fake_time,
        [*PY, FLAKY, str(log_file), "1", "3"],
        crash_loop=CrashLoop(restarts=5, window=60.0),
    )
    with caplog.at_level(logging.INFO, logger="trademaestro.supervisor"):
        assert sup.run() == 0
    assert (sup.starts, sup.restarts) == (4, 3)
    assert fake_time.sleeps == pytest.approx([1.0, 2.0, 4.0])
    assert log_file.read_text() == "0 0\n1 1\n1 2\n1 3\n"
    events = [r.event for r in caplog.records]  # type: ignore[attr-defined]
    assert events == [
        "child_start",
        "child_exit",
        "child_restart_scheduled",
    ] * 3 + ["child_start", "child_exit", "supervisor_done"]
    first_exit = caplog.records[1]
    assert first_exit.levelno == logging.WARNING
    assert first_exit.fields["returncode"] == 1  # type: ignore[attr-defined]
    assert first_exit.fields["pid"] == sup.children[0].pid  # type: ignore[attr-defined]
    assert '"returncode": 1' in first_exit.getMessage()
    assert_all_reaped(sup)


def test_crash_loop_stops_and_alerts_once(fake_time: FakeTime, tmp_path: Path) -> None:
    alerts: list[str] = []
    log_file = tmp_path / "starts.txt"
    sup = make(fake_time, [*PY, FLAKY, str(log_file), "1", "1000"], alert=alerts.append)
    assert sup.run() == EXIT_CRASH_LOOP
    assert (sup.starts, sup.restarts) == (4, 3)
    assert fake_time.sleeps == pytest.approx([1.0, 2.0, 4.0])
    assert alerts == [
        "executor crash loop: 3 restarts within 60 s, last exit code 1; the supervisor "
        "stopped restarting it"
    ]
    assert_all_reaped(sup)


def test_failing_alert_does_not_crash_the_supervisor(fake_time: FakeTime, tmp_path: Path) -> None:
    def broken(message: str) -> None:
        raise RuntimeError("telegram down")

    sup = make(
        fake_time,
        [*PY, "import sys; sys.exit(1)"],
        crash_loop=CrashLoop(restarts=1, window=60.0),
        alert=broken,
    )
    assert sup.run() == EXIT_CRASH_LOOP
    assert sup.starts == 2


def test_final_code_is_passed_through(fake_time: FakeTime) -> None:
    sup = make(fake_time, [*PY, "import sys; sys.exit(2)"])
    assert sup.run() == 2
    assert sup.starts == 1


def test_death_by_signal_is_restarted(fake_time: FakeTime, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    script = (
        "import os, signal, sys\n"
        f"p = {str(marker)!r}\n"
        "if not os.path.exists(p):\n"
        "    open(p, 'w').close()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    sup = make(fake_time, [*PY, script])
    assert sup.run() == 0
    assert sup.children[0].returncode == -signal.SIGKILL
    assert (sup.starts, fake_time.sleeps) == (2, pytest.approx([1.0]))


def run_in_thread(sup: Supervisor) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(sup.run()), daemon=True)
    thread.start()
    return thread, result


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_terminate_forwards_the_signal_and_does_not_restart(
    fake_time: FakeTime, tmp_path: Path, signum: signal.Signals
) -> None:
    ready, got = tmp_path / "ready", tmp_path / "got"
    sup = make(fake_time, [*PY, WAITER, str(ready), str(got), "0"])
    thread, result = run_in_thread(sup)
    wait_for_file(ready)
    sup.terminate(signum)
    thread.join(10)
    assert not thread.is_alive()
    assert result == [0]
    assert got.read_text() == signum.name
    assert (sup.starts, sup.restarts, sup.stopping) == (1, 0, True)
    assert_all_reaped(sup)


def test_terminated_child_without_handler_reports_128_plus_signal(
    fake_time: FakeTime, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    sup = make(fake_time, [*PY, WAITER, str(ready), str(tmp_path / "got"), "0", "default"])
    thread, result = run_in_thread(sup)
    wait_for_file(ready)
    sup.terminate(signal.SIGTERM)
    thread.join(10)
    assert result == [143]
    assert sup.starts == 1


def test_child_ignoring_the_signal_is_killed_after_kill_after(
    fake_time: FakeTime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ready = tmp_path / "ready"
    sup = make(
        fake_time, [*PY, WAITER, str(ready), str(tmp_path / "got"), "0", "ignore"], kill_after=0.0
    )
    thread, result = run_in_thread(sup)
    wait_for_file(ready)
    with caplog.at_level(logging.INFO, logger="trademaestro.supervisor"):
        sup.terminate(signal.SIGTERM)
        thread.join(10)
    assert result == [137]
    assert "child_kill" in [r.event for r in caplog.records]  # type: ignore[attr-defined]
    assert_all_reaped(sup)


def test_terminate_during_backoff_stops_without_restart(tmp_path: Path) -> None:
    sup: Supervisor

    def sleeper(seconds: float) -> None:
        sup.terminate(signal.SIGTERM)  # the signal arrives while the supervisor waits

    sup = Supervisor(
        [], command=[*PY, "import sys; sys.exit(1)"], sleeper=sleeper, poll_interval=0.02
    )
    assert sup.run() == 128 + signal.SIGTERM
    assert sup.starts == 1


def test_default_sleeper_is_cut_short_by_terminate() -> None:
    sup = Supervisor(
        [],
        command=[*PY, "import sys; sys.exit(1)"],
        backoff=Backoff(initial=3600.0, maximum=3600.0),
        poll_interval=0.02,
    )
    thread, result = run_in_thread(sup)
    deadline = time.monotonic() + 10
    while sup.policy.failures < 1:  # the crash was seen: the supervisor is in its back-off
        assert time.monotonic() < deadline
        threading.Event().wait(0.005)
    sup.terminate()
    thread.join(10)  # far less than the hour of back-off
    assert result == [143]
    assert sup.starts == 1


def test_program_that_cannot_start_is_a_config_error(fake_time: FakeTime, tmp_path: Path) -> None:
    sup = make(fake_time, [str(tmp_path / "no-such-program")])
    with pytest.raises(ConfigError, match="cannot start"):
        sup.run()
    assert main([], command=[str(tmp_path / "no-such-program")]) == 2


def test_main_without_arguments_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--"]) == 2
    assert "found no executor arguments" in capsys.readouterr().err


def test_main_forwards_sigterm_to_the_child(tmp_path: Path) -> None:
    """A real supervisor process: SIGTERM to it reaches the child, which exits 0."""
    ready, got = tmp_path / "ready", tmp_path / "got"
    child = [*PY, WAITER, str(ready), str(got), "0"]
    program = (
        "import sys\n"
        "from trademaestro.runtime.supervisor import main\n"
        f"sys.exit(main([], command={child!r}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", program])
    try:
        child_pid = int(wait_for_file(ready))
        assert psutil.Process(child_pid).ppid() == proc.pid
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert got.read_text() == "SIGTERM"
    assert not psutil.pid_exists(child_pid) or (
        psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE
    )


def test_real_executor_with_bad_input_is_not_restarted(fake_time: FakeTime, tmp_path: Path) -> None:
    """The default command runs the real CLI: bad input exits 2, which is final."""
    missing = tmp_path / "missing.json"
    sup = Supervisor(
        ["run", str(missing), "--data", str(tmp_path / "bars.csv")],
        clock=fake_time.clock,
        sleeper=fake_time.sleep,
        poll_interval=0.02,
    )
    assert sup.command[:3] == [sys.executable, "-m", "trademaestro.cli.main"]
    assert sup.run() == 2
    assert (sup.starts, fake_time.sleeps) == (1, [])
    assert_all_reaped(sup)
