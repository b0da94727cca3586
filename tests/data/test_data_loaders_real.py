"""load_bars on every real bar file of the shared data and on backtesting.py's sample.

Expected values were read from the files with ``head -2`` / ``tail -1``; an independent
stdlib oracle (csv + datetime.strptime) re-reads every row of every file.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from data_testkit import iso

from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.errors import DataError
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import LoadedBars, load_bars, loaders, resolve_data_path
from trademaestro.data._text import read_lines
from trademaestro.data.layouts import detect_layout

# file: rows, layout, timeframe, has_spread,
#       first (time, o, h, l, c, tick_volume, spread), last (same)
EXPECTED: dict[str, tuple[Any, ...]] = {
    "XAUUSD_M15.csv": (
        47_165, "mt5_csv", Timeframe.M15, True,
        ("2024-03-20 06:30:00", 2158.99, 2159.15, 2158.60, 2158.60, 208, 6),
        ("2026-03-20 06:15:00", 4719.02, 4722.35, 4718.35, 4720.84, 1949, 4),
    ),
    "XAUUSD_H1.csv": (
        58_958, "mt5_csv", Timeframe.H1, True,
        ("2016-03-21 01:00:00", 1254.55, 1254.55, 1252.50, 1253.09, 3471, 24),
        ("2026-03-20 07:00:00", 4721.59, 4723.72, 4710.50, 4720.42, 7301, 4),
    ),
    "XAUUSD_M15_2024Q1.csv": (
        5_864, "mt5_rates", Timeframe.M15, True,
        ("2024-01-02 01:00:00", 2064.98, 2066.54, 2063.82, 2065.7, 942, 20),
        ("2024-04-01 23:45:00", 2249.39, 2250.59, 2248.98, 2249.68, 227, 20),
    ),
    "EURUSD_M15.csv": (
        11_998, "ohlcv", Timeframe.M15, False,
        ("2026-01-15 14:15:00", 1.1633, 1.16347, 1.16318, 1.1634, 489, 0),
        ("2026-07-09 21:30:00", 1.14321, 1.14339, 1.14312, 1.14332, 1300, 0),
    ),
    "GBPUSD_M15.csv": (
        11_998, "ohlcv", Timeframe.M15, False,
        ("2026-01-15 12:45:00", 1.34243, 1.3425, 1.34158, 1.34198, 551, 0),
        ("2026-07-09 21:30:00", 1.34124, 1.34142, 1.34106, 1.34137, 2782, 0),
    ),
    "USDJPY_M15.csv": (
        11_998, "ohlcv", Timeframe.M15, False,
        ("2026-01-15 14:00:00", 158.569, 158.594, 158.537, 158.57, 368, 0),
        ("2026-07-09 21:30:00", 162.37, 162.375, 162.338, 162.341, 872, 0),
    ),
    "EURUSD_H1.csv": (
        9_998, "ohlcv", Timeframe.H1, False,
        ("2024-11-27 05:00:00", 1.04854, 1.04857, 1.04777, 1.04827, 1047, 0),
        ("2026-07-09 20:00:00", 1.14368, 1.14408, 1.14342, 1.14376, 7997, 0),
    ),
}  # fmt: skip


@pytest.fixture(scope="session")
def loaded_real(shared_data: Path) -> dict[str, LoadedBars]:
    return {name: load_bars(shared_data / name) for name in EXPECTED}


def _assert_bar(bar: np.void, expected: tuple[Any, ...]) -> None:
    stamp, o, h, lo, c, volume, spread = expected
    assert iso(bar["time"]) == stamp
    got = [float(bar[k]) for k in ("open", "high", "low", "close")]
    assert got == pytest.approx([o, h, lo, c], abs=1e-9)
    assert int(bar["tick_volume"]) == volume
    assert int(bar["spread"]) == spread
    assert int(bar["real_volume"]) == 0


@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_file_counts_layout_first_last(name: str, loaded_real: dict[str, LoadedBars]) -> None:
    rows, layout, timeframe, has_spread, first, last = EXPECTED[name]
    loaded = loaded_real[name]
    assert loaded.rates.dtype == RATES_DTYPE
    assert loaded.rates.size == rows
    assert loaded.layout == layout
    assert loaded.timeframe is timeframe
    assert loaded.has_spread is has_spread
    assert loaded.skipped == 0
    assert loaded.skipped_lines == ()
    assert loaded.path.endswith(name)
    _assert_bar(loaded.rates[0], first)
    _assert_bar(loaded.rates[-1], last)
    assert bool((np.diff(loaded.rates["time"]) > 0).all())


def _oracle(path: Path) -> dict[str, np.ndarray]:
    """Every row re-read with the standard library only."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = [h.lower() for h in next(reader)]
        rows = list(reader)
    times = []
    for row in rows:
        text = row[0]
        if text.isdigit():
            times.append(int(text))
        else:
            fmt = "%Y.%m.%d %H:%M:%S" if "." in text[:5] else "%Y-%m-%d %H:%M:%S"
            times.append(int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()))
    out = {"time": np.array(times, dtype=np.int64)}
    for i, key in enumerate(("open", "high", "low", "close", "tick_volume"), start=1):
        out[key] = np.array([float(r[i]) for r in rows])
    out["spread"] = np.array(
        [int(r[6]) for r in rows] if "spread" in header else [0] * len(rows), dtype=np.int64
    )
    return out


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_row_matches_stdlib_oracle(
    name: str, shared_data: Path, loaded_real: dict[str, LoadedBars]
) -> None:
    rates = loaded_real[name].rates
    oracle = _oracle(shared_data / name)
    np.testing.assert_array_equal(rates["time"], oracle["time"])
    np.testing.assert_array_equal(rates["spread"], oracle["spread"])
    np.testing.assert_array_equal(rates["tick_volume"], oracle["tick_volume"].astype(np.uint64))
    for key in ("open", "high", "low", "close"):
        np.testing.assert_allclose(rates[key], oracle[key], rtol=0, atol=1e-9)


