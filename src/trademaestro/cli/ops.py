"""Operational commands: ``supervise`` (restart the executor when it dies), ``emulator-server``
(an MT5 emulator process that outlives executors, like a real terminal and trade server) and
``emulator-clock`` (moves that server's market on, for live mode against the emulator)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trademaestro.runtime.settings import emulator_authkey


def register(app: typer.Typer) -> None:
    """Add the operational commands to the CLI."""

    @app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def supervise(ctx: typer.Context) -> None:
        """Run ``trademaestro ARGS`` (e.g. ``supervise -- run S.json --data F``) as a child
        process, restarting it with backoff when it dies; restarted executors start in recovery
        mode. A crash loop stops restarting and alerts."""
        from trademaestro.runtime.supervisor import main

        raise typer.Exit(main(list(ctx.args)))

    @app.command("emulator-server")
    def emulator_server(
        data: Annotated[
            list[str], typer.Option("--data", help="SYMBOL=FILE bar file to replay (repeatable).")
        ],
        address: Annotated[str, typer.Option(help="Unix socket path to listen on.")],
        balance: Annotated[float, typer.Option(help="Initial balance (USD).")] = 10_000.0,
        commission_per_lot: Annotated[float, typer.Option("--commission-per-lot")] = 0.0,
    ) -> None:
        """Serve an MT5 emulator on a Unix socket (authkey from TRADEMAESTRO_EMULATOR_KEY) until
        SIGTERM; executors connect with ``run --broker-address PATH``."""
        from trademaestro.brokers.emulator import EmulatorConfig
        from trademaestro.brokers.emulator.server import BarFeed, EmulatorSpec, serve
        from trademaestro.runtime.feeds import split_symbol_spec

        feeds = []
        for spec in data:
            symbol, path = split_symbol_spec(spec)
            if symbol is None:
                raise typer.BadParameter(
                    f"found {spec!r}; allowed: SYMBOL=FILE", param_hint="--data"
                )
            feeds.append(BarFeed(symbol, str(Path(path))))
        config = EmulatorConfig(balance=balance, commission_per_lot=commission_per_lot)
        serve(EmulatorSpec(config=config, bars=tuple(feeds)), address, emulator_authkey())

    @app.command("emulator-clock")
    def emulator_clock(
        data: Annotated[
            list[str],
            typer.Option("--data", help="SYMBOL=FILE: the same files the server was given."),
        ],
        address: Annotated[str, typer.Option(help="The emulator server's Unix socket.")],
        bar_seconds: Annotated[
            float, typer.Option("--bar-seconds", help="Wall seconds each bar stays open.")
        ] = 1.0,
        bars: Annotated[
            int | None, typer.Option("--bars", help="Stop after this many bars (groups).")
        ] = None,
        start: Annotated[
            int | None,
            typer.Option("--start", help="First bar index; default: where the server stands."),
        ] = None,
    ) -> None:
        """Drive an emulator server's market clock (authkey from TRADEMAESTRO_EMULATOR_KEY):
        each bar opens, stays open --bar-seconds, then plays out. A live executor
        (``trademaestro live --terminal-address PATH``) sees only what a terminal would."""
        from trademaestro.brokers.emulator.clock import drive_clock
        from trademaestro.brokers.mt5.gateway_remote import RemoteTerminal
        from trademaestro.runtime.feeds import load_feeds, merge_timeline, split_symbol_spec

        specs = {}
        for spec in data:
            symbol, path = split_symbol_spec(spec)
            if symbol is None:
                raise typer.BadParameter(
                    f"found {spec!r}; allowed: SYMBOL=FILE", param_hint="--data"
                )
            specs[symbol] = path
        if bar_seconds < 0:
            raise typer.BadParameter(
                f"found {bar_seconds}; allowed: >= 0", param_hint="--bar-seconds"
            )
        timeline = merge_timeline(load_feeds(specs, skip_bad_rows=False))
        terminal = RemoteTerminal(address, emulator_authkey())
        opened = drive_clock(
            terminal.replay, timeline, bar_seconds=bar_seconds, start=start, stop_after=bars
        )
        typer.echo(f"emulator-clock: {opened} bar group(s) opened and played out")
