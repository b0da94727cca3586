"""StreamingResampler: any chunking of real bars gives the batch resample, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.core.bars import RATES_DTYPE
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import bar_close_times, resample
from trademaestro.indicators.mtf import StreamingResampler, check_higher_timeframe

TARGETS = [Timeframe.M30, Timeframe.H1, Timeframe.H4, Timeframe.D1, Timeframe.W1, Timeframe.MN1]


def _run(rates: np.ndarray, target: Timeframe, sizes: list[int]) -> tuple[np.ndarray, list[int]]:
    resampler = StreamingResampler(Timeframe.M15, target)
    done: list[np.ndarray] = []
    at_global: list[int] = []
    start = 0
    for size in [*sizes, rates.size]:
        chunk = rates[start : start + size]
        bars, at = resampler.push(chunk, bar_close_times(chunk, Timeframe.M15))
        done.append(bars)
        at_global.extend((at + start).tolist())
        start += chunk.size
        if start >= rates.size:
            break
    pending = resampler.pending
    parts = [*done, pending] if pending is not None else done
    return np.concatenate(parts), at_global


def test_random_chunkings_equal_the_batch_resample(gold_m15) -> None:
    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(st.sampled_from(TARGETS), st.integers(0, gold_m15.size - 3000),
           st.integers(1, 3000), st.lists(st.integers(1, 400), max_size=12))
    def check(target, begin, length, sizes) -> None:
        rates = gold_m15[begin : begin + length]
        got, at = _run(rates, target, sizes)
        assert got.dtype == RATES_DTYPE
        np.testing.assert_array_equal(got, resample(rates, target))
        # each completed bar is revealed by the first M15 bar closing at or after its end
        ends = bar_close_times(got[: len(at)], target)
        closes = rates["time"] + 900
        np.testing.assert_array_equal(at, np.searchsorted(closes, ends, side="left"))

    check()


def test_pending_and_empty_push(gold_m15) -> None:
    resampler = StreamingResampler(Timeframe.M15, Timeframe.H1)
    bars, at = resampler.push(gold_m15[:0], np.zeros(0, dtype=np.int64))
    assert bars.size == 0 and at.size == 0 and resampler.pending is None
    first = gold_m15[:1]  # 2024-03-20 06:30, closes 06:45: the 06:00 hour is still forming
    bars, _ = resampler.push(first, bar_close_times(first, Timeframe.M15))
    pending = resampler.pending
    assert bars.size == 0 and pending is not None
    assert pending["time"][0] == gold_m15["time"][0] - 1800 and pending["open"][0] == 2158.99
    second = gold_m15[1:2]  # 06:45 closes 07:00: the 06:00 bar is complete
    bars, at = resampler.push(second, bar_close_times(second, Timeframe.M15))
    assert at.tolist() == [0] and resampler.pending is None
    assert (bars["open"][0], bars["close"][0]) == (2158.99, gold_m15["close"][1])


@pytest.mark.parametrize(
    ("primary", "higher", "message"),
    [
        (Timeframe.H1, Timeframe.M30, "lower than the primary H1"),
        (Timeframe.M20, Timeframe.M30, "not a whole multiple of the primary M20"),
        (Timeframe.H3, Timeframe.H4, "not a whole multiple of the primary H3"),
        (Timeframe.W1, Timeframe.MN1, "not a whole multiple of the primary W1"),
        (Timeframe.MN1, Timeframe.MN1, "not a whole multiple of the primary MN1"),
    ],
)
def test_incompatible_timeframes(primary, higher, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_higher_timeframe(primary, higher)
    with pytest.raises(ValueError, match=message):
        StreamingResampler(primary, higher)


def test_compatible_timeframes() -> None:
    for primary, higher in [(Timeframe.M15, Timeframe.MN1), (Timeframe.D1, Timeframe.W1),
                            (Timeframe.M20, Timeframe.H1), (Timeframe.H4, Timeframe.D1),
                            (Timeframe.H1, Timeframe.H1)]:
        check_higher_timeframe(primary, higher)
