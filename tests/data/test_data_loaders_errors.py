"""Bad bar files: each error names the exact 1-based line; skip_bad_rows reports what it skipped.

Files are small copies of real XAUUSD_M15.csv rows written into tmp_path, with one defect each.
Line 1 is the header, so data row k (1-based) is on line k + 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_testkit import real_lines, write

from trademaestro.core.errors import DataError
from trademaestro.data import load_bars

HEADER = "DateTime,Open,High,Low,Close,TickVolume,Spread"


@pytest.fixture(scope="session")
def gold_rows(shared_data: Path) -> list[str]:
    """The first 30 real rows of XAUUSD_M15.csv (2024.03.20 06:30:00 onwards)."""
    return real_lines(shared_data / "XAUUSD_M15.csv", 30)


def _edit(rows: list[str], index: int, column: int, value: str) -> list[str]:
    out = list(rows)
    parts = out[index].split(",")
    parts[column] = value
    out[index] = ",".join(parts)
    return out


def _error(path: Path) -> DataError:
    with pytest.raises(DataError) as info:
        load_bars(path)
    return info.value


def test_clean_copy_loads(tmp_path: Path, gold_rows: list[str]) -> None:
    loaded = load_bars(write(tmp_path / "ok.csv", HEADER, gold_rows))
    assert loaded.rates.size == 30
    assert loaded.skipped == 0


@pytest.mark.parametrize(
    ("index", "column", "value", "expected"),
    [
        (4, 2, "2158.x3", "column 'High' (3): cannot read '2158.x3' as a number"),
        (0, 0, "2024/03/20 06:30:00", "column 'DateTime' (1): cannot read '2024/03/20 06:30:00'"),
        (7, 0, "2024.02.30 08:15:00", "not a calendar date-time"),
        (9, 0, "2024.03.20 24:00:00", "cannot read '2024.03.20 24:00:00' as a date-time"),
        (12, 4, "", "column 'Close' (5): cannot read '' as a number"),
        (3, 5, "-5", "column 'TickVolume' (6): found '-5'; allowed: a whole number"),
        (3, 6, "2.5", "column 'Spread' (7): found '2.5'; allowed: a whole number"),
        (5, 1, "0", "open price 0.0 is not a positive finite number"),
        (5, 3, "-2157.2", "low price -2157.2 is not a positive finite number"),
        (6, 4, "nan", "close price nan is not a positive finite number"),
        (6, 2, "inf", "high price inf is not a positive finite number"),
    ],
)
def test_unparsable_or_invalid_value(
    tmp_path: Path, gold_rows: list[str], index: int, column: int, value: str, expected: str
) -> None:
    path = write(tmp_path / "bad.csv", HEADER, _edit(gold_rows, index, column, value))
    error = _error(path)
    assert error.line == index + 2
    assert error.path == str(path)
    assert expected in error.reason
    assert str(error).startswith(f"{path}:{index + 2}: ")


def test_ohlc_violations(tmp_path: Path, gold_rows: list[str]) -> None:
    # row 3 (line 4) is "2024.03.20 07:00:00,2156.85000,2157.72000,2156.73000,2157.27000,378,6"
    error = _error(write(tmp_path / "h.csv", HEADER, _edit(gold_rows, 2, 2, "2157.00")))
    assert (error.line, error.reason) == (
        4,
        "high 2157.0 is below max(open 2156.85, close 2157.27)",
    )
    error = _error(write(tmp_path / "l.csv", HEADER, _edit(gold_rows, 2, 3, "2157.00")))
    assert (error.line, error.reason) == (4, "low 2157.0 is above min(open 2156.85, close 2157.27)")
    rows = _edit(_edit(gold_rows, 2, 2, "2156.00"), 2, 3, "2158.00")
    error = _error(write(tmp_path / "hl.csv", HEADER, rows))
    assert (error.line, error.reason) == (4, "high 2156.0 is below low 2158.0")


def test_wrong_column_count(tmp_path: Path, gold_rows: list[str]) -> None:
    rows = list(gold_rows)
    rows[10] = rows[10].rsplit(",", 1)[0]  # spread missing
    error = _error(write(tmp_path / "cols.csv", HEADER, rows))
    assert error.line == 12
    assert error.reason.startswith("found 6 columns, expected 7 (DateTime,Open,High,")
    rows = list(gold_rows)
    rows[20] += ",99"
    assert _error(write(tmp_path / "cols2.csv", HEADER, rows)).line == 22


def test_duplicate_and_decreasing_timestamps(tmp_path: Path, gold_rows: list[str]) -> None:
    rows = list(gold_rows)
    rows.insert(6, rows[5])  # the repeat lands on line 8, the original is on line 7
    error = _error(write(tmp_path / "dup.csv", HEADER, rows))
    assert (error.line, error.reason) == (
        8,
        "duplicate timestamp 2024-03-20 07:45:00 (already on line 7)",
    )
    rows = list(gold_rows)
    rows[8], rows[9] = rows[9], rows[8]  # 08:45 on line 10, then 08:30 on line 11
    error = _error(write(tmp_path / "dec.csv", HEADER, rows))
    assert error.line == 11
    assert error.reason == (
        "decreasing timestamp 2024-03-20 08:30:00 is earlier than 2024-03-20 08:45:00 on line "
        "10; rows must be in ascending time order"
    )


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    error = _error(empty)
    assert error.line is None
    assert "empty file" in error.reason
    blank = tmp_path / "blank.csv"
    blank.write_text("\n  \n\r\n")
    assert "empty file" in _error(blank).reason
    header_only = write(tmp_path / "header.csv", HEADER, [])
    error = _error(header_only)
    assert error.line is None
    assert "header only, no data rows" in error.reason


def test_unknown_layout_lists_allowed(tmp_path: Path, gold_rows: list[str]) -> None:
    path = write(tmp_path / "x.csv", "Date;Open;High;Low;Close", gold_rows)
    error = _error(path)
    assert error.line == 1
    assert "header found 'Date;Open;High;Low;Close'" in error.reason
    for name in ("mt5_csv", "mt5_rates", "ohlcv", "mt5_export", "backtesting"):
        assert f"{name}: " in error.reason


def test_missing_file_and_directory(tmp_path: Path) -> None:
    error = _error(tmp_path / "nope.csv")
    assert (error.path, error.line, error.reason) == (
        str(tmp_path / "nope.csv"),
        None,
        "file not found",
    )
    assert "is a directory" in _error(tmp_path).reason


def test_blank_lines_and_crlf_keep_true_line_numbers(tmp_path: Path, gold_rows: list[str]) -> None:
    rows = _edit(gold_rows, 3, 2, "oops")
    rows.insert(1, "")
    rows.insert(1, "   ")  # two blank lines after data row 1: row 4 is now on line 7
    path = write(tmp_path / "blank.csv", HEADER, rows, newline="\r\n")
    error = _error(path)
    assert error.line == 7
    assert "'oops'" in error.reason
    loaded = load_bars(write(tmp_path / "ok.csv", HEADER, ["", *gold_rows, ""], newline="\r\n"))
    assert loaded.rates.size == 30


def test_undecodable_bytes_named_by_line(tmp_path: Path, gold_rows: list[str]) -> None:
    path = write(tmp_path / "bin.csv", HEADER, gold_rows)
    raw = path.read_bytes().split(b"\n")
    raw[5] = raw[5].replace(b"2157", b"21\xff7", 1)  # line 6
    path.write_bytes(b"\n".join(raw))
    error = _error(path)
    assert error.line == 6
    assert "undecodable byte 0xff" in error.reason
    loaded = load_bars(path, skip_bad_rows=True)
    assert (loaded.skipped, loaded.skipped_lines) == (1, (6,))


def test_error_deep_in_the_real_file(tmp_path: Path, shared_data: Path) -> None:
    """The vectorised path finds an anomaly; the exact path names its line in 47k rows."""
    lines = (shared_data / "XAUUSD_M15.csv").read_text().splitlines()
    lines[29_999] = lines[29_999].replace(",", ",,", 1)  # line 30,000: an empty Open column
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    error = _error(path)
    assert error.line == 30_000
    assert error.reason.startswith("found 8 columns, expected 7")
    loaded = load_bars(path, skip_bad_rows=True)
    assert (loaded.rates.size, loaded.skipped, loaded.skipped_lines) == (47_164, 1, (30_000,))


def test_skip_bad_rows_reports_every_skip(tmp_path: Path, gold_rows: list[str]) -> None:
    rows = _edit(gold_rows, 2, 2, "abc")  # line 4: unparsable
    rows = _edit(rows, 5, 3, "9999")  # line 7: low above open/close
    rows[10] = rows[10] + ",1"  # line 12: 8 columns
    rows.insert(15, rows[14])  # line 17: duplicate of line 16
    rows.insert(20, rows[3])  # line 22: earlier than line 21
    path = write(tmp_path / "mixed.csv", HEADER, rows)
    assert _error(path).line == 4
    loaded = load_bars(path, skip_bad_rows=True)
    assert loaded.skipped == 5
    assert loaded.skipped_lines == (4, 7, 12, 17, 22)
    assert loaded.rates.size == 30 - 3
    assert bool((np.diff(loaded.rates["time"]) > 0).all())
    kept = {r.split(",")[0] for i, r in enumerate(gold_rows) if i not in (2, 5, 10)}
    assert len(kept) == loaded.rates.size


def test_skipped_lines_capped_at_20_count_complete(tmp_path: Path, gold_rows: list[str]) -> None:
    rows = list(gold_rows)
    for i in range(25):
        rows = _edit(rows, i, 1, "bad")
    loaded = load_bars(write(tmp_path / "many.csv", HEADER, rows), skip_bad_rows=True)
    assert loaded.skipped == 25
    assert loaded.skipped_lines == tuple(range(2, 22))
    assert loaded.rates.size == 5


def test_all_rows_bad_is_an_error_even_when_skipping(tmp_path: Path, gold_rows: list[str]) -> None:
    rows = [r.replace(",", ";") for r in gold_rows[:3]]
    with pytest.raises(DataError) as info:
        load_bars(write(tmp_path / "all.csv", HEADER, rows), skip_bad_rows=True)
    assert "no usable rows: all 3 rows are bad" in info.value.reason
