"""Commands from the command line into a running executor: a spool directory beside its
database (``<db>.commands/``), one atomically written JSON file per command.

``trademaestro command ...`` validates the command (a bad one is refused at once, naming the JSON
path) and writes ``<command id>.json``. The executor under remote control polls the spool, hands
each new command to its command bus (source ``cli``: the same queue, the same at-most-once
execution by command id as Pusher and heartbeat deliveries) and deletes the file once the
command's status is final in the database — so a command written while the executor is down, or
caught by a crash before the bus admitted it, is still carried out when it comes back.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from trademaestro.persistence.atomic import load_state, save_state
from trademaestro.platform.commands import command_id_of, parse_command

log = logging.getLogger("trademaestro.platform.spool")

FINAL = frozenset({"executed", "failed"})


def spool_dir(db_path: Path) -> Path:
    """The spool directory of the executor whose database is ``db_path``."""
    return db_path.with_name(db_path.name + ".commands")


class CommandSpool:
    """The spool directory (created on first use)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, raw: dict[str, Any]) -> str:
        """Validate and spool a command object; returns its command id (``cli-`` and 12 random
        hex digits when it has none).

        Raises:
            CommandError: the command is invalid (JSON path, what was found, what is allowed).
        """
        raw = dict(raw)
        if command_id_of(raw) is None:
            raw["commandId"] = f"cli-{secrets.token_hex(6)}"
        command = parse_command(raw)
        self.directory.mkdir(parents=True, exist_ok=True)
        save_state(self.directory / f"{_safe(command.command_id)}.json", raw)
        return command.command_id

    def pending(self) -> list[tuple[Path, Any]]:
        """(file, command object) of every spooled command, oldest first; an unreadable file is
        logged and left for an operator (never a crash)."""
        if not self.directory.is_dir():
            return []
        found = []
        files = sorted(self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        for path in files:
            try:
                found.append((path, load_state(path)))
            except Exception as exc:
                log.error("spooled command %s unreadable: %s; left in place", path, exc)
        return found


def _safe(command_id: str) -> str:
    """A file name for a command id (anything but letters, digits, ``-_.`` becomes ``_``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in command_id)[:120]
