"""The run report printed with rich: run figures and statistics, then the last 20 trades.

Money is printed with 2 decimals, percentages with 2, prices as recorded; a missing value
(e.g. no profit factor without a losing trade) prints as ``-``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from trademaestro.report.trades import net_profit

LAST_TRADES = 20
_MISSING = "-"


def _money(value: Any) -> str:
    return _MISSING if value is None else f"{float(value):,.2f}"


def _number(value: Any, decimals: int = 2) -> str:
    return _MISSING if value is None else f"{float(value):.{decimals}f}"


def _price(value: Any) -> str:
    return _MISSING if value is None else repr(float(value))


def summary_table(report: Mapping[str, Any]) -> Table:
    """The run figures and statistics of ``report`` (shape of ``build_report``)."""
    strategy, data, stats = report["strategy"], report["data"], report["stats"]
    currency_net = float(report["final_equity"]) - float(report["initial_balance"])
    table = Table(title="Run", show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("Strategy", str(strategy["strategyId"])),
        ("Symbol / timeframe", f"{strategy['symbol']} {strategy['timeframe']}"),
        ("Data", str(data["path"])),
        ("Bars", f"{int(data['bars']):,}"),
        ("From / to (server time)", f"{data['from']} → {data['to']}"),
        ("Initial balance", _money(report["initial_balance"])),
        ("Final balance", _money(report["final_balance"])),
        ("Final equity", _money(report["final_equity"])),
        ("Equity change", _money(currency_net)),
        ("Trades", str(stats["trades"])),
        ("Win rate", _number(100.0 * float(stats["win_rate"])) + " %"),
        ("Profit factor", _number(stats["profit_factor"])),
        ("Net profit", _money(stats["net_profit"])),
        ("Max drawdown", _money(stats["max_drawdown"])),
        ("Max drawdown %", _number(stats["max_drawdown_pct"])),
        ("Sharpe (daily, annualised)", _number(stats["sharpe"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def trades_table(report: Mapping[str, Any], last: int = LAST_TRADES, *, wide: bool = True) -> Table:
    """The last ``last`` trade rows of ``report``, oldest first.

    ``wide`` adds the profit, commission and swap columns beside the net result; a narrow
    terminal (under 120 columns) gets the net only, and times without year and seconds."""
    trades = list(report["trades"])
    shown = trades[-last:] if last > 0 else []
    title = f"Last {len(shown)} of {len(trades)} trades" if len(trades) > len(shown) else "Trades"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    heads = ("Ticket", "Side", "Lots", "Open", "Price", "Close", "Price")
    for name in heads if wide else heads[1:]:
        if name in ("Ticket", "Lots"):
            table.add_column(name, justify="right", no_wrap=True)
        else:
            table.add_column(name, justify="left", no_wrap=True)
    money = ("Profit", "Comm.", "Swap", "Net") if wide else ("Net",)
    for name in money:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Exit", no_wrap=True)
    for trade in shown:
        cells = [str(trade["ticket"])] if wide else []
        cells += [
            str(trade["side"]),
            f"{float(trade['volume']):.2f}",
            _time(trade["open_time"], wide),
            _price(trade["open_price"]),
            _time(trade["close_time"], wide),
            _price(trade["close_price"]),
        ]
        if wide:
            cells += [
                _money(trade["profit"]),
                _money(trade["commission"]),
                _money(trade["swap"]),
            ]
        cells += [_money(net_profit(trade)), str(trade["exit_reason"])]
        table.add_row(*cells)
    return table


def _time(value: Any, wide: bool) -> str:
    """ISO server time; ``MM-DD HH:MM`` when narrow."""
    if value is None:
        return _MISSING
    text = str(value)
    return text.replace("T", " ") if wide else text[5:16].replace("T", " ")


def render_summary(report: Mapping[str, Any], console: Console) -> None:
    """Print the run table, then (when there are trades) at most the last 20 trades."""
    console.print(summary_table(report))
    if report["trades"]:
        console.print(trades_table(report, wide=console.width >= 120))
