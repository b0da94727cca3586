"""Layout detection, MT5's "Export Bars" layout and the less common shapes of the other layouts.

The Export Bars files are written from real XAUUSD_M15.csv rows (no such file is shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_testkit import iso, real_lines, write

from trademaestro.core.errors import DataError
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import load_bars

EXPORT_HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"


@pytest.fixture(scope="session")
def gold(shared_data: Path) -> tuple[list[str], np.ndarray]:
    """48 real rows of XAUUSD_M15.csv (half a day, 2024.03.20 06:30 → 18:15) and their bars."""
    path = shared_data / "XAUUSD_M15.csv"
    return real_lines(path, 48), load_bars(path).rates[:48]


def _export_rows(lines: list[str], *, seconds: bool) -> list[str]:
    """The same bars as MT5's Export Bars writes them: tab separated, <VOL> 0."""
    out = []
    for line in lines:
        stamp, o, h, lo, c, tick_volume, spread = line.split(",")
        day, clock = stamp.split(" ")
        clock = clock if seconds else clock[:5]
        out.append("\t".join([day, clock, o, h, lo, c, tick_volume, "0", spread]))
    return out


@pytest.mark.parametrize("seconds", [True, False])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_export_bars_layout(
    tmp_path: Path, gold: tuple[list[str], np.ndarray], seconds: bool, encoding: str
) -> None:
    lines, expected = gold
    path = tmp_path / "XAUUSD_M15_export.csv"
    text = "\r\n".join([EXPORT_HEADER, *_export_rows(lines, seconds=seconds)]) + "\r\n"
    path.write_bytes(text.encode(encoding))  # Python's utf-16 writes a BOM, as MT5 does
    loaded = load_bars(path)
    assert loaded.layout == "mt5_export"
    assert loaded.has_spread is True
    assert loaded.timeframe is Timeframe.M15
    np.testing.assert_array_equal(loaded.rates, expected)
    assert iso(loaded.rates["time"][0]) == "2024-03-20 06:30:00"
    assert iso(loaded.rates["time"][-1]) == "2024-03-20 18:15:00"


def test_export_bars_real_volume_and_errors(
    tmp_path: Path, gold: tuple[list[str], np.ndarray]
) -> None:
    rows = _export_rows(gold[0][:5], seconds=False)
    rows[1] = rows[1].replace("\t0\t", "\t17\t")  # <VOL> = real volume
    assert load_bars(write(tmp_path / "v.csv", EXPORT_HEADER, rows)).rates["real_volume"][1] == 17
    rows[3] = rows[3].replace("07:15", "7h15")
    with pytest.raises(DataError) as info:
        load_bars(write(tmp_path / "e.csv", EXPORT_HEADER, rows))
    assert info.value.line == 5
    assert "column '<DATE>' and '<TIME>' (1, 2): cannot read '2024.03.20 7h15'" in info.value.reason


def test_header_is_case_and_blank_insensitive(
    tmp_path: Path, gold: tuple[list[str], np.ndarray]
) -> None:
    lines, expected = gold
    path = write(tmp_path / "h.csv", " datetime , OPEN,High,low,CLOSE,tickvolume,SPREAD", lines)
    loaded = load_bars(path)
    assert loaded.layout == "mt5_csv"
    np.testing.assert_array_equal(loaded.rates, expected)


def test_ohlcv_with_unix_seconds_detected_from_content(
    tmp_path: Path, gold: tuple[list[str], np.ndarray]
) -> None:
    lines, expected = gold
    rows = [
        ",".join([str(int(t)), *line.split(",")[1:6]])
        for t, line in zip(expected["time"], lines, strict=True)
    ]
    loaded = load_bars(write(tmp_path / "u.csv", "time,open,high,low,close,volume", rows))
    assert loaded.layout == "ohlcv"
    assert loaded.has_spread is False
    np.testing.assert_array_equal(loaded.rates["time"], expected["time"])
    assert int(loaded.rates["spread"].max()) == 0


def test_mt5_rates_bad_unix_time_named(tmp_path: Path, shared_data: Path) -> None:
    header = "time,open,high,low,close,tick_volume,spread,real_volume"
    rows = real_lines(shared_data / "XAUUSD_M15_2024Q1.csv", 10)
    rows[6] = "17041e3," + rows[6].split(",", 1)[1]
    with pytest.raises(DataError) as info:
        load_bars(write(tmp_path / "q.csv", header, rows))
    assert info.value.line == 8
    assert info.value.reason == "column 'time' (1): cannot read '17041e3' as unix seconds"


def test_backtesting_layout_with_named_index(tmp_path: Path, shared_data: Path) -> None:
    rows = real_lines(shared_data / "EURUSD_H1.csv", 24)
    loaded = load_bars(write(tmp_path / "b.csv", "Datetime,Open,High,Low,Close,Volume", rows))
    assert loaded.layout == "backtesting"
    assert loaded.timeframe is Timeframe.H1
    assert loaded.rates.size == 24


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("99999999999999999999999999", "unix seconds 99999999999999999999999999 are after"),
        ("253402300800", "unix seconds 253402300800 are after 9999-12-31"),
    ],
)
def test_mt5_rates_out_of_range_time(
    tmp_path: Path, shared_data: Path, value: str, expected: str
) -> None:
    header = "time,open,high,low,close,tick_volume,spread,real_volume"
    rows = real_lines(shared_data / "XAUUSD_M15_2024Q1.csv", 5)
    rows[4] = value + "," + rows[4].split(",", 1)[1]
    with pytest.raises(DataError) as info:
        load_bars(write(tmp_path / "q.csv", header, rows))
    assert info.value.line == 6
    assert expected in info.value.reason


def test_year_zero_is_rejected_on_both_paths(
    tmp_path: Path, gold: tuple[list[str], np.ndarray]
) -> None:
    lines = ["0000" + line[4:] for line in gold[0][:3]]
    header = "DateTime,Open,High,Low,Close,TickVolume,Spread"
    with pytest.raises(DataError) as info:
        load_bars(write(tmp_path / "y.csv", header, lines))
    assert info.value.line == 2
    assert "not a calendar date-time" in info.value.reason
