"""SQLite tables of the platform link: commands, the report outbox, supervisor decisions.

Three tables on their own metadata (:class:`PlatformBase`), created on any engine made by
:func:`~trademaestro.persistence.engine.make_engine` (WAL, busy timeout); they may live in the
run database or in a file of their own.

- ``platform_commands``: one row per command id ever seen (unique), its type, the delivery paths
  it came by (JSON list, in order of arrival, repeats kept), its status
  (``received`` -> ``executing`` -> ``executed`` | ``failed``; ``received`` -> ``failed`` for an
  invalid command), the result JSON and the raw command object (secret-looking keys redacted).
- ``platform_outbox``: the status reports to send, in ``id`` order: ``pending`` until sent, then
  ``sent``, or ``dropped`` when the platform refused it for good; ``attempts`` and
  ``last_error`` count and explain failed sends.
- ``supervisor_decisions``: every supervisor decision with its context (hash and JSON), the
  effective action, the platform's advice, reason, mode, policy version, latency, source
  (``platform`` | ``cache`` | ``fallback``) and error.

Every state change is one transaction: a command's status change and the report that announces
it are committed together, so a crash can never leave a status without its report or a report
of a status that was not recorded. Times are wall-clock UTC epoch seconds (float).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import CheckConstraint, Engine, Float, Index, Integer, String, Text, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from trademaestro.core.errors import TradeMaestroError
from trademaestro.persistence.engine import make_engine, writer
from trademaestro.persistence.jsontext import to_jsonable

COMMAND_STATUSES = ("received", "executing", "executed", "failed")
UNFINISHED_STATUSES = ("received", "executing")
REPORT_STATES = ("pending", "sent", "dropped")
DECISION_ACTIONS = ("allow", "deny", "require_confirmation")
DECISION_MODES = ("off", "observe", "enforce")
DECISION_SOURCES = ("platform", "cache", "fallback")

_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "executing": ("received",),
    "executed": ("executing",),
    "failed": ("received", "executing"),
}
"""Allowed source statuses of each target status."""

_SECRET_KEY = re.compile(r"secret|password|passwd|token|api[-_]?key|authorization", re.I)
REDACTED = "<redacted>"


class PlatformStoreError(TradeMaestroError):
    """A write the platform store refuses: an unknown command id, a status transition that is
    not allowed (naming the current status and the allowed ones), or a bad value."""


def _one_of(column: str, values: tuple[str, ...], table: str) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{table}_{column}_allowed")


class PlatformBase(DeclarativeBase):
    """Declarative base of the platform tables (metadata separate from the run database's)."""


class CommandRow(PlatformBase):
    """One command id and what became of it."""

    __tablename__ = "platform_commands"
    __table_args__ = (
        _one_of("status", COMMAND_STATUSES, "platform_commands"),
        Index("ix_platform_commands_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    command_id: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str | None] = mapped_column(String(64))
    sources_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    result_json: Mapped[str | None] = mapped_column(Text)
    raw_json: Mapped[str] = mapped_column(Text)
    received_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class OutboxRow(PlatformBase):
    """One status report to send to the platform (``PATCH /api/executor/{id}/command``)."""

    __tablename__ = "platform_outbox"
    __table_args__ = (
        _one_of("status", COMMAND_STATUSES, "platform_outbox"),
        _one_of("state", REPORT_STATES, "platform_outbox"),
        Index("ix_platform_outbox_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    command_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    result_json: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float)


class DecisionRow(PlatformBase):
    """One supervisor decision (latency in milliseconds; ttl_ms as the platform gave it)."""

    __tablename__ = "supervisor_decisions"
    __table_args__ = (
        _one_of("action", DECISION_ACTIONS, "supervisor_decisions"),
        _one_of("mode", DECISION_MODES, "supervisor_decisions"),
        _one_of("source", DECISION_SOURCES, "supervisor_decisions"),
        Index("ix_supervisor_decisions_hash", "context_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[float] = mapped_column(Float)
    context_hash: Mapped[str] = mapped_column(String(64))
    context_json: Mapped[str] = mapped_column(Text)
    triggers_json: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(24))
    advice: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[str] = mapped_column(String(64))
    latency_ms: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    ttl_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


# -- records ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CommandRecord:
    """A stored command (``sources`` in order of arrival; times UTC epoch seconds)."""

    command_id: str
    type: str | None
    sources: list[str]
    status: str
    result: dict[str, Any] | None
    raw: Any
    received_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Admission:
    """What :meth:`PlatformStore.admit` found: ``created`` True for a first delivery."""

    record: CommandRecord
    created: bool


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A stored status report (``state`` pending | sent | dropped)."""

    id: int
    command_id: str
    status: str
    result: dict[str, Any] | None
    state: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A stored supervisor decision (see :class:`DecisionRow`)."""

    id: int
    time: float
    context_hash: str
    context: dict[str, Any]
    triggers: list[str]
    action: str
    advice: str | None
    reason: str
    mode: str
    policy_version: str
    latency_ms: float
    source: str
    ttl_ms: int | None
    error: str | None


def scrub(value: Any) -> Any:
    """``value`` with the values of secret-looking keys (secret, password, token, api key,
    authorization; any case) replaced by ``<redacted>``, at any depth."""
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _SECRET_KEY.search(str(k)) else scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """JSON text of ``value``; what JSON cannot hold becomes its ``str`` (never raises on an
    odd value: a report must not be lost because a handler returned a strange object)."""
    try:
        plain = to_jsonable(value, "value")
    except TradeMaestroError:
        plain = value
    return json.dumps(plain, ensure_ascii=False, default=str, allow_nan=True)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _command(row: CommandRow) -> CommandRecord:
    return CommandRecord(
        command_id=row.command_id, type=row.type, sources=list(_loads(row.sources_json)),
        status=row.status, result=_loads(row.result_json), raw=_loads(row.raw_json),
        received_at=row.received_at, updated_at=row.updated_at,
    )


def _report(row: OutboxRow) -> OutboxEntry:
    return OutboxEntry(
        id=row.id, command_id=row.command_id, status=row.status,
        result=_loads(row.result_json), state=row.state, attempts=row.attempts,
        last_error=row.last_error,
    )


class PlatformStore:
    """The platform tables in the SQLite database at ``target`` (a path, created with its
    parent directory when missing, or an Engine of :func:`make_engine`).

    Args:
        target: database file or engine.
        now: wall-clock UTC epoch seconds (tests inject a clock).

    Raises:
        sqlalchemy.exc.OperationalError: the file cannot be opened.
    """

    def __init__(
        self, target: str | Path | Engine, *, now: Callable[[], float] = time.time
    ) -> None:
        self._owned = not isinstance(target, Engine)
        if isinstance(target, Engine):
            self.engine = target
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            self.engine = make_engine(Path(target))
        PlatformBase.metadata.create_all(self.engine)
        self._now = now

    def close(self) -> None:
        """Dispose of the engine when this store opened it."""
        if self._owned:
            self.engine.dispose()

    def __enter__(self) -> PlatformStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- commands ---------------------------------------------------------------------------
    def get(self, command_id: str) -> CommandRecord | None:
        """The command ``command_id``, or None when it was never admitted."""
        with Session(self.engine) as session:
            row = session.scalar(select(CommandRow).where(CommandRow.command_id == command_id))
            return None if row is None else _command(row)

    def commands(self, *statuses: str) -> list[CommandRecord]:
        """Commands (in the given statuses, or all) in the order they were first admitted."""
        query = select(CommandRow).order_by(CommandRow.id)
        if statuses:
            query = query.where(CommandRow.status.in_(statuses))
        with Session(self.engine) as session:
            return [_command(row) for row in session.scalars(query)]

    def unfinished(self) -> list[CommandRecord]:
        """Commands left ``received`` or ``executing`` (at start-up: by a previous process)."""
        return self.commands(*UNFINISHED_STATUSES)

    def admit(self, command_id: str, type_: str | None, source: str, raw: Any) -> Admission:
        """Record one delivery of ``command_id`` in one transaction.

        First delivery: a new row in status ``received`` and a ``received`` report queued.
        Later delivery: ``source`` appended to the row's sources and a report of the recorded
        status and result queued (the re-report); nothing else changes. Reports are queued only
        once a platform path delivered the command (:data:`PLATFORM_SOURCES`).

        Raises:
            PlatformStoreError: an empty or too long command id.
        """
        if not command_id or len(command_id) > 200:
            raise PlatformStoreError(
                f"command_id: found {command_id!r}; allowed: text of 1..200 characters"
            )
        now = self._now()
        with Session(writer(self.engine)) as session, session.begin():
            row = session.scalar(select(CommandRow).where(CommandRow.command_id == command_id))
            created = row is None
            if row is None:
                row = CommandRow(
                    command_id=command_id, type=None if type_ is None else type_[:64],
                    sources_json=json.dumps([source]), status="received", result_json=None,
                    raw_json=json_text(scrub(raw)), received_at=now, updated_at=now,
                )
                session.add(row)
            else:
                row.sources_json = json.dumps([*_loads(row.sources_json), source])
                row.updated_at = now
            if _reported(_loads(row.sources_json)):
                session.add(self._outbox_row(command_id, row.status, row.result_json, now))
            session.flush()
            record = _command(row)
        return Admission(record, created)

    def transition(
        self, command_id: str, status: str, result: Mapping[str, Any] | None = None
    ) -> CommandRecord:
        """Move ``command_id`` to ``status`` with ``result`` and queue its report (for a command
        the platform delivered), in one transaction. Allowed: received -> executing | failed;
        executing -> executed | failed.

        Raises:
            PlatformStoreError: an unknown status, an unknown command id, or a transition from a
                status that does not allow it (nothing is changed).
        """
        if status not in _TRANSITIONS:
            raise PlatformStoreError(
                f"{command_id}: status {status!r}; allowed: {', '.join(_TRANSITIONS)}"
            )
        sources = _TRANSITIONS[status]
        result_json = None if result is None else json_text(dict(result))
        now = self._now()
        statement = (
            update(CommandRow)
            .where(CommandRow.command_id == command_id, CommandRow.status.in_(sources))
            .values(status=status, result_json=result_json, updated_at=now)
        )
        with Session(writer(self.engine)) as session, session.begin():
            changed = session.connection().execute(statement).rowcount
            if changed == 1:
                sources = session.scalar(
                    select(CommandRow.sources_json).where(CommandRow.command_id == command_id)
                )
                if _reported(_loads(sources)):
                    session.add(self._outbox_row(command_id, status, result_json, now))
        if changed != 1:
            current = self.get(command_id)
            found = "no such command id" if current is None else f"status {current.status}"
            raise PlatformStoreError(
                f"{command_id}: cannot move to {status}: found {found}; allowed from: "
                f"{', '.join(sources)}"
            )
        record = self.get(command_id)
        assert record is not None
        return record

    # -- outbox -----------------------------------------------------------------------------
    @staticmethod
    def _outbox_row(
        command_id: str, status: str, result_json: str | None, now: float
    ) -> OutboxRow:
        return OutboxRow(
            command_id=command_id, status=status, result_json=result_json, state="pending",
            attempts=0, last_error=None, created_at=now, sent_at=None,
        )

    def enqueue_report(
        self, command_id: str, status: str, result: Mapping[str, Any] | None = None
    ) -> int:
        """Queue a report on its own (one transaction); returns its id (the send order).

        Raises:
            PlatformStoreError: a status other than received/executing/executed/failed.
        """
        if status not in COMMAND_STATUSES:
            raise PlatformStoreError(
                f"{command_id}: report status {status!r}; allowed: {', '.join(COMMAND_STATUSES)}"
            )
        result_json = None if result is None else json_text(dict(result))
        with Session(writer(self.engine)) as session, session.begin():
            row = self._outbox_row(command_id, status, result_json, self._now())
            session.add(row)
            session.flush()
            return row.id

    def pending_reports(self, limit: int = 100) -> list[OutboxEntry]:
        """Up to ``limit`` pending reports, oldest first (the order they must be sent in)."""
        query = (
            select(OutboxRow).where(OutboxRow.state == "pending").order_by(OutboxRow.id)
            .limit(limit)
        )
        with Session(self.engine) as session:
            return [_report(row) for row in session.scalars(query)]

    def reports(self) -> list[OutboxEntry]:
        """Every report ever queued, in order (for inspection and tests)."""
        with Session(self.engine) as session:
            return [_report(r) for r in session.scalars(select(OutboxRow).order_by(OutboxRow.id))]

    def mark_report(self, report_id: int, state: str, error: str | None = None) -> None:
        """Record a send attempt of report ``report_id``: ``sent``; ``pending`` with ``error``
        (a failed attempt, to retry); or ``dropped`` with ``error`` (refused for good).
        ``attempts`` counts every call.

        Raises:
            PlatformStoreError: an unknown state.
        """
        if state not in REPORT_STATES:
            raise PlatformStoreError(
                f"report {report_id}: state {state!r}; allowed: {', '.join(REPORT_STATES)}"
            )
        values: dict[str, Any] = {"state": state, "attempts": OutboxRow.attempts + 1}
        if error is not None:
            values["last_error"] = error[:2000]
        if state == "sent":
            values["sent_at"] = self._now()
        with Session(writer(self.engine)) as session, session.begin():
            session.execute(update(OutboxRow).where(OutboxRow.id == report_id).values(**values))

    # -- supervisor decisions ---------------------------------------------------------------
    def record_decision(
        self,
        *,
        context_hash: str,
        context: Mapping[str, Any],
        triggers: Sequence[str],
        action: str,
        advice: str | None,
        reason: str,
        mode: str,
        policy_version: str,
        latency_ms: float,
        source: str,
        ttl_ms: int | None,
        error: str | None,
    ) -> int:
        """Store one supervisor decision (one transaction); returns its id.

        Raises:
            PlatformStoreError: an action, mode or source outside the allowed values.
        """
        for name, value, allowed in (
            ("action", action, DECISION_ACTIONS), ("mode", mode, DECISION_MODES),
            ("source", source, DECISION_SOURCES),
        ):
            if value not in allowed:
                raise PlatformStoreError(
                    f"decision {name}: found {value!r}; allowed: {', '.join(allowed)}"
                )
        row = DecisionRow(
            time=self._now(), context_hash=context_hash, context_json=json_text(dict(context)),
            triggers_json=json.dumps(list(triggers)), action=action, advice=advice,
            reason=reason, mode=mode, policy_version=policy_version[:64],
            latency_ms=float(latency_ms), source=source, ttl_ms=ttl_ms, error=error,
        )
        with Session(writer(self.engine)) as session, session.begin():
            session.add(row)
            session.flush()
            return row.id

    def decisions(self) -> list[DecisionRecord]:
        """Every stored decision, oldest first."""
        with Session(self.engine) as session:
            rows = session.scalars(select(DecisionRow).order_by(DecisionRow.id))
            return [
                DecisionRecord(
                    id=r.id, time=r.time, context_hash=r.context_hash,
                    context=json.loads(r.context_json), triggers=json.loads(r.triggers_json),
                    action=r.action, advice=r.advice, reason=r.reason, mode=r.mode,
                    policy_version=r.policy_version, latency_ms=r.latency_ms, source=r.source,
                    ttl_ms=r.ttl_ms, error=r.error,
                )
                for r in rows
            ]


PLATFORM_SOURCES = frozenset({"pusher", "heartbeat"})
"""Delivery paths of the platform's own commands: only those are reported back to it (a command
given on the machine, ``cli`` or ``api``, has an id the platform does not know: it would answer
404)."""


def _reported(sources: Any) -> bool:
    """Whether a command with these delivery sources is reported to the platform."""
    return isinstance(sources, list) and any(s in PLATFORM_SOURCES for s in sources)
