"""``trademaestro``: backtest, run (paper executor), live, report and the operational commands.

Exit codes: 0 success; 2 bad input (strategy, data, symbol, configuration: the message names the
file/line or JSON path, what was found and what is allowed); 3 the run completed but the broker
rejected orders (the first rejection is printed; all are recorded); 130 interrupted before the
runtime could handle the signal (a graceful SIGINT/SIGTERM stop of a run exits 0); 1 anything
else.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trademaestro.cli.live import register as register_live
from trademaestro.cli.ops import register as register_ops
from trademaestro.core.errors import TradeMaestroError
from trademaestro.runtime.settings import RunSettings

if TYPE_CHECKING:  # the runtime is imported by the commands that run it: a gateway child
    # process (spawned: it imports this module again) then starts in a fraction of the time
    from trademaestro.runtime.backtest import RunResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="TradeMaestro: run web-format trading strategies on MetaTrader 5 (or its emulator).",
)
console = Console()
err_console = Console(stderr=True)

StrategyArg = Annotated[
    list[Path],
    typer.Argument(help="Strategy JSON file(s) (web platform format); several run side by side."),
]
OptStrategyArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Strategy JSON file(s) (web platform format); several run side by side (optional "
        "with --platform: strategies come by command)."
    ),
]
DataOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        help="Bar file (any supported layout), SYMBOL=FILE for each symbol of a multi-symbol "
        "run, or sample:EURUSD_H1 (backtesting.py's). Repeatable.",
    ),
]
NewsOpt = Annotated[
    Path | None,
    typer.Option(
        "--news", help="Economic calendar CSV (time,currency,impact,title) for newsFilter."
    ),
]
TicksOpt = Annotated[
    str | None,
    typer.Option(
        "--ticks",
        help="Tick file (FILE or SYMBOL=FILE): replay that symbol tick by tick (needed by "
        "intrabar strategies in a backtest).",
    ),
]
TzOpt = Annotated[
    float | None,
    typer.Option(
        "--server-utc-offset",
        help="Broker server time as a fixed UTC offset in hours (default: UTC+2, UTC+3 in US DST).",
    ),
]
SymbolOpt = Annotated[str | None, typer.Option(help="Broker symbol (default: the strategy's).")]
BalanceOpt = Annotated[float, typer.Option(help="Initial balance, account currency.")]
SpreadOpt = Annotated[
    int | None, typer.Option("--spread", help="Fixed spread in points (overrides the data's).")
]
CommissionOpt = Annotated[
    float, typer.Option("--commission-per-lot", help="Commission per lot per side.")
]
DbOpt = Annotated[
    Path | None, typer.Option("--db", help="SQLite file (default: in the user data directory).")
]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="Write the JSON report here.")]
SymbolsOpt = Annotated[
    Path | None, typer.Option("--symbols", help="JSON file with symbol specification overrides.")
]
SkipOpt = Annotated[
    bool, typer.Option("--skip-bad-rows", help="Skip malformed data rows (they are counted).")
]
SwapsOpt = Annotated[bool, typer.Option("--swaps/--no-swaps", help="Charge swaps at rollover.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log every decision.")]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def _settings(**kwargs: Any) -> RunSettings:
    return RunSettings(**kwargs)


def _finish(result: RunResult, report_path: Path | None) -> None:
    from trademaestro.report.build import write_report_json
    from trademaestro.report.render import render_summary

    for report in result.reports:
        render_summary(report, console)
    if report_path is not None and result.reports:
        # One instance: the report itself; several: {"runs": [report, ...]}.
        document = result.reports[0] if len(result.reports) == 1 else {"runs": result.reports}
        write_report_json(document, report_path)
        console.print(f"report written to {report_path}")
    if result.halts:
        err_console.print(
            "[bold red]emergency stop:[/] the drawdown limit closed every position and halted all "
            "strategies (see the log)"
        )
    if result.status == "interrupted":
        # SIGINT/SIGTERM handled by the runtime: intake stopped, everything recorded, the
        # gateway closed — a graceful stop, exit 0 (a supervisor does not restart it).
        err_console.print("stopped by signal: runs marked interrupted, everything recorded")
        raise typer.Exit(0)
    for refusal in result.refused:
        err_console.print(f"[bold red]error:[/] strategy refused: {refusal}", soft_wrap=True)
    if result.refused:
        raise typer.Exit(2)
    if result.orders_rejected:
        err_console.print(
            f"[bold red]error:[/] {result.orders_rejected} of {result.orders_sent} orders were "
            f"rejected; first: {result.first_rejection}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(3)


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except TradeMaestroError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None


@app.command()
def backtest(
    strategy: StrategyArg,
    data: DataOpt = None,
    symbol: SymbolOpt = None,
    balance: BalanceOpt = 10_000.0,
    spread: SpreadOpt = None,
    commission_per_lot: CommissionOpt = 0.0,
    db: DbOpt = None,
    report: ReportOpt = None,
    symbols: SymbolsOpt = None,
    skip_bad_rows: SkipOpt = False,
    swaps: SwapsOpt = True,
    news: NewsOpt = None,
    ticks: TicksOpt = None,
    server_utc_offset: TzOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Backtest STRATEGY on bar data: a fast plain loop through the MT5 emulator."""
    from trademaestro.runtime.backtest import run_backtest

    _setup_logging(verbose)
    settings = _settings(
        strategy=tuple(str(p) for p in strategy),
        data=tuple(data or ()),
        news_file=news,
        ticks=ticks,
        server_utc_offset=server_utc_offset,
        symbol=symbol,
        balance=balance,
        spread_points=spread,
        commission_per_lot=commission_per_lot,
        db_path=db,
        report_path=report,
        symbols_file=symbols,
        skip_bad_rows=skip_bad_rows,
        swaps=swaps,
    )
    result = _guard(run_backtest, settings)
    _finish(result, report)


