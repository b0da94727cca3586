"""load_ticks on the real Dukascopy files and on small bad copies of their rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from data_testkit import real_lines, write

from trademaestro.core.bars import TICKS_DTYPE
from trademaestro.core.errors import DataError
from trademaestro.data import LoadedTicks, load_ticks

HEADER = "Local time\tAsk\tBid\tAskVolume\tBidVolume"
FILES = {"EURUSD_ticks_2010-01-01.csv": 28_432, "GBPUSD_ticks_2010-01-01.csv": 57_334}


@pytest.fixture(scope="session")
def real_ticks(shared_data: Path) -> dict[str, LoadedTicks]:
    return {name: load_ticks(shared_data / name) for name in FILES}


@pytest.fixture(scope="session")
def euro_rows(shared_data: Path) -> list[str]:
    return real_lines(shared_data / "EURUSD_ticks_2010-01-01.csv", 20)


def _msc(text: str) -> int:
    """``01.01.2010 00:00:07.534`` as milliseconds, wall clock read as UTC."""
    moment = datetime.strptime(text, "%d.%m.%Y %H:%M:%S.%f").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000 + 0.5)


def test_eurusd_first_and_last_ticks(real_ticks: dict[str, LoadedTicks]) -> None:
    loaded = real_ticks["EURUSD_ticks_2010-01-01.csv"]
    ticks = loaded.ticks
    assert ticks.dtype == TICKS_DTYPE
    assert ticks.size == 28_432
    assert loaded.utc_offset_seconds == 10_800  # GMT+0300
    assert (loaded.skipped, loaded.skipped_lines) == (0, ())
    # 01.01.2010 00:00:07.534 GMT+0300	1.43156	1.43144	2.5	2.3
    first = ticks[0]
    assert int(first["time_msc"]) == _msc("01.01.2010 00:00:07.534") == 1_262_304_007_534
    assert int(first["time"]) == 1_262_304_007
    assert (float(first["ask"]), float(first["bid"])) == pytest.approx((1.43156, 1.43144))
    assert (float(first["last"]), int(first["volume"]), float(first["volume_real"])) == (0, 0, 0)
    assert (loaded.ask_volume[0], loaded.bid_volume[0]) == pytest.approx((2.5, 2.3))
    # 01.01.2010 23:59:56.060 GMT+0300	1.43364	1.43352	2.6	1.4
    last = ticks[-1]
    assert int(last["time_msc"]) == _msc("01.01.2010 23:59:56.060")
    assert (float(last["ask"]), float(last["bid"])) == pytest.approx((1.43364, 1.43352))
    assert (loaded.ask_volume[-1], loaded.bid_volume[-1]) == pytest.approx((2.6, 1.4))
    # flags of the first five rows, by hand: first 6; both moved 6; bid only 2; both 6; ask only 4
    assert ticks["flags"][:5].tolist() == [6, 6, 2, 6, 4]


def test_gbpusd_counts(real_ticks: dict[str, LoadedTicks]) -> None:
    loaded = real_ticks["GBPUSD_ticks_2010-01-01.csv"]
    assert loaded.ticks.size == 57_334
    assert loaded.utc_offset_seconds == 10_800
    # 01.01.2010 23:59:59.917 GMT+0300	1.61693	1.61667	1.6	2.5
    assert int(loaded.ticks["time_msc"][-1]) == _msc("01.01.2010 23:59:59.917")
    assert float(loaded.ticks["bid"][-1]) == pytest.approx(1.61667)


@pytest.mark.parametrize("name", list(FILES))
def test_every_tick_matches_stdlib_oracle(
    name: str, shared_data: Path, real_ticks: dict[str, LoadedTicks]
) -> None:
    lines = (shared_data / name).read_text().splitlines()[1:]
    assert len(lines) == FILES[name]
    msc, flags = [], []
    prev: tuple[Decimal, Decimal] | None = None
    for line in lines:
        stamp, ask, bid, _, _ = line.split("\t")
        assert stamp.endswith(" GMT+0300")
        msc.append(_msc(stamp[:-9]))
        quote = (Decimal(bid), Decimal(ask))
        if prev is None:
            flags.append(6)
        else:
            flags.append((2 if quote[0] != prev[0] else 0) | (4 if quote[1] != prev[1] else 0))
        prev = quote
    ticks = real_ticks[name].ticks
    np.testing.assert_array_equal(ticks["time_msc"], np.array(msc))
    np.testing.assert_array_equal(ticks["flags"], np.array(flags))
    assert bool((ticks["bid"] <= ticks["ask"]).all())


def _error(path: Path) -> DataError:
    with pytest.raises(DataError) as info:
        load_ticks(path)
    return info.value


def test_crossed_quote(tmp_path: Path, euro_rows: list[str]) -> None:
    rows = list(euro_rows)
    stamp, ask, bid, av, bv = rows[6].split("\t")
    rows[6] = "\t".join([stamp, bid, ask, av, bv])  # line 8: ask and bid swapped
    error = _error(write(tmp_path / "x.csv", HEADER, rows))
    assert error.line == 8
    assert error.reason.startswith("crossed quote: bid ")
    loaded = load_ticks(tmp_path / "x.csv", skip_bad_rows=True)
    assert (loaded.skipped, loaded.skipped_lines, loaded.ticks.size) == (1, (8,), 19)


def test_decreasing_time_but_equal_allowed(tmp_path: Path, euro_rows: list[str]) -> None:
    rows = list(euro_rows)
    rows.insert(4, rows[3])  # equal timestamp: fine for ticks
    loaded = load_ticks(write(tmp_path / "eq.csv", HEADER, rows))
    assert loaded.ticks.size == 21
    assert int(loaded.ticks["flags"][4]) == 0  # nothing moved
    rows.insert(10, rows[2])  # line 12 earlier than line 11
    error = _error(write(tmp_path / "dec.csv", HEADER, rows))
    assert error.line == 12
    assert error.reason.startswith("decreasing timestamp 2010-01-01 00:00:10.392 is earlier than")


def test_unparsable_and_columns(tmp_path: Path, euro_rows: list[str]) -> None:
    rows = list(euro_rows)
    rows[2] = rows[2].replace("01.01.2010", "2010-01-01")
    error = _error(write(tmp_path / "t.csv", HEADER, rows))
    assert error.line == 4
    assert "column 'Local time' (1): cannot read '2010-01-01 00:00:10.392 GMT+0300'" in error.reason
    rows = list(euro_rows)
    rows[5] = rows[5].replace("\t", "\t?", 1)
    error = _error(write(tmp_path / "p.csv", HEADER, rows))
    assert (error.line, error.reason) == (7, "column 'Ask' (2): cannot read '?1.43161' as a number")
    rows = list(euro_rows)
    rows[9] = rows[9].rsplit("\t", 1)[0]
    assert _error(write(tmp_path / "c.csv", HEADER, rows)).line == 11


def test_offset_must_not_change(tmp_path: Path, euro_rows: list[str]) -> None:
    rows = list(euro_rows)
    rows[12] = rows[12].replace("GMT+0300", "GMT+0200")
    error = _error(write(tmp_path / "o.csv", HEADER, rows))
    assert error.line == 14
    assert "UTC offset 7200 s differs from 10800 s on line 2" in error.reason


def test_gmt_time_variant_and_unknown_header(tmp_path: Path, euro_rows: list[str]) -> None:
    rows = [r.replace(" GMT+0300", "").replace("\t", ",") for r in euro_rows]
    loaded = load_ticks(write(tmp_path / "g.csv", "Gmt time,Ask,Bid,AskVolume,BidVolume", rows))
    assert loaded.utc_offset_seconds == 0
    assert loaded.ticks.size == 20
    error = _error(write(tmp_path / "u.csv", "time\tbid\task", euro_rows))
    assert error.line == 1
    assert "unknown tick layout: header found 'time\\tbid\\task'" in error.reason
