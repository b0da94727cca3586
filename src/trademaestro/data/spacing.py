"""Bar spacing: which timeframe a series of bar open times was sampled at."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from trademaestro.core.timeframes import Timeframe

_BY_SECONDS = {tf.seconds: tf for tf in Timeframe if tf is not Timeframe.MN1}
_MONTH_DAYS = range(28, 32)


def timeframe_of_seconds(seconds: int) -> Timeframe | None:
    """The timeframe whose bars are ``seconds`` apart (28 to 31 days -> MN1), or None."""
    if seconds in _BY_SECONDS:
        return _BY_SECONDS[seconds]
    if seconds % 86400 == 0 and seconds // 86400 in _MONTH_DAYS:
        return Timeframe.MN1
    return None


def modal_spacing(times: npt.NDArray[np.int64]) -> int | None:
    """The most common positive gap in seconds between consecutive bar open times (ties go to
    the smaller gap), or None with fewer than two bars."""
    gaps = np.diff(np.asarray(times, dtype=np.int64))
    gaps = gaps[gaps > 0]
    if gaps.size == 0:
        return None
    values, counts = np.unique(gaps, return_counts=True)
    return int(values[int(np.argmax(counts))])


def infer_timeframe(times: npt.NDArray[np.int64]) -> Timeframe | None:
    """The timeframe of bars opened at ``times`` (server-time seconds, ascending), inferred from
    the most common spacing; None when there are fewer than two bars or the spacing is no MT5
    timeframe. Monthly bars (28-31 days apart) give MN1."""
    gap = modal_spacing(times)
    return None if gap is None else timeframe_of_seconds(gap)
