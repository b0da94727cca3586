"""``trademaestro platform-sim``: run the local web platform simulator (``serve``), push a
command to a running one (``push``), and show a command's status history (``status``).

Exit codes: 0 success; 2 bad input (the message names the option/file, what was found and
what is allowed); 1 the simulator could not be reached or refused the request.
"""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from trademaestro.core.errors import ConfigError
from trademaestro.platform.sim.config import (
    SUPERVISOR_BEHAVIOURS,
    SUPERVISOR_MODES,
    ActiveStrategy,
    ExecutorCredentials,
    PusherApp,
    SimulatorConfig,
    SupervisorPolicy,
)
from trademaestro.platform.sim.records import DELIVERIES
from trademaestro.platform.sim.runner import RunningSimulator, run_simulator

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Local web platform simulator (executor API, Pusher WebSocket and events API, "
    "LLM supervisor) for developing and testing offline.",
)
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
URL_ENV = "TRADEMAESTRO_SIM_URL"
DEFAULT_URL = "http://127.0.0.1:8765"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _read_json(path: Path) -> Any:
    """A JSON file's content. Raises ConfigError naming the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})") from exc


def build_config(
    *,
    executor_id: str,
    api_key: str | None,
    api_secret: str | None,
    pusher_app_id: str,
    pusher_key: str,
    pusher_secret: str | None,
    heartbeat_interval: float,
    supervisor_mode: str,
    supervisor_policy: str,
    auto_restart: bool,
    active_strategy: list[Path],
    state_file: Path | None,
    activity_timeout: int,
) -> tuple[SimulatorConfig, list[str]]:
    """The simulator configuration from the ``serve`` options, and which secrets were
    generated (``"api"``, ``"pusher"``): only those may be shown.

    Raises:
        ConfigError: a bad value or strategy file.
    """
    generated: list[str] = []
    if not api_key or not api_secret:
        if api_key or api_secret:
            raise ConfigError(
                "--api-key and --api-secret: give both or neither (neither generates a pair)"
            )
        api_key, api_secret = "tm_" + secrets.token_hex(8), secrets.token_urlsafe(32)
        generated.append("api")
    if not pusher_secret:
        pusher_secret = secrets.token_hex(16)
        generated.append("pusher")
    if supervisor_mode not in SUPERVISOR_MODES:
        raise ConfigError(
            f"--supervisor-mode: found {supervisor_mode!r}; allowed: {', '.join(SUPERVISOR_MODES)}"
        )
    if supervisor_policy not in SUPERVISOR_BEHAVIOURS:
        raise ConfigError(
            f"--supervisor-policy: found {supervisor_policy!r}; allowed: "
            f"{', '.join(SUPERVISOR_BEHAVIOURS)}"
        )
    strategies = []
    for path in active_strategy:
        doc = _read_json(path)
        sid = doc.get("strategyId") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or not isinstance(sid, str) or not sid:
            raise ConfigError(
                f"{path}: strategyId: missing; allowed: a strategy document "
                "with a top-level strategyId"
            )
        strategies.append(ActiveStrategy(sid, doc, True))
    config = SimulatorConfig(
        executors=(ExecutorCredentials(executor_id, api_key, api_secret),),
        pusher=PusherApp(app_id=pusher_app_id, key=pusher_key, secret=pusher_secret),
        heartbeat_interval_seconds=heartbeat_interval,
        auto_restart_strategies=auto_restart,
        supervisor=SupervisorPolicy.from_json(
            {"behaviour": supervisor_policy, "mode": supervisor_mode}
        ),
        active_strategies={executor_id: tuple(strategies)} if strategies else {},
        activity_timeout=activity_timeout,
        state_file=str(state_file) if state_file else None,
    )
    return config, generated


def _wait_for_interrupt(sim: RunningSimulator) -> None:
    """Block until Ctrl-C (replaced in tests)."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        err_console.print("stopping")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8765,
    executor_id: Annotated[
        str, typer.Option(envvar="TRADEMAESTRO_SIM_EXECUTOR_ID", help="The executor's id.")
    ] = "exec-1",
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=["TRADEMAESTRO_SIM_API_KEY", "TRADEMAESTRO_API_KEY"],
            help="The executor's API key (generated with the secret when both are absent).",
        ),
    ] = None,
    api_secret: Annotated[
        str | None,
        typer.Option(
            envvar=["TRADEMAESTRO_SIM_API_SECRET", "TRADEMAESTRO_API_SECRET"],
            show_default=False,
            help="The executor's API secret (never printed unless generated).",
        ),
    ] = None,
    pusher_app_id: Annotated[str, typer.Option(help="Pusher app id.")] = "1",
    pusher_key: Annotated[str, typer.Option(help="Pusher app key.")] = "app-key",
    pusher_secret: Annotated[
        str | None,
        typer.Option(
            envvar="TRADEMAESTRO_SIM_PUSHER_SECRET",
            help="Pusher app secret (generated and printed when absent).",
        ),
    ] = None,
    heartbeat_interval: Annotated[
        float, typer.Option(help="Heartbeat interval announced to the executor, seconds.")
    ] = 30.0,
    supervisor_mode: Annotated[str, typer.Option(help="off, observe or enforce.")] = "observe",
    supervisor_policy: Annotated[
        str, typer.Option(help="allow, deny, require_confirmation, slow or error.")
    ] = "allow",
    auto_restart: Annotated[
        bool, typer.Option(help="Announce autoRestartStrategies to the executor.")
    ] = False,
    active_strategy: Annotated[
        list[Path] | None,
        typer.Option(help="Strategy JSON served by /active-strategies (repeatable)."),
    ] = None,
    state_file: Annotated[
        Path | None, typer.Option(help="Write a JSON snapshot of the state here after each change.")
    ] = None,
    activity_timeout: Annotated[int, typer.Option(help="Pusher activity timeout, seconds.")] = 120,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the simulator until Ctrl-C; prints the URL and the executor's API key."""
    try:
        config, generated = build_config(
            executor_id=executor_id,
            api_key=api_key,
            api_secret=api_secret,
            pusher_app_id=pusher_app_id,
            pusher_key=pusher_key,
            pusher_secret=pusher_secret,
            heartbeat_interval=heartbeat_interval,
            supervisor_mode=supervisor_mode,
            supervisor_policy=supervisor_policy,
            auto_restart=auto_restart,
            active_strategy=active_strategy or [],
            state_file=state_file,
            activity_timeout=activity_timeout,
        )
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    try:
        context = run_simulator(config, host=host, port=port, log_level=log_level)
        sim = context.__enter__()
    except OSError as exc:
        raise _fail(
            f"--host/--port: cannot listen on {host}:{port} ({exc.strerror or exc})", 1
        ) from None
    try:
        creds, pusher = config.executors[0], config.pusher
        console.print(f"platform simulator on {sim.base_url}")
        console.print(f"executor id: {creds.executor_id}")
        console.print(f"API key: {creds.api_key}")
        if "api" in generated:
            console.print(f"API secret (generated): {creds.api_secret}")
        console.print(f"Pusher app id {pusher.app_id}, key {pusher.key}, WebSocket {sim.ws_url()}")
        if "pusher" in generated:
            console.print(f"Pusher secret (generated): {pusher.secret}")
        console.print(
            f"push a command: trademaestro platform-sim push START_STRATEGY "
            f"--file STRATEGY.json --url {sim.base_url}"
        )
        _wait_for_interrupt(sim)
    finally:
        context.__exit__(None, None, None)


