"""The in-process runner (start/stop, ports, state file, configuration errors) and the
``platform-sim`` CLI (serve, push, status) with typer's CliRunner against a real simulator."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.platform_sim.helpers import STRATEGIES, headers, make_config, strategy_doc
from trademaestro.cli import platform_sim
from trademaestro.core.errors import ConfigError
from trademaestro.platform.sim import (
    ExecutorCredentials,
    RunningSimulator,
    SimulatorConfig,
    SupervisorPolicy,
    run_simulator,
)

runner = CliRunner()


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_runner_starts_on_a_free_port_and_releases_it() -> None:
    with run_simulator() as first, run_simulator() as second:
        assert first.port != second.port and port_open(first.port)
        assert first.base_url == f"http://127.0.0.1:{first.port}"
        assert first.credentials().executor_id == "exec-1"
        assert first.credentials().api_secret != second.credentials().api_secret
        port = first.port
    assert not port_open(port)
    with pytest.raises(RuntimeError, match="not running"):
        first.push_command("CLOSE_ALL")


def test_state_file_is_written_without_secrets(tmp_path: Path) -> None:
    path = tmp_path / "sim" / "state.json"
    with run_simulator(make_config(state_file=str(path))) as sim:
        cid = sim.push_command("STOP_STRATEGY", {"strategyId": "a"}, command_id="fixed-1")
        again = sim.push_command("IGNORED", {}, command_id="fixed-1")  # re-delivery, same record
    data = json.loads(path.read_text())
    assert cid == again == "fixed-1"
    assert [c["commandId"] for c in data["commands"]] == ["fixed-1"]
    assert data["commands"][0]["command"] == "STOP_STRATEGY"
    assert data["executors"] == [{"executorId": "exec-1", "apiKey": "key-1"},
                                 {"executorId": "exec-2", "apiKey": "key-2"}]
    assert "secret" not in path.read_text().replace("sim-pusher-secret", "")
    assert "sim-pusher-secret" not in path.read_text()


@pytest.mark.parametrize(("build", "message"), [
    (lambda: SimulatorConfig(executors=()), "executors: found []"),
    (lambda: SimulatorConfig(executors=(ExecutorCredentials("a", "k", "s"),
                                        ExecutorCredentials("a", "k2", "s"))), "unique ids"),
    (lambda: ExecutorCredentials("a", "k", ""), "executor.api_secret: found '<empty>'"),
    (lambda: SupervisorPolicy(error_status=418), "supervisor.errorStatus: found 418"),
    (lambda: SupervisorPolicy(score=1.5), "supervisor.score"),
    (lambda: SupervisorPolicy.from_json({"ttlMs": "soon"}), "supervisor policy"),
])
def test_configuration_errors_name_the_field(build: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build()  # type: ignore[operator]


def test_cli_push_a_strategy_file_and_show_its_status(sim: RunningSimulator) -> None:
    path = STRATEGIES / "xauusd_m15_ema_cross.json"
    result = runner.invoke(platform_sim.app, [
        "push", "START_STRATEGY", "--file", str(path), "--param", "maxLots=0.5",
        "--param", "note=hello", "--deliver", "heartbeat", "--url", sim.base_url])
    assert result.exit_code == 0, result.output
    cid = result.stdout.strip()
    record = sim.state.command(cid)
    assert record is not None and record.deliver == "heartbeat"
    assert record.parameters == {**strategy_doc(), "maxLots": 0.5, "note": "hello"}
    sim.state.report_status("exec-1", cid, "received", None)
    status = runner.invoke(platform_sim.app, ["status", cid, "--url", sim.base_url])
    assert status.exit_code == 0
    assert f"{cid} START_STRATEGY -> exec-1 (pending: false)" in status.stdout
    assert " received null" in status.stdout


def test_cli_push_errors(sim: RunningSimulator, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "a": 1,\n}\n')
    not_json = runner.invoke(platform_sim.app, ["push", "START_STRATEGY", "--file", str(bad),
                                                "--url", sim.base_url])
    assert not_json.exit_code == 2 and f"{bad}:3:1: not JSON" in not_json.output
    bad_param = runner.invoke(platform_sim.app, ["push", "X", "--param", "novalue",
                                                 "--url", sim.base_url])
    assert bad_param.exit_code == 2 and "KEY=VALUE" in bad_param.output
    bad_deliver = runner.invoke(platform_sim.app, ["push", "X", "--deliver", "mail",
                                                   "--url", sim.base_url])
    assert bad_deliver.exit_code == 2 and "--deliver: found 'mail'" in bad_deliver.output
    unknown = runner.invoke(platform_sim.app, ["push", "X", "--executor-id", "exec-9",
                                               "--url", sim.base_url])
    assert unknown.exit_code == 1 and "simulator answered 400" in unknown.output
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{spare.getsockname()[1]}"
    down = runner.invoke(platform_sim.app, ["push", "X", "--url", dead])
    assert down.exit_code == 1 and "cannot reach the simulator" in down.output
    assert sim.state.commands() == []


def test_cli_serve_prints_the_url_and_key_but_not_a_given_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def probe(sim: RunningSimulator) -> None:
        seen["port"] = sim.port
        seen["config"] = sim.config
        seen["open"] = port_open(sim.port)

    monkeypatch.setattr(platform_sim, "_wait_for_interrupt", probe)
    monkeypatch.delenv("TRADEMAESTRO_SIM_API_SECRET", raising=False)
    monkeypatch.setenv("TRADEMAESTRO_API_SECRET", "given-secret-123456")
    result = runner.invoke(platform_sim.app, [
        "serve", "--port", "0", "--api-key", "my-key", "--pusher-secret", "pusher-given",
        "--supervisor-policy", "deny", "--active-strategy",
        str(STRATEGIES / "xauusd_m15_ema_cross.json")])
    assert result.exit_code == 0, result.output
    assert seen["open"] is True and not port_open(int(str(seen["port"])))
    assert f"platform simulator on http://127.0.0.1:{seen['port']}" in result.stdout
    assert "API key: my-key" in result.stdout
    assert "given-secret-123456" not in result.output and "pusher-given" not in result.output
    config = seen["config"]
    assert isinstance(config, SimulatorConfig)
    assert config.executors[0].api_secret == "given-secret-123456"
    assert config.supervisor.behaviour == "deny"
    assert [a.strategy_id for a in config.active_strategies["exec-1"]] == [
        "xauusd-m15-ema-cross"]


def test_cli_serve_generates_and_shows_missing_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    configs: list[SimulatorConfig] = []
    monkeypatch.setattr(platform_sim, "_wait_for_interrupt", lambda s: configs.append(s.config))
    for name in ("TRADEMAESTRO_API_KEY", "TRADEMAESTRO_API_SECRET",
                 "TRADEMAESTRO_SIM_API_KEY", "TRADEMAESTRO_SIM_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(platform_sim.app, ["serve", "--port", "0"])
    assert result.exit_code == 0, result.output
    creds, pusher = configs[0].executors[0], configs[0].pusher
    assert f"API secret (generated): {creds.api_secret}" in result.stdout
    assert f"Pusher secret (generated): {pusher.secret}" in result.stdout
    half = runner.invoke(platform_sim.app, ["serve", "--port", "0", "--api-key", "k"])
    assert half.exit_code == 2 and "give both or neither" in half.output
    bad = runner.invoke(platform_sim.app, ["serve", "--port", "0", "--supervisor-mode", "on"])
    assert bad.exit_code == 2 and "--supervisor-mode: found 'on'" in bad.output


def test_cli_serve_reports_a_busy_port(monkeypatch: pytest.MonkeyPatch,
                                       sim: RunningSimulator) -> None:
    monkeypatch.setattr(platform_sim, "_wait_for_interrupt", lambda s: None)
    result = runner.invoke(platform_sim.app, ["serve", "--port", str(sim.port),
                                              "--api-key", "a", "--api-secret", "b"])
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{sim.port}" in result.output


def test_python_api_headers(sim: RunningSimulator) -> None:
    assert sim.headers("exec-1") == headers()
    with pytest.raises(KeyError, match="exec-9"):
        sim.credentials("exec-9")
