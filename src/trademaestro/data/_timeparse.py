"""Date-time text to broker-server-time seconds, vectorised (fast path) and per row (exact path).

Internal to :mod:`trademaestro.data`. The wall-clock text is read as if it were UTC: no time-zone
shifting, so the numbers are broker server time in seconds (or milliseconds) since 1970-01-01.

Both paths accept exactly the same texts; the vectorised functions return None (never raise)
when anything does not fit, and the caller then falls back to the per-row functions, which say
what is wrong.

Bar times: ``YYYY.MM.DD HH:MM:SS`` or ``YYYY-MM-DD HH:MM:SS`` (same separator twice; ``T`` is
also accepted between date and time), seconds optional, or a date alone (midnight).
Tick times (Dukascopy): ``DD.MM.YYYY HH:MM:SS.fff`` optionally followed by `` GMT+HHMM`` or
`` GMT-HHMM``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

BAR_TIME_FORMS = "YYYY.MM.DD HH:MM:SS or YYYY-MM-DD HH:MM:SS (seconds optional, or a date alone)"
TICK_TIME_FORMS = "DD.MM.YYYY HH:MM:SS.fff, optionally followed by GMT+HHMM or GMT-HHMM"

I64 = npt.NDArray[np.int64]
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31 23:59:59, the last second datetime can show
_BAR_RE = re.compile(
    r"(\d{4})([.-])(\d{2})\2(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?", re.ASCII
)
_TICK_RE = re.compile(
    r"(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})(?: GMT([+-])(\d{2})(\d{2}))?",
    re.ASCII,
)
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def format_seconds(seconds: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` for server-time seconds (the raw number if out of range)."""
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def _civil_seconds(
    y: I64, mo: I64, d: I64, h: I64, mi: I64, s: I64
) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Seconds since 1970 of a civil date-time (proleptic Gregorian, read as UTC) and a mask of
    valid fields. Days from civil: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"."""
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    month_ok = (mo >= 1) & (mo <= 12)
    dim = _DAYS_IN_MONTH[np.clip(mo, 1, 12) - 1] + ((mo == 2) & leap)
    ok = month_ok & (y >= 1) & (d >= 1) & (d <= dim) & (h <= 23) & (mi <= 59) & (s <= 59)
    yy = y - (mo <= 2)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * (mo + np.where(mo > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + h * 3600 + mi * 60 + s, ok


def _matrix(texts: Sequence[str], width: int) -> npt.NDArray[np.int64] | None:
    try:
        raw = "".join(texts).encode("ascii")
    except UnicodeEncodeError:
        return None
    if len(raw) != width * len(texts):
        return None
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, width).astype(np.int64)


def _number(m: npt.NDArray[np.int64], start: int, stop: int) -> I64:
    out = np.zeros(m.shape[0], dtype=np.int64)
    for col in range(start, stop):
        out = out * 10 + (m[:, col] - 48)
    return out


def _digits_ok(m: npt.NDArray[np.int64], cols: Sequence[int]) -> bool:
    sub = m[:, list(cols)]
    return bool(((sub >= 48) & (sub <= 57)).all())


def bar_times_fast(texts: Sequence[str]) -> I64 | None:
    """Vectorised bar-time parse; None when any text is not an accepted form."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    lengths = set(map(len, texts))
    if lengths != {19}:
        if not lengths <= {10, 16, 19}:
            return None
        pad = {10: " 00:00:00", 16: ":00", 19: ""}
        texts = [t + pad[len(t)] for t in texts]
    m = _matrix(texts, 19)
    if m is None or not _digits_ok(m, (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)):
        return None
    sep = m[:, 4]
    if not (
        (((sep == 46) | (sep == 45)) & (m[:, 7] == sep)).all()
        and ((m[:, 10] == 32) | (m[:, 10] == 84)).all()
        and (m[:, 13] == 58).all()
        and (m[:, 16] == 58).all()
    ):
        return None
    seconds, ok = _civil_seconds(
        _number(m, 0, 4), _number(m, 5, 7), _number(m, 8, 10),
        _number(m, 11, 13), _number(m, 14, 16), _number(m, 17, 19),
    )  # fmt: skip
    return seconds if bool(ok.all()) else None


def bar_time(text: str) -> int:
    """Parse one bar time to server-time seconds.

    Raises:
        ValueError: not an accepted form, or not a real calendar date-time.
    """
    m = _BAR_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"expected {BAR_TIME_FORMS}")
    y, mo, d = int(m.group(1)), int(m.group(3)), int(m.group(4))
    h, mi, s = (int(g) if g else 0 for g in m.group(5, 6, 7))
    try:
        moment = datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"not a calendar date-time ({exc})") from None
    return int(moment.timestamp())


def tick_times_fast(texts: Sequence[str]) -> tuple[I64, I64] | None:
    """Vectorised Dukascopy tick-time parse to (milliseconds, UTC offset seconds as written);
    None when any text is not an accepted form."""
    if not texts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lengths = set(map(len, texts))
    if len(lengths) != 1 or lengths.pop() not in (23, 32):
        return None
    width = len(texts[0])
    m = _matrix(texts, width)
    digits = (0, 1, 3, 4, 6, 7, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22)
    if m is None or not _digits_ok(m, digits + ((28, 29, 30, 31) if width == 32 else ())):
        return None
    fixed = {2: 46, 5: 46, 10: 32, 13: 58, 16: 58, 19: 46}
    if width == 32:
        fixed |= {23: 32, 24: 71, 25: 77, 26: 84}  # " GMT"
    if not all(bool((m[:, col] == code).all()) for col, code in fixed.items()):
        return None
    offsets = np.zeros(m.shape[0], dtype=np.int64)
    if width == 32:
        sign = m[:, 27]
        if not ((sign == 43) | (sign == 45)).all():
            return None
        oh, om = _number(m, 28, 30), _number(m, 30, 32)
        if (om > 59).any():
            return None
        offsets = np.where(sign == 45, -1, 1) * (oh * 3600 + om * 60)
    seconds, ok = _civil_seconds(
        _number(m, 6, 10), _number(m, 3, 5), _number(m, 0, 2),
        _number(m, 11, 13), _number(m, 14, 16), _number(m, 17, 19),
    )  # fmt: skip
    if not bool(ok.all()):
        return None
    return seconds * 1000 + _number(m, 20, 23), offsets


def tick_time(text: str) -> tuple[int, int]:
    """Parse one Dukascopy tick time to (milliseconds, UTC offset seconds as written).

    Raises:
        ValueError: not an accepted form, or not a real calendar date-time.
    """
    m = _TICK_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"expected {TICK_TIME_FORMS}")
    d, mo, y, h, mi, s, ms = (int(g) for g in m.group(1, 2, 3, 4, 5, 6, 7))
    offset = 0
    if m.group(8):
        oh, om = int(m.group(9)), int(m.group(10))
        if om > 59:
            raise ValueError(f"UTC offset minutes {om} out of range 00..59")
        offset = (-1 if m.group(8) == "-" else 1) * (oh * 3600 + om * 60)
    try:
        moment = datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"not a calendar date-time ({exc})") from None
    return int(moment.timestamp()) * 1000 + ms, offset
