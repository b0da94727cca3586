"""``trademaestro live``: the executor on a live terminal (the real MetaTrader 5 package, or an
emulator server whose market clock another process drives)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``live`` and ``command`` commands to the CLI."""

    @app.command("command")
    def command(
        kind: Annotated[str, typer.Argument(help="START_STRATEGY, CLOSE_ALL, ... (any spelling).")],
        file: Annotated[
            Path | None, typer.Option("--file", help="JSON parameters (e.g. a strategy).")
        ] = None,
        param: Annotated[
            list[str] | None,
            typer.Option("--param", help="key=value (value as JSON if it parses)."),
        ] = None,
        db: Annotated[Path | None, typer.Option(help="The executor's database.")] = None,
        command_id: Annotated[str | None, typer.Option("--command-id")] = None,
        wait: Annotated[
            float, typer.Option(help="Wait up to this many seconds for the final status.")
        ] = 0.0,
    ) -> None:
        """Send a command to the executor running under --platform on this machine (the same
        bus as the platform's commands: executed at most once per command id)."""
        import json
        import time

        from trademaestro.persistence.platform_store import PlatformStore
        from trademaestro.persistence.store import Store
        from trademaestro.platform.commands import CommandError
        from trademaestro.platform.spool import FINAL, CommandSpool, spool_dir

        parameters: dict[str, object] = {}
        if file is not None:
            try:
                parameters = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                typer.echo(f"error: {file}: {exc}", err=True)
                raise typer.Exit(2) from None
        for item in param or []:
            key, sep, text = item.partition("=")
            if not sep or not key:
                typer.echo(f"error: --param {item!r}: allowed: key=value", err=True)
                raise typer.Exit(2)
            try:
                parameters[key] = json.loads(text)
            except ValueError:
                parameters[key] = text
        raw: dict[str, object] = {"command": kind, "parameters": parameters}
        if command_id:
            raw["commandId"] = command_id
        path = db or Store.default_path()
        try:
            cid = CommandSpool(spool_dir(path)).put(raw)
        except CommandError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(cid)
        if wait <= 0:
            return
        deadline = time.monotonic() + wait
        store = PlatformStore(path)
        try:
            while time.monotonic() < deadline:
                record = store.get(cid)
                if record is not None and record.status in FINAL:
                    typer.echo(json.dumps({"status": record.status, "result": record.result}))
                    raise typer.Exit(0 if record.status == "executed" else 1)
                time.sleep(0.2)
        finally:
            store.close()
        typer.echo(f"no final status within {wait} s (is the executor running?)", err=True)
        raise typer.Exit(1)

    @app.command()
    def live(
        strategy: Annotated[
            list[Path] | None,
            typer.Argument(help="Strategy JSON file(s) (optional with --platform)."),
        ] = None,
        terminal_address: Annotated[
            str | None,
            typer.Option(
                "--terminal-address",
                help="Unix socket of an emulator server (trademaestro emulator-server, its clock "
                "driven by trademaestro emulator-clock); default: the MetaTrader5 package.",
            ),
        ] = None,
        login: Annotated[
            int | None,
            typer.Option(help="Account number to log in to (password: TRADEMAESTRO_MT5_PASSWORD)."),
        ] = None,
        server: Annotated[str | None, typer.Option(help="Trade server of --login.")] = None,
        terminal_path: Annotated[
            str | None, typer.Option("--terminal-path", help="terminal64.exe, if not the default.")
        ] = None,
        warmup_bars: Annotated[
            int, typer.Option("--warmup-bars", help="Closed bars of history per strategy.")
        ] = 1000,
        poll_seconds: Annotated[
            float, typer.Option("--poll-seconds", help="How often the terminal is polled.")
        ] = 0.5,
        db: Annotated[
            Path | None, typer.Option(help="SQLite database (default: user data).")
        ] = None,
        reconcile_seconds: Annotated[
            float, typer.Option("--reconcile-seconds", help="Reconcile every that many seconds.")
        ] = 300.0,
        emergency_exit: Annotated[
            bool,
            typer.Option(
                "--emergency-exit", help="Close every position when the circuit breaker opens."
            ),
        ] = False,
        platform: Annotated[
            str | None,
            typer.Option("--platform", help="Web platform URL: run under its remote control."),
        ] = None,
        verbose: Annotated[
            bool, typer.Option("--verbose", "-v", help="Log every decision (INFO).")
        ] = False,
    ) -> None:
        """Run the executor live: poll the terminal for closed bars, trade them, until
        SIGINT/SIGTERM (exit 0; positions stay open with their stops at the broker)."""
        import asyncio

        from trademaestro.cli.main import _finish, _guard, _setup_logging
        from trademaestro.runtime.live import live_session
        from trademaestro.runtime.live_session import LiveSettings, open_live_session
        from trademaestro.runtime.settings import RunSettings

        _setup_logging(verbose)
        live_settings = _guard(
            LiveSettings,
            terminal_address=terminal_address,
            login=login,
            server=server,
            terminal_path=terminal_path,
            warmup_bars=warmup_bars,
            poll_seconds=poll_seconds,
        )
        if platform is not None:
            run_remote_cli(
                platform,
                strategies=tuple(str(p) for p in strategy or ()),
                db=db,
                live_settings=live_settings,
            )
            return
        if not strategy:
            typer.echo("error: give a strategy file (or --platform URL)", err=True)
            raise typer.Exit(2)
        settings = RunSettings(
            strategy=tuple(str(p) for p in strategy),
            data=(),
            db_path=db,
            reconcile_seconds=reconcile_seconds,
            emergency_exit=emergency_exit,
            gateway=True,
        )

        def go() -> object:
            session = open_live_session(settings, live_settings)
            return asyncio.run(live_session(session, live_settings.poll_seconds))

        _finish(_guard(go), None)


def run_remote_cli(
    url: str,
    *,
    strategies: tuple[str, ...],
    data: tuple[str, ...] = (),
    speed: float = 1.0,
    start_bar: int = 1000,
    db: Path | None = None,
    balance: float = 10_000.0,
    live_settings: object = None,
) -> None:
    """``run --platform URL`` / ``live --platform URL``: the executor under remote control
    (paper over ``data`` when given, else the live terminal of ``live_settings``). Exits 2 when
    the platform refuses the credentials, 0 on SIGINT/SIGTERM."""
    import asyncio

    from trademaestro.cli.main import _finish, _guard, err_console
    from trademaestro.runtime.live_session import LiveSettings
    from trademaestro.runtime.remote import PaperMarket, run_remote
    from trademaestro.runtime.settings import RunSettings

    live = (
        live_settings
        if isinstance(live_settings, LiveSettings)
        else LiveSettings(warmup_bars=max(2, min(start_bar, 1000)), poll_seconds=0.2)
    )
    paper = PaperMarket(data, speed, start_bar) if data else None
    if paper is None and not isinstance(live_settings, LiveSettings):
        err_console.print("[bold red]error:[/] --platform needs --data (paper) or `live`")
        raise typer.Exit(2)
    settings = RunSettings(strategy=strategies, data=(), db_path=db, balance=balance, gateway=True)
    result = _guard(lambda: asyncio.run(run_remote(url, settings, live, paper=paper)))
    _finish(result, None)
