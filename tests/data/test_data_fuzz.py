"""Mutated real files: the loaders never crash with anything but DataError, never keep a bad
bar, account for every row, and the vectorised path agrees with the exact row-by-row path."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from data_testkit import real_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trademaestro.core.errors import DataError
from trademaestro.data import load_bars, load_ticks, loaders
from trademaestro.data._text import read_lines
from trademaestro.data.layouts import detect_layout

SOURCES = {
    "XAUUSD_M15.csv": "DateTime,Open,High,Low,Close,TickVolume,Spread",
    "XAUUSD_M15_2024Q1.csv": "time,open,high,low,close,tick_volume,spread,real_volume",
    "USDJPY_M15.csv": "time,open,high,low,close,volume",
}
ALPHABET = "0123456789.,-: \t\nTxe+"


@pytest.fixture(scope="session")
def seed_rows(shared_data: Path) -> dict[str, list[str]]:
    rows = {name: real_lines(shared_data / name, 12) for name in SOURCES}
    rows["ticks"] = real_lines(shared_data / "EURUSD_ticks_2010-01-01.csv", 12)
    return rows


@st.composite
def mutated(draw: st.DrawFn, rows: list[str]) -> str:
    lines = list(rows)
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        kind = draw(st.sampled_from(["char", "swap", "dup", "drop", "trim", "empty"]))
        if kind == "char" and line:
            j = draw(st.integers(0, len(line) - 1))
            line = line[:j] + draw(st.sampled_from(ALPHABET)) + line[j + 1 :]
        elif kind == "swap" and i + 1 < len(lines):
            lines[i + 1], line = line, lines[i + 1]
        elif kind == "dup":
            lines.insert(i, line)
        elif kind == "drop" and len(lines) > 1:
            lines.pop(i)
            continue
        elif kind == "trim":
            line = line[: draw(st.integers(0, len(line)))]
        elif kind == "empty":
            line = ""
        lines[i] = line
    return "\n".join(lines) + "\n"


def _check_bars(path: Path) -> None:
    try:
        strict = load_bars(path)
    except DataError as exc:
        assert exc.line is None or exc.line >= 1
        strict = None
    try:
        lenient = load_bars(path, skip_bad_rows=True)
    except DataError as exc:
        assert "no usable rows" in exc.reason or exc.line == 1
        return
    rates = lenient.rates
    assert bool((np.diff(rates["time"]) > 0).all())
    assert bool((rates["high"] >= np.maximum(rates["open"], rates["close"])).all())
    assert bool((rates["low"] <= np.minimum(rates["open"], rates["close"])).all())
    assert bool((rates["low"] > 0).all())
    text = read_lines(path, lenient=True)
    assert rates.size + lenient.skipped == len(text.rows)  # every row accounted for
    if strict is not None:
        assert lenient.skipped == 0
        np.testing.assert_array_equal(strict.rates, rates)
        layout = detect_layout(text.header, text.path, text.header_line)
        names = [n.strip() for n in text.header.split(layout.separator)]
        fields = [r.split(layout.separator) for r in text.rows]
        unix = layout.name == "mt5_rates"
        exact, _ = loaders._exact(text, fields, layout, names, unix, False)
        np.testing.assert_array_equal(exact, strict.rates)


@pytest.mark.parametrize("name", list(SOURCES))
def test_mutated_bar_files(
    name: str, seed_rows: dict[str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")

    @settings(
        max_examples=120,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(mutated(seed_rows[name]))
    def run(body: str) -> None:
        path = folder / name
        path.write_text(SOURCES[name] + "\n" + body)
        _check_bars(path)

    run()


def test_mutated_tick_files(
    seed_rows: dict[str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("fuzz_ticks")
    header = "Local time\tAsk\tBid\tAskVolume\tBidVolume"

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(mutated(seed_rows["ticks"]))
    def run(body: str) -> None:
        path = folder / "ticks.csv"
        path.write_text(header + "\n" + body)
        try:
            strict = load_ticks(path)
        except DataError:
            strict = None
        try:
            lenient = load_ticks(path, skip_bad_rows=True)
        except DataError as exc:
            assert "no usable rows" in exc.reason
            return
        ticks = lenient.ticks
        assert bool((np.diff(ticks["time_msc"]) >= 0).all())
        assert bool((ticks["bid"] <= ticks["ask"]).all())
        assert bool((ticks["bid"] > 0).all())
        assert ticks.size + lenient.skipped == len(read_lines(path).rows)
        if strict is not None:
            np.testing.assert_array_equal(strict.ticks, ticks)

    run()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "x.csv"
    path.write_bytes(raw)
    for skip in (False, True):
        for load in (load_bars, load_ticks):
            with contextlib.suppress(DataError):
                load(path, skip_bad_rows=skip)
