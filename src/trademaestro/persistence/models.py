"""SQLAlchemy 2.0 ORM models of the run database (SQLite).

One database holds many runs. Every row below a run carries its ``run_id`` (foreign key, cascading
delete). Units and clocks, for every table:

- times (``time``, ``open_time``, ``data_from`` ...) are broker **server time** in integer seconds
  since 1970-01-01 (MT5's convention, MT5_API.md §1.5); ``time_msc`` in milliseconds;
- money (balance, equity, profit, commission, swap, fee) is in the account currency;
- volume is in lots; prices are in price units of the symbol;
- ``runs.started_at`` / ``finished_at`` are wall-clock UTC, ISO 8601 text.

The allowed values of the enumerated text columns are enforced by CHECK constraints, so a bad
value can never be written, whatever the caller.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

RUN_MODES = ("backtest", "paper", "live")
RUN_STATUSES = ("running", "completed", "interrupted", "failed")
FINISH_STATUSES = ("completed", "interrupted", "failed")
ORDER_ACTIONS = ("open", "close", "modify")
POSITION_SIDES = ("buy", "sell")
POSITION_STATUSES = ("open", "closed")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{column}_allowed")


class Base(DeclarativeBase):
    """Declarative base of every table of the run database."""


class Run(Base):
    """One executor run: what was run on which data, and how it ended."""

    __tablename__ = "runs"
    __table_args__ = (
        _one_of("mode", RUN_MODES),
        _one_of("status", RUN_STATUSES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    strategy_id: Mapped[str] = mapped_column(String(200))
    strategy_name: Mapped[str] = mapped_column(String(400))
    strategy_json: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(16))
    data_path: Mapped[str] = mapped_column(Text)
    bars: Mapped[int] = mapped_column(Integer)
    data_from: Mapped[int] = mapped_column(BigInteger)
    data_to: Mapped[int] = mapped_column(BigInteger)
    initial_balance: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(16))
    options_json: Mapped[str] = mapped_column(Text)
    started_at: Mapped[str] = mapped_column(String(40))
    finished_at: Mapped[str | None] = mapped_column(String(40))
    final_balance: Mapped[float | None] = mapped_column(Float)
    final_equity: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class OrderRecord(Base):
    """One trade request the executor sent (or tried to send), with the broker's answer."""

    __tablename__ = "orders"
    __table_args__ = (
        _one_of("action", ORDER_ACTIONS),
        Index("ix_orders_run_order_ticket", "run_id", "order_ticket"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    strategy_id: Mapped[str] = mapped_column(String(200))
    magic: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    time: Mapped[int] = mapped_column(BigInteger)
    request_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str | None] = mapped_column(Text)
    retcode: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    order_ticket: Mapped[int | None] = mapped_column(BigInteger)
    deal_ticket: Mapped[int | None] = mapped_column(BigInteger)
    position_ticket: Mapped[int | None] = mapped_column(BigInteger)


class DealRecord(Base):
    """One MT5 deal (``TradeDeal``, MT5_API.md §3.7), unique per (run, deal ticket)."""

    __tablename__ = "deals"
    __table_args__ = (
        UniqueConstraint("run_id", "ticket", name="uq_deals_run_ticket"),
        Index("ix_deals_run_position", "run_id", "position_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    ticket: Mapped[int] = mapped_column(BigInteger)
    order: Mapped[int] = mapped_column(BigInteger)
    time: Mapped[int] = mapped_column(BigInteger)
    time_msc: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[int] = mapped_column(Integer)
    entry: Mapped[int] = mapped_column(Integer)
    magic: Mapped[int] = mapped_column(BigInteger)
    position_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[int] = mapped_column(Integer)
    volume: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    commission: Mapped[float] = mapped_column(Float)
    swap: Mapped[float] = mapped_column(Float)
    profit: Mapped[float] = mapped_column(Float)
    fee: Mapped[float] = mapped_column(Float)
    symbol: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))


class PositionRecord(Base):
    """The last known state of one position, unique per (run, position ticket)."""

    __tablename__ = "positions"
    __table_args__ = (
        UniqueConstraint("run_id", "ticket", name="uq_positions_run_ticket"),
        _one_of("side", POSITION_SIDES),
        _one_of("status", POSITION_STATUSES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    ticket: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    volume: Mapped[float] = mapped_column(Float)
    open_time: Mapped[int] = mapped_column(BigInteger)
    open_price: Mapped[float] = mapped_column(Float)
    sl: Mapped[float] = mapped_column(Float)
    tp: Mapped[float] = mapped_column(Float)
    magic: Mapped[int] = mapped_column(BigInteger)
    strategy_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8))
    close_time: Mapped[int | None] = mapped_column(BigInteger)


class EquityPoint(Base):
    """One (time, balance, equity) sample of the account."""

    __tablename__ = "equity"
    __table_args__ = (Index("ix_equity_run_time", "run_id", "time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    time: Mapped[int] = mapped_column(BigInteger)
    balance: Mapped[float] = mapped_column(Float)
    equity: Mapped[float] = mapped_column(Float)


JOURNAL_STATES = ("pending", "sent", "done", "rejected", "unknown", "not_executed")


class JournalRecord(Base):
    """One order intent of the exactly-once journal (:mod:`trademaestro.persistence.journal`).

    Unique per (``scope``, ``client_id``): an intent is journalled once and never sent twice.
    ``created_at`` / ``updated_at`` are wall-clock UTC epoch seconds; ``server_time`` is the
    broker server time (s) when the intent was journalled (the start of history look-ups).
    """

    __tablename__ = "order_journal"
    __table_args__ = (
        UniqueConstraint("scope", "client_id", name="uq_order_journal_scope_client"),
        _one_of("state", JOURNAL_STATES),
        _one_of("action", ORDER_ACTIONS),
        Index("ix_order_journal_scope_state", "scope", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(64))
    strategy_id: Mapped[str] = mapped_column(String(200))
    magic: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    intent_json: Mapped[str] = mapped_column(Text)
    request_json: Mapped[str | None] = mapped_column(Text)
    result_json: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    server_time: Mapped[int | None] = mapped_column(BigInteger)
    sends: Mapped[int] = mapped_column(Integer)
    retcode: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    order_ticket: Mapped[int | None] = mapped_column(BigInteger)
    deal_ticket: Mapped[int | None] = mapped_column(BigInteger)
    position_ticket: Mapped[int | None] = mapped_column(BigInteger)
    volume: Mapped[float | None] = mapped_column(Float)
    price: Mapped[float | None] = mapped_column(Float)
    resolution: Mapped[str | None] = mapped_column(Text)
