"""The run store: one SQLite database (WAL mode) recording runs, orders, deals, positions, equity.

Conventions for every method (see :mod:`trademaestro.persistence.models`): times are broker
server time in integer seconds; money is in the account currency; volume is in lots.

Every write is one transaction: it commits whole or, when anything fails, rolls back and the error
is raised as it is (``StoreError`` for a refused argument, checked before anything is written;
``sqlalchemy.exc.IntegrityError`` e.g. for a ``run_id`` that does not exist). Bulk writes
(:meth:`Store.record_deals`, :meth:`Store.record_equity`) are one ``executemany`` each.

Example::

    with Store(Store.default_path()) as store:
        run_id = store.begin_run(mode="backtest", ...)
        store.record_equity(run_id, [(1710916200, 10_000.0, 10_000.0)])
        store.finish_run(run_id, status="completed", final_balance=10_015.0, final_equity=10_015.0)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import platformdirs
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from trademaestro.persistence import validate as v
from trademaestro.persistence.engine import make_engine, writer
from trademaestro.persistence.errors import StoreError
from trademaestro.persistence.jsontext import dumps
from trademaestro.persistence.loaders import (
    EquityCurve,
    load_deals,
    load_equity,
    load_orders,
    load_positions,
    load_run,
)
from trademaestro.persistence.models import (
    FINISH_STATUSES,
    ORDER_ACTIONS,
    POSITION_SIDES,
    POSITION_STATUSES,
    RUN_MODES,
    Base,
    DealRecord,
    OrderRecord,
    PositionRecord,
    Run,
)
from trademaestro.persistence.validate import equity_columns

APP_NAME = "trademaestro"
_EQUITY_INSERT = "INSERT INTO equity (run_id, time, balance, equity) VALUES (?, ?, ?, ?)"
DB_FILENAME = "trademaestro.sqlite"


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """The run database at ``path`` (parent directories and tables are created when missing).

    Use as a context manager, or call :meth:`close`. Not for sharing across processes' writers
    at once beyond what SQLite's WAL locking allows (one writer at a time; readers never block).

    Raises:
        OSError: the parent directory cannot be created.
        StoreError: the file cannot be opened as a SQLite database (not one, no permission).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = make_engine(self.path)
        try:
            Base.metadata.create_all(self._engine)
        except DatabaseError as exc:
            self._engine.dispose()
            raise StoreError(
                f"{self.path}: cannot be used as the run database ({exc.orig}); "
                "allowed: a SQLite database file or a path where one can be created"
            ) from exc

    @staticmethod
    def default_path() -> Path:
        """``<platformdirs user data dir of 'trademaestro'>/trademaestro.sqlite``."""
        return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / DB_FILENAME

    def close(self) -> None:
        """Close every pooled connection (the store cannot be used afterwards)."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back and re-raise on any error."""
        with Session(writer(self._engine)) as session, session.begin():
            yield session

    # -- runs -------------------------------------------------------------------------------

    def begin_run(
        self,
        *,
        mode: str,
        strategy_id: str,
        strategy_name: str,
        strategy_json: str,
        symbol: str,
        timeframe: str,
        data_path: str,
        bars: int,
        data_from: int,
        data_to: int,
        initial_balance: float,
        currency: str,
        options: Mapping[str, Any],
    ) -> int:
        """Record a new run (status ``'running'``, ``started_at`` = now, wall clock UTC ISO 8601).

        Args:
            mode: ``'backtest'``, ``'paper'`` or ``'live'``.
            data_from, data_to: server time (s) of the first and last bar of the data.
            bars: number of bars in the data.
            initial_balance: account currency, > 0.
            options: run options, stored as JSON text.

        Returns the new run id. Raises ``StoreError`` on a refused argument.
        """
        row = Run(
            mode=v.one_of("mode", mode, RUN_MODES),
            status="running",
            strategy_id=v.text("strategy_id", strategy_id),
            strategy_name=v.text("strategy_name", strategy_name),
            strategy_json=v.text("strategy_json", strategy_json),
            symbol=v.text("symbol", symbol),
            timeframe=v.text("timeframe", timeframe),
            data_path=v.text("data_path", data_path),
            bars=v.integer("bars", bars),
            data_from=v.integer("data_from", data_from),
            data_to=v.integer("data_to", data_to),
            initial_balance=v.number("initial_balance", initial_balance),
            currency=v.text("currency", currency),
            options_json=dumps(options, "options"),
            started_at=_utc_now_iso(),
        )
        if row.bars < 0:
            raise StoreError(f"bars: found {row.bars}; allowed: >= 0")
        if row.data_to < row.data_from:
            raise StoreError(
                f"data_to: found {row.data_to} < data_from {row.data_from}; allowed: >= data_from"
            )
        if row.initial_balance <= 0:
            raise StoreError(f"initial_balance: found {row.initial_balance}; allowed: > 0")
        with self._write() as session:
            session.add(row)
            session.flush()
            return row.id

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        final_balance: float,
        final_equity: float,
        error: str | None = None,
    ) -> None:
        """Close a running run: ``status`` (``'completed'``, ``'interrupted'``, ``'failed'``),
        final balance and equity (account currency), the error text if any, ``finished_at`` = now.

        Raises ``StoreError`` for a refused argument, an unknown run, or a run already finished.
        """
        status = v.one_of("status", status, FINISH_STATUSES)
        balance = v.number("final_balance", final_balance)
        equity = v.number("final_equity", final_equity)
        if error is not None:
            v.text("error", error)
        with self._write() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise StoreError(f"run {run_id} not found in {self.path}")
            if run.status != "running":
                raise StoreError(
                    f"run {run_id}: already finished with status {run.status!r}; "
                    "allowed: finishing a 'running' run once"
                )
            run.status = status
            run.final_balance = balance
            run.final_equity = equity
            run.error = error
            run.finished_at = _utc_now_iso()

    def latest_run_id(self) -> int | None:
        """The id of the most recently begun run, or None when there is none."""
        with Session(self._engine) as session:
            return session.scalar(select(func.max(Run.id)))

    def run_ids(self) -> list[int]:
        """Every run id, ascending (= order of :meth:`begin_run` calls)."""
        with Session(self._engine) as session:
            return list(session.scalars(select(Run.id).order_by(Run.id)))

    # -- trading records --------------------------------------------------------------------

    def record_order(
        self,
        run_id: int,
        *,
        client_id: str,
        strategy_id: str,
        magic: int,
        symbol: str,
        action: str,
        reason: str,
        time: int,
        request: Mapping[str, Any],
        result: Mapping[str, Any] | None,
        retcode: int | None,
        error: str | None,
        order_ticket: int | None,
        deal_ticket: int | None,
        position_ticket: int | None,
    ) -> None:
        """Record one trade request and its outcome.

        Args:
            action: ``'open'``, ``'close'`` or ``'modify'``.
            reason: why it was sent (``'signal'``, ``'rule'``, ``'end'``, ...); the report uses
                it as the exit reason of the deals this order produced.
            time: server time (s) it was sent.
            request, result: the MT5 request and ``OrderSendResult`` (mappings or named tuples),
                stored as JSON text; ``result`` None when no answer came.
            retcode: ``TRADE_RETCODE_*`` of the answer, None when none came.

        Raises ``StoreError`` on a refused argument; ``IntegrityError`` for an unknown run.
        """
        row = {
            "run_id": run_id,
            "client_id": v.text("client_id", client_id),
            "strategy_id": v.text("strategy_id", strategy_id),
            "magic": v.integer("magic", magic),
            "symbol": v.text("symbol", symbol),
            "action": v.one_of("action", action, ORDER_ACTIONS),
            "reason": v.text("reason", reason),
            "time": v.integer("time", time),
            "request_json": dumps(request, "request"),
            "result_json": None if result is None else dumps(result, "result"),
            "retcode": v.optional_integer("retcode", retcode),
            "error": None if error is None else v.text("error", error),
            "order_ticket": v.optional_integer("order_ticket", order_ticket),
            "deal_ticket": v.optional_integer("deal_ticket", deal_ticket),
            "position_ticket": v.optional_integer("position_ticket", position_ticket),
        }
        with self._write() as session:
            session.connection().execute(insert(OrderRecord), [row])

    def record_deals(self, run_id: int, deals: Sequence[Any]) -> None:
        """Record deals (mappings or ``TradeDeal`` named tuples with the MT5_API.md §3.7 fields).

        Idempotent: a deal whose (run, ticket) is already stored is skipped, so the executor may
        re-record overlapping history windows. All rows are checked before any is written.

        Raises ``StoreError`` naming ``deals[i].field`` on a bad deal; ``IntegrityError`` for an
        unknown run.
        """
        rows = [v.deal_row(run_id, i, deal) for i, deal in enumerate(deals)]
        if not rows:
            return
        statement = sqlite_insert(DealRecord).on_conflict_do_nothing(
            index_elements=["run_id", "ticket"]
        )
        with self._write() as session:
            session.connection().execute(statement, rows)

    def upsert_position(
        self,
        run_id: int,
        *,
        ticket: int,
        symbol: str,
        side: str,
        volume: float,
        open_time: int,
        open_price: float,
        sl: float,
        tp: float,
        magic: int,
        strategy_id: str,
        status: str,
        close_time: int | None = None,
    ) -> None:
        """Insert or replace the last known state of position ``ticket`` of the run.

        Args:
            side: ``'buy'`` or ``'sell'``; volume: lots still open; sl/tp: price, 0.0 = none;
            status: ``'open'`` or ``'closed'``; open_time/close_time: server time (s).

        Raises ``StoreError`` on a refused argument; ``IntegrityError`` for an unknown run.
        """
        row = {
            "run_id": run_id,
            "ticket": v.integer("ticket", ticket),
            "symbol": v.text("symbol", symbol),
            "side": v.one_of("side", side, POSITION_SIDES),
            "volume": v.number("volume", volume),
            "open_time": v.integer("open_time", open_time),
            "open_price": v.number("open_price", open_price),
            "sl": v.number("sl", sl),
            "tp": v.number("tp", tp),
            "magic": v.integer("magic", magic),
            "strategy_id": v.text("strategy_id", strategy_id),
            "status": v.one_of("status", status, POSITION_STATUSES),
            "close_time": v.optional_integer("close_time", close_time),
        }
        statement = sqlite_insert(PositionRecord).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["run_id", "ticket"],
            set_={k: statement.excluded[k] for k in row if k not in ("run_id", "ticket")},
        )
        with self._write() as session:
            session.connection().execute(statement)

    def record_equity(self, run_id: int, points: Sequence[tuple[int, float, float]]) -> None:
        """Append (time, balance, equity) samples: server time (s), account currency.

        Checked as whole columns with numpy (integer times, finite numbers), then written with
        one ``executemany`` in one transaction: 47k points take well under 0.2 s.

        Raises ``StoreError`` naming ``points[i]`` on a bad point; ``IntegrityError`` for an
        unknown run.
        """
        if len(points) == 0:
            return
        times, balances, equities = equity_columns(points)
        rows = list(zip(repeat(run_id), times, balances, equities, strict=False))
        with self._write() as session:
            session.connection().exec_driver_sql(_EQUITY_INSERT, rows)

    # -- loaders ----------------------------------------------------------------------------

    def load_run(self, run_id: int) -> dict[str, Any]:
        """The run row as a dict (see :func:`trademaestro.persistence.loaders.load_run`)."""
        with Session(self._engine) as session:
            run = load_run(session, run_id)
        if run is None:
            raise StoreError(f"run {run_id} not found in {self.path}; runs: {self.run_ids()}")
        return run

    def load_deals(self, run_id: int) -> list[dict[str, Any]]:
        """The run's deals, by (time, time_msc, ticket), as dicts of TradeDeal fields."""
        with Session(self._engine) as session:
            return load_deals(session, run_id)

    def load_orders(self, run_id: int) -> list[dict[str, Any]]:
        """The run's order records in recording order, ``request``/``result`` parsed to dicts."""
        with Session(self._engine) as session:
            return load_orders(session, run_id)

    def opening_order(self, position_ticket: int, magic: int) -> dict[str, Any] | None:
        """The accepted ``open`` order record that created a position (any run), or None —
        how a restarted executor remembers a position's initial stop and volume."""
        with Session(self._engine) as session:
            row = session.scalars(
                select(OrderRecord)
                .where(
                    OrderRecord.order_ticket == position_ticket,
                    OrderRecord.magic == magic,
                    OrderRecord.action == "open",
                )
                .order_by(OrderRecord.id.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            return {
                "client_id": row.client_id,
                "time": row.time,
                "request": json.loads(row.request_json),
            }

    def journal_records(
        self, strategy_id: str, symbol: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(order-like, position-like) records from the exactly-once journal of a strategy and
        symbol: what the report needs when an order's own record was lost in a crash (the intent
        is journalled before it is sent). Entries without an order ticket are skipped."""
        from trademaestro.persistence.models import JournalRecord

        orders: list[dict[str, Any]] = []
        positions: list[dict[str, Any]] = []
        with Session(self._engine) as session:
            rows = session.scalars(
                select(JournalRecord)
                .where(JournalRecord.strategy_id == strategy_id, JournalRecord.symbol == symbol)
                .order_by(JournalRecord.id)
            )
            for row in rows:
                if row.order_ticket is None:
                    continue
                orders.append({"order_ticket": row.order_ticket, "reason": row.reason})
                if row.action == "open":
                    intent = json.loads(row.intent_json)
                    positions.append(
                        {
                            "ticket": row.order_ticket,
                            "sl": float(intent.get("sl", 0.0)),
                            "tp": float(intent.get("tp", 0.0)),
                            "side": intent.get("side"),
                        }
                    )
        return orders, positions

    def load_positions(self, run_id: int) -> list[dict[str, Any]]:
        """The run's positions (last known state), by ticket."""
        with Session(self._engine) as session:
            return load_positions(session, run_id)

    def load_equity(self, run_id: int) -> EquityCurve:
        """The run's equity samples by (time, recording order), as numpy arrays."""
        with Session(self._engine) as session:
            return load_equity(session, run_id)