def test_backtesting_sample_read_in_place() -> None:
    path = resolve_data_path("sample:EURUSD_H1")
    assert path.parts[-3:] == ("backtesting", "test", "EURUSD.csv")
    loaded = load_bars(path)
    assert loaded.layout == "backtesting"
    assert loaded.rates.size == 5_000
    assert loaded.timeframe is Timeframe.H1
    assert loaded.has_spread is False
    # head -2 / tail -1 of backtesting/test/EURUSD.csv
    _assert_bar(loaded.rates[0], ("2017-04-19 09:00:00", 1.0716, 1.0722, 1.07083, 1.07219, 1413, 0))
    _assert_bar(
        loaded.rates[-1], ("2018-02-07 15:00:00", 1.23427, 1.23444, 1.22904, 1.22904, 6143, 0)
    )


def test_backtesting_daily_sample_date_only_index() -> None:
    loaded = load_bars(resolve_data_path("sample:GOOG_D1"))
    assert loaded.rates.size == 2_148
    assert loaded.timeframe is Timeframe.D1
    # "2004-08-19,100,104.06,95.96,100.34,22351900": a date alone is midnight
    _assert_bar(loaded.rates[0], ("2004-08-19 00:00:00", 100.0, 104.06, 95.96, 100.34, 22351900, 0))


def test_backtesting_fractional_volume_is_named() -> None:
    """backtesting.py's BTCUSD.csv has fractional volumes: tick volume must be whole."""
    btc = resolve_data_path("sample:EURUSD_H1").with_name("BTCUSD.csv")
    with pytest.raises(DataError) as info:
        load_bars(btc)
    assert info.value.line == 2
    assert "'Volume' (6)" in str(info.value)
    assert "'2012.25343589'" in str(info.value)


@pytest.mark.parametrize("name", ["XAUUSD_H1.csv", "XAUUSD_M15_2024Q1.csv", "EURUSD_M15.csv"])
def test_fast_and_exact_paths_agree(
    name: str, shared_data: Path, loaded_real: dict[str, LoadedBars]
) -> None:
    """The vectorised path and the row-by-row path give identical bars on real files."""
    text = read_lines(shared_data / name)
    layout = detect_layout(text.header, text.path, text.header_line)
    names = [n.strip() for n in text.header.split(layout.separator)]
    fields = [row.split(layout.separator) for row in text.rows]
    unix = layout.name == "mt5_rates"
    exact, skipped = loaders._exact(text, fields, layout, names, unix, False)
    assert skipped == []
    np.testing.assert_array_equal(exact, loaded_real[name].rates)


def test_real_files_take_the_fast_path(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> None:
        raise AssertionError("exact path used on a clean file")

    monkeypatch.setattr(loaders, "_exact", boom)
    for name in EXPECTED:
        assert load_bars(shared_data / name).rates.size == EXPECTED[name][0]
    assert load_bars(resolve_data_path("sample:EURUSD_H1")).rates.size == 5_000
