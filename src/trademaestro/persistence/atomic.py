"""Atomic state files: write a journal, fsync, rename; recover a leftover journal on load.

DESIGN.md "State that must survive a crash" and seed 003 §6.1.1. A state file ``state.json`` is
never written in place. :func:`write_atomic`:

1. writes ``state.json.journal`` in the same directory (same file system, so the rename is atomic),
2. flushes it and ``os.fsync``\\ s it (the bytes are on disk before the rename can be),
3. gives it the permission bits of the file it replaces (a new file gets ``0o666 & ~umask``),
4. ``os.replace``\\ s it onto ``state.json`` (atomic on POSIX and on NTFS),
5. fsyncs the directory so that the rename itself survives a power cut (POSIX only; Windows has
   no directory handle to sync, and NTFS journals its metadata).

A crash leaves either the old file, or the old file plus a journal. :func:`read_atomic` finishes
the job: a *complete* journal (its header's length and SHA-256 match) is the newer state and is
promoted by the rename that did not happen; an *incomplete* one (crash during step 1 or 2) is
discarded with a WARNING and the old file is kept.

On-disk format (both the journal and the file it becomes)::

    TMSTATE1 <payload length in bytes, decimal> <SHA-256 of the payload, 64 lowercase hex>\\n
    <payload bytes>

so a file damaged later (a truncated copy, an edit by hand) is detected too:
:class:`StateFileError` names the file and what is wrong. One writer per path is assumed (the
executor owns its state files); readers may run at any time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from trademaestro.core.errors import TradeMaestroError

log = logging.getLogger("trademaestro.persistence.atomic")

MAGIC = b"TMSTATE1"
JOURNAL_SUFFIX = ".journal"
_DIGEST_HEX = 64
_MAX_HEADER = len(MAGIC) + 1 + 20 + 1 + _DIGEST_HEX + 1

PathLike = str | os.PathLike[str]


class StateFileError(TradeMaestroError):
    """A state file that cannot be read or written.

    Attributes:
        path: the file.
        reason: what is wrong, in words.
    """

    def __init__(self, path: PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def journal_path(path: PathLike) -> Path:
    """``<path>.journal``: where :func:`write_atomic` stages the new content of ``path``."""
    p = Path(path)
    return p.with_name(p.name + JOURNAL_SUFFIX)


def encode(payload: bytes) -> bytes:
    """The on-disk form of ``payload``: the ``TMSTATE1 <length> <sha256>`` line, then the bytes."""
    digest = hashlib.sha256(payload).hexdigest()
    header = b"%s %d %s\n" % (MAGIC, len(payload), digest.encode("ascii"))
    return header + payload


def decode(blob: bytes) -> bytes:
    """The payload of an on-disk blob.

    Raises:
        ValueError: no header, a malformed header, a length that does not match (a truncated or
            padded file) or a checksum that does not match; the message says which.
    """
    end = blob.find(b"\n", 0, _MAX_HEADER)
    if end < 0 or not blob.startswith(MAGIC + b" "):
        raise ValueError(f"no {MAGIC.decode()} header (found {blob[:16]!r})")
    parts = blob[:end].split(b" ")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[2]) != _DIGEST_HEX:
        raise ValueError(f"malformed header {blob[:end]!r}")
    length = int(parts[1])
    payload = blob[end + 1 :]
    if len(payload) != length:
        raise ValueError(f"{len(payload)} payload bytes, header says {length}")
    if hashlib.sha256(payload).hexdigest().encode() != parts[2]:
        raise ValueError("payload SHA-256 does not match the header")
    return payload


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":  # no directory handles to sync on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: PathLike, data: bytes | str) -> None:
    """Replace the content of ``path`` with ``data`` atomically (see the module docstring).

    ``str`` data is encoded as UTF-8. The existing file's permission bits are kept. On return the
    new content, and the rename, are on disk.

    Raises:
        StateFileError: the directory does not exist or the file cannot be written (the message
            carries the OS error); the old content is untouched and no journal is left behind.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    staged = journal_path(target)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise StateFileError(target, f"cannot stat: {exc}") from exc
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
        fd = os.open(staged, flags, 0o666)
        try:
            view = memoryview(encode(payload))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(staged, mode)
        os.replace(staged, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            staged.unlink()
        raise StateFileError(target, f"cannot write: {exc}") from exc


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(path, f"cannot read: {exc}") from exc


def recover(path: PathLike) -> str | None:
    """Settle a journal left by a crash; return what was done (``"promoted"``, ``"discarded"``)
    or None when there was no journal.

    A complete journal replaces ``path`` (logged at WARNING: the previous run died between the
    fsync and the rename); an incomplete or damaged one is deleted (logged at WARNING with the
    reason: the previous run died while writing it) and ``path`` keeps its old content.

    Raises:
        StateFileError: the journal exists but cannot be read, renamed or deleted.
    """
    target = Path(path)
    staged = journal_path(target)
    blob = _read_file(staged)
    if blob is None:
        return None
    try:
        decode(blob)
    except ValueError as exc:
        log.warning("state file %s: discarded incomplete journal %s (%s)", target, staged, exc)
        try:
            staged.unlink()
            _fsync_dir(target.parent)
        except OSError as err:
            raise StateFileError(staged, f"cannot delete incomplete journal: {err}") from err
        return "discarded"
    try:
        os.replace(staged, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        raise StateFileError(staged, f"cannot promote complete journal: {exc}") from exc
    log.warning("state file %s: promoted the complete journal left by a crash", target)
    return "promoted"


def read_atomic(path: PathLike) -> bytes | None:
    """The payload last written to ``path`` by :func:`write_atomic`, or None if there is none.

    A leftover journal is settled first (:func:`recover`).

    Raises:
        StateFileError: the file exists but is damaged (no header, truncated, checksum mismatch:
            the message says which) or cannot be read.
    """
    target = Path(path)
    recover(target)
    blob = _read_file(target)
    if blob is None:
        return None
    try:
        return decode(blob)
    except ValueError as exc:
        raise StateFileError(target, f"damaged state file: {exc}") from exc


def save_state(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON (UTF-8, keys sorted, 2-space indent) atomically to ``path``.

    Raises:
        StateFileError: ``obj`` is not JSON-serialisable (NaN and infinities included: JSON has
            no such values), or the file cannot be written.
    """
    try:
        text = json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StateFileError(path, f"state is not JSON-serialisable: {exc}") from exc
    write_atomic(path, text + "\n")


def load_state(path: PathLike) -> Any:
    """The JSON value last saved to ``path`` by :func:`save_state`, or None if there is none.

    Raises:
        StateFileError: the file is damaged or its payload is not valid UTF-8 JSON (the message
            gives the line and column).
    """
    payload = read_atomic(path)
    if payload is None:
        return None
    try:
        return json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StateFileError(path, f"payload is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise StateFileError(
            path, f"payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
