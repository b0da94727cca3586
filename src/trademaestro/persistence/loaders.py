"""Read a run back as plain Python values (dicts, lists, numpy arrays) for the report.

Units as stored (see :mod:`trademaestro.persistence.models`): server time in seconds, money in
the account currency, volume in lots.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from trademaestro.persistence.jsontext import loads_dict
from trademaestro.persistence.models import (
    DealRecord,
    EquityPoint,
    OrderRecord,
    PositionRecord,
    Run,
)

DEAL_FIELDS = (
    "ticket",
    "order",
    "time",
    "time_msc",
    "type",
    "entry",
    "magic",
    "position_id",
    "reason",
    "volume",
    "price",
    "commission",
    "swap",
    "profit",
    "fee",
    "symbol",
    "comment",
    "external_id",
)


class EquityCurve(NamedTuple):
    """Equity samples of a run, ordered by time then recording order.

    Attributes:
        time: int64 server time (s), shape (n,).
        balance: float64 account currency, shape (n,).
        equity: float64 account currency, shape (n,).
    """

    time: npt.NDArray[np.int64]
    balance: npt.NDArray[np.float64]
    equity: npt.NDArray[np.float64]


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def load_run(session: Session, run_id: int) -> dict[str, Any] | None:
    """The run as a dict of its columns (``options`` parsed from JSON), or None when unknown.

    Keys: id, mode, status, strategy_id, strategy_name, strategy_json, symbol, timeframe,
    data_path, bars, data_from, data_to, initial_balance, currency, options, started_at,
    finished_at, final_balance, final_equity, error.
    """
    row = session.execute(select(_table(Run)).where(Run.id == run_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["options"] = loads_dict(out.pop("options_json")) or {}
    return out


def load_deals(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The run's deals as dicts with exactly the TradeDeal fields (MT5_API.md §3.7)."""
    table = _table(DealRecord)
    columns = [table.c[name] for name in DEAL_FIELDS]
    statement = (
        select(*columns)
        .where(table.c.run_id == run_id)
        .order_by(table.c.time, table.c.time_msc, table.c.ticket)
    )
    return [dict(row) for row in session.execute(statement).mappings()]


def load_orders(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The run's order records in recording order; ``request``/``result`` as dicts (or None).

    Keys: id, client_id, strategy_id, magic, symbol, action, reason, time, request, result,
    retcode, error, order_ticket, deal_ticket, position_ticket.
    """
    table = _table(OrderRecord)
    statement = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
    out: list[dict[str, Any]] = []
    for row in session.execute(statement).mappings():
        record = dict(row)
        del record["run_id"]
        record["request"] = loads_dict(record.pop("request_json"))
        record["result"] = loads_dict(record.pop("result_json"))
        out.append(record)
    return out


def load_positions(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The run's positions by ticket. Keys: ticket, symbol, side, volume, open_time, open_price,
    sl, tp, magic, strategy_id, status, close_time."""
    table = _table(PositionRecord)
    statement = select(table).where(table.c.run_id == run_id).order_by(table.c.ticket)
    out: list[dict[str, Any]] = []
    for row in session.execute(statement).mappings():
        record = dict(row)
        del record["id"], record["run_id"]
        out.append(record)
    return out


def load_equity(session: Session, run_id: int) -> EquityCurve:
    """The run's equity samples (empty arrays when there are none)."""
    table = _table(EquityPoint)
    statement = (
        select(table.c.time, table.c.balance, table.c.equity)
        .where(table.c.run_id == run_id)
        .order_by(table.c.time, table.c.id)
    )
    rows = session.execute(statement).all()
    times, balances, equities = zip(*rows, strict=True) if rows else ((), (), ())
    return EquityCurve(
        time=np.array(times, dtype=np.int64),
        balance=np.array(balances, dtype=np.float64),
        equity=np.array(equities, dtype=np.float64),
    )
