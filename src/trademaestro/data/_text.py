"""Reading a market-data file into lines with exact 1-based line numbers.

Internal to :mod:`trademaestro.data`. Handles UTF-8 (with or without BOM) and UTF-16 (MT5 writes
some exports as UTF-16 LE with a BOM), ``\\n``, ``\\r\\n`` and bare ``\\r`` line ends. Blank lines
are not rows: they are left out of :attr:`TextLines.rows` but every row keeps its true line number.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from trademaestro.core.errors import DataError


@dataclass(frozen=True)
class TextLines:
    """A file's header and data rows.

    Attributes:
        path: the file, as given.
        header: the first non-blank line (no line end).
        header_line: its 1-based line number.
        rows: the non-blank lines after the header, without line ends.
        numbers: the 1-based line number of each row (same length as ``rows``).
    """

    path: str
    header: str
    header_line: int
    rows: list[str]
    numbers: list[int]


def _decode(raw: bytes, path: str, *, lenient: bool) -> str:
    if raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE):
        encoding = "utf-16"
    elif len(raw) >= 4 and raw[1] == 0 and raw[3] == 0 and raw[0] != 0:
        encoding = "utf-16-le"  # UTF-16 LE without a BOM: ASCII text with zero high bytes
    else:
        encoding = "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        if lenient:
            return raw.decode(encoding, errors="replace")
        line = raw[: exc.start].count(b"\n") + 1
        bad = raw[exc.start : exc.start + 1].hex()
        raise DataError(
            path, line, f"not {encoding} text: undecodable byte 0x{bad}; allowed: UTF-8 or UTF-16"
        ) from None


def read_lines(path: str | Path, *, lenient: bool = False) -> TextLines:
    """Read ``path`` as text lines.

    Args:
        path: the file.
        lenient: replace undecodable bytes with U+FFFD (the row then fails to parse and can be
            skipped) instead of raising.

    Raises:
        DataError: the file is missing, unreadable, not text, or holds no non-blank line.
    """
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(name, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(name, None, "is a directory, expected a data file") from None
    except OSError as exc:
        raise DataError(name, None, f"cannot read the file: {exc.strerror or exc}") from None
    text = _decode(raw, name, lenient=lenient)
    if "\r" in text:
        text = text.replace("\r\n", "\n") if "\n" in text else text.replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise DataError(name, None, "empty file: no header line and no data rows")
    rows = lines[first + 1 :]
    start = first + 2
    if "" in rows or any(map(str.isspace, rows)):
        kept = [(i, line) for i, line in enumerate(rows, start) if line and not line.isspace()]
        numbers = [i for i, _ in kept]
        rows = [line for _, line in kept]
    else:
        numbers = list(range(start, start + len(rows)))
    return TextLines(name, lines[first], first + 1, rows, numbers)