def _parse_params(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param: found {item!r}; allowed: KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _request(method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = httpx.request(method, url, timeout=10.0, **kwargs)
    except httpx.HTTPError as exc:
        raise _fail(
            f"cannot reach the simulator at {url} ({exc}); is "
            "`trademaestro platform-sim serve` running? (--url)",
            1,
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text}
    if response.status_code >= 400:
        raise _fail(
            f"simulator answered {response.status_code}: "
            f"{body.get('error', body) if isinstance(body, dict) else body}",
            1,
        )
    return body


@app.command()
def push(
    command: Annotated[str, typer.Argument(help="Command type, e.g. START_STRATEGY.")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="JSON parameters (for START/UPDATE_STRATEGY: the strategy document)."
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="KEY=VALUE parameter (VALUE parsed as JSON when it is); repeatable, "
            "applied over --file.",
        ),
    ] = None,
    deliver: Annotated[
        str, typer.Option(help="pusher, heartbeat (pendingCommands) or both.")
    ] = "both",
    executor_id: Annotated[
        str | None, typer.Option(help="Target executor (default: the simulator's only one).")
    ] = None,
    command_id: Annotated[
        str | None, typer.Option(help="Use this command id (an existing one is re-delivered).")
    ] = None,
    url: Annotated[str, typer.Option(envvar=URL_ENV, help="The simulator's URL.")] = DEFAULT_URL,
) -> None:
    """Push a command to a running simulator; prints its commandId."""
    try:
        parameters: Any = _read_json(file) if file is not None else {}
        if not isinstance(parameters, dict):
            raise ConfigError(f"{file}: found {type(parameters).__name__}; allowed: a JSON object")
        parameters.update(_parse_params(param or []))
        if deliver not in DELIVERIES:
            raise ConfigError(f"--deliver: found {deliver!r}; allowed: {', '.join(DELIVERIES)}")
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    body: dict[str, Any] = {"command": command, "parameters": parameters, "deliver": deliver}
    if executor_id:
        body["executorId"] = executor_id
    if command_id:
        body["commandId"] = command_id
    answer = _request("POST", f"{url.rstrip('/')}/sim/commands", json=body)
    console.print(answer["commandId"])
    err_console.print(
        f"{command} for {answer['executorId']}: handed to "
        f"{answer['deliveredTo']} socket(s), deliver={deliver}"
    )


@app.command()
def status(
    command_id: Annotated[str, typer.Argument(help="The command id.")],
    url: Annotated[str, typer.Option(envvar=URL_ENV, help="The simulator's URL.")] = DEFAULT_URL,
) -> None:
    """Print a command's status history (one line per report: time, status, result)."""
    record = _request("GET", f"{url.rstrip('/')}/sim/commands/{command_id}")
    console.print(
        f"{record['commandId']} {record['command']} -> {record['executorId']}"
        f" (pending: {str(record['pending']).lower()})"
    )
    for item in record["history"]:
        console.print(f"{item['at']} {item['status']} {json.dumps(item['result'])}")