@app.command()
def run(
    strategy: OptStrategyArg = None,
    data: DataOpt = None,
    speed: Annotated[
        float, typer.Option(help="Replay speed × real time; 0 = as fast as possible.")
    ] = 1.0,
    symbol: SymbolOpt = None,
    balance: BalanceOpt = 10_000.0,
    spread: SpreadOpt = None,
    commission_per_lot: CommissionOpt = 0.0,
    db: DbOpt = None,
    report: ReportOpt = None,
    symbols: SymbolsOpt = None,
    skip_bad_rows: SkipOpt = False,
    swaps: SwapsOpt = True,
    news: NewsOpt = None,
    ticks: TicksOpt = None,
    server_utc_offset: TzOpt = None,
    gateway: Annotated[
        bool,
        typer.Option(
            "--gateway/--in-process",
            help="Run the emulator in a gateway child process (hard per-call timeouts), as live "
            "mode runs the MT5 terminal; --in-process calls it directly.",
        ),
    ] = True,
    broker_address: Annotated[
        str | None,
        typer.Option(
            "--broker-address",
            help="Unix socket of an emulator server (trademaestro emulator-server): the broker "
            "outlives this executor, and a restarted executor resumes where the replay stands.",
        ),
    ] = None,
    emergency_exit: Annotated[
        bool,
        typer.Option(
            "--emergency-exit",
            help="Close every position when the connection circuit breaker opens.",
        ),
    ] = False,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform",
            help="Web platform URL: run under its remote control (strategies come by command; "
            "API key/secret from the keyring or TRADEMAESTRO_API_KEY/_SECRET).",
        ),
    ] = None,
    start_bar: Annotated[
        int,
        typer.Option("--start-bar", help="With --platform: the bar the market clock starts at."),
    ] = 1000,
    verbose: VerboseOpt = False,
) -> None:
    """Run the executor in paper mode: replay the data into the MT5 emulator in real time."""
    from trademaestro.runtime.paper import run_paper

    if platform is not None:
        from trademaestro.cli.live import run_remote_cli

        _setup_logging(verbose)
        run_remote_cli(
            platform,
            strategies=tuple(str(p) for p in strategy or ()),
            data=tuple(data or ()),
            speed=speed,
            start_bar=start_bar,
            db=db,
            balance=balance,
        )
        return
    if not strategy:
        err_console.print("[bold red]error:[/] give a strategy file (or --platform URL)")
        raise typer.Exit(2)
    if speed < 0:
        err_console.print(f"[bold red]error:[/] --speed: found {speed}; allowed: 0 or more")
        raise typer.Exit(2)
    _setup_logging(verbose)
    settings = _settings(
        strategy=tuple(str(p) for p in strategy),
        data=tuple(data or ()),
        news_file=news,
        ticks=ticks,
        server_utc_offset=server_utc_offset,
        symbol=symbol,
        balance=balance,
        spread_points=spread,
        commission_per_lot=commission_per_lot,
        db_path=db,
        report_path=report,
        symbols_file=symbols,
        skip_bad_rows=skip_bad_rows,
        swaps=swaps,
        speed=speed,
        gateway=gateway,
        broker_address=broker_address,
        emergency_exit=emergency_exit,
    )
    with Progress(
        TextColumn("[bold]paper[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bars"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task(", ".join(p.name for p in strategy), total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = _guard(run_paper, settings, progress)
    _finish(result, report)


@app.command()
def report(
    db: DbOpt = None,
    run_id: Annotated[int | None, typer.Option("--run", help="Run id (default: latest).")] = None,
    output: ReportOpt = None,
) -> None:
    """Print the summary of a recorded run (the latest by default)."""
    from trademaestro.persistence.store import Store
    from trademaestro.report.build import build_report, write_report_json
    from trademaestro.report.render import render_summary

    path = db or Store.default_path()
    if not Path(path).is_file():
        err_console.print(f"[bold red]error:[/] no database at {path}")
        raise typer.Exit(2)
    with Store(path) as store:
        rid = run_id if run_id is not None else store.latest_run_id()
        if rid is None or rid not in store.run_ids():
            err_console.print(f"[bold red]error:[/] run {rid} not found in {path}")
            raise typer.Exit(2)
        data = build_report(store, rid)
    render_summary(data, console)
    if output is not None:
        write_report_json(data, output)


register_ops(app)
register_live(app)


@app.command(
    "platform-sim",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
)
def platform_sim(ctx: typer.Context) -> None:
    """A local simulator of the web platform (executor API, Pusher, supervisor): ``serve``,
    ``push COMMAND``; ``platform-sim --help`` for details."""
    from trademaestro.cli.platform_sim import app as sim_app

    sim_app(args=list(ctx.args), prog_name="trademaestro platform-sim")


def main() -> None:
    """Console-script entry point. ``kill -USR1 <pid>`` prints every thread's stack to stderr
    (for an operator looking at a stuck executor)."""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    app()


if __name__ == "__main__":
    main()
