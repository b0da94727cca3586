"""Correlation filter on real EURUSD, GBPUSD and USDJPY M15 bars (same weeks); the expected values
are computed independently (dict alignment + numpy.corrcoef)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.filters.helpers import EUR, ctx, st
from trademaestro.brokers.emulator import MT5Emulator
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.core.timeframes import Timeframe
from trademaestro.filters import CorrelationFilter, EntryContext, RatesBarSource
from trademaestro.filters.correlation import TerminalBarSource, pearson

M15 = 900


def expected_corr(fx: dict[str, NDArray[np.void]], a: str, b: str, t: int, days: int) -> float:
    """Closed bars in [t - days, t), aligned through dicts; simple returns; numpy.corrcoef."""
    def closes(sym: str) -> dict[int, float]:
        r = fx[sym]
        return {int(x): float(c) for x, c in zip(r["time"], r["close"], strict=True)
                if t - days * 86400 <= x and x + M15 <= t}
    ca, cb = closes(a), closes(b)
    common = sorted(ca.keys() & cb.keys())
    xa = np.array([ca[k] for k in common])
    xb = np.array([cb[k] for k in common])
    return float(np.corrcoef(xa[1:] / xa[:-1] - 1, xb[1:] / xb[:-1] - 1)[0, 1])


@pytest.fixture(scope="module")
def source(fx: dict[str, NDArray[np.void]]) -> RatesBarSource:
    return RatesBarSource(fx, M15)


def eur_ctx(t: int, *open_symbols: str) -> EntryContext:
    return ctx(t, symbol="EURUSD", spec=EUR, bid=1.1, ask=1.1001,
               open_symbols=frozenset(open_symbols))


def test_eurusd_gbpusd_above_threshold(fx: dict[str, NDArray[np.void]],
                                       source: RatesBarSource) -> None:
    t = st("2026-05-04 10:00:00")
    expected = expected_corr(fx, "EURUSD", "GBPUSD", t, 30)
    assert expected == pytest.approx(0.8660785, abs=1e-7)
    f = CorrelationFilter(threshold=0.8, lookback_days=30, bars=source)
    corr, _ = f.correlation("EURUSD", "GBPUSD", t)
    assert corr == pytest.approx(expected, abs=1e-12)
    verdict = f.check(eur_ctx(t, "GBPUSD", "EURUSD"))
    assert (verdict.name, verdict.allow) == ("correlation", False)
    assert verdict.reason == "corr with GBPUSD +0.866: |corr| > 0.8"
    assert f.check(eur_ctx(t, "GBPUSD", "EURUSD")) is verdict  # cached for the decision time
    assert CorrelationFilter(threshold=0.87, lookback_days=30, bars=source).check(
        eur_ctx(t, "GBPUSD")).allow


def test_negative_correlation_counts_by_absolute_value(fx: dict[str, NDArray[np.void]],
                                                       source: RatesBarSource) -> None:
    t = st("2026-03-02 12:00:00")
    expected = expected_corr(fx, "EURUSD", "USDJPY", t, 30)
    assert expected == pytest.approx(-0.5299673, abs=1e-7)
    low = CorrelationFilter(threshold=0.5, lookback_days=30, bars=source).check(
        eur_ctx(t, "USDJPY"))
    assert (low.allow, low.reason) == (False, "corr with USDJPY -0.530: |corr| > 0.5")
    both = CorrelationFilter(threshold=0.8, lookback_days=30, bars=source).check(
        eur_ctx(t, "USDJPY", "GBPUSD"))
    gbp = expected_corr(fx, "EURUSD", "GBPUSD", t, 30)
    assert both.allow
    assert both.reason == f"corr with GBPUSD {gbp:+.3f}; corr with USDJPY {expected:+.3f}"


def test_shorter_lookback_uses_fewer_bars(fx: dict[str, NDArray[np.void]],
                                          source: RatesBarSource) -> None:
    t = st("2026-05-04 10:00:00")
    f = CorrelationFilter(threshold=0.8, lookback_days=5, bars=source)
    corr, _ = f.correlation("GBPUSD", "USDJPY", t)
    assert corr == pytest.approx(expected_corr(fx, "GBPUSD", "USDJPY", t, 5), abs=1e-12)
    assert corr != pytest.approx(expected_corr(fx, "GBPUSD", "USDJPY", t, 30), abs=1e-3)


def test_missing_data_few_returns_and_no_source(fx: dict[str, NDArray[np.void]],
                                                source: RatesBarSource) -> None:
    f = CorrelationFilter(threshold=0.8, lookback_days=30, bars=source)
    t = st("2026-05-04 10:00:00")
    assert f.check(eur_ctx(t, "AUDUSD")).reason == "no data for AUDUSD"
    assert f.check(eur_ctx(t, "AUDUSD")).allow
    assert f.check(eur_ctx(t, "EURUSD")).reason == "no other open symbol"
    # Shortly after the files start: EURUSD 14:15, GBPUSD 12:45 on 2026-01-15.
    early = int(fx["EURUSD"]["time"][0]) + 10 * M15
    few = f.check(eur_ctx(early, "GBPUSD"))
    assert (few.allow, few.reason) == (True, "9 aligned returns with GBPUSD (< 20)")
    none = CorrelationFilter(threshold=0.8, lookback_days=30, bars=None).check(
        eur_ctx(t, "GBPUSD"))
    assert (none.allow, none.reason) == (True, "no bar source")


def test_rates_source_returns_closed_bars_only(fx: dict[str, NDArray[np.void]],
                                               source: RatesBarSource) -> None:
    t = st("2026-05-04 10:00:00")
    got = source.closes("EURUSD", t - 86400, t)
    assert got is not None
    times, closes = got
    assert int(times[-1]) == t - M15 and int(times[0]) >= t - 86400
    assert closes[-1] == fx["EURUSD"]["close"][np.searchsorted(fx["EURUSD"]["time"], t - M15)]
    inside = source.closes("EURUSD", t - 86400, t + 899)  # the 10:00 bar is still forming
    assert inside is not None and int(inside[0][-1]) == t - M15
    empty = source.closes("EURUSD", t, t)
    assert empty is not None and len(empty[0]) == 0


def test_pearson_matches_corrcoef_and_flat_series() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=200)
    y = 0.3 * x + rng.normal(size=200)
    assert pearson(x, y) == pytest.approx(float(np.corrcoef(x, y)[0, 1]), abs=1e-12)
    assert np.isnan(pearson(np.ones(50), y[:50]))


def test_terminal_source_reads_fresh_bars_from_the_terminal(
    fx: dict[str, NDArray[np.void]], source: RatesBarSource
) -> None:
    """Live mode: the bars come from the terminal at each decision, so they move on with it."""
    emu = MT5Emulator()
    for sym in ("EURUSD", "GBPUSD"):
        emu.replay.load_rates(sym, Timeframe.M15, fx[sym])
    adapter = MT5Adapter(emu)
    adapter.connect()
    terminal = TerminalBarSource(adapter.closed_bars, Timeframe.M15)
    filt = CorrelationFilter(threshold=0.8, lookback_days=30, bars=terminal)
    for t in (st("2026-05-04 10:00:00"), st("2026-05-05 10:00:00")):  # the market moves on
        for sym in ("EURUSD", "GBPUSD"):
            emu.replay.open_bar(sym, int(np.searchsorted(fx[sym]["time"], t)))
        got, want = terminal.closes("EURUSD", t - 30 * 86400, t), source.closes(
            "EURUSD", t - 30 * 86400, t)
        assert got is not None and want is not None
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert int(got[0][-1]) == t - M15  # the bar that closed last
        corr, _ = filt.correlation("EURUSD", "GBPUSD", t)
        assert corr == pytest.approx(expected_corr(fx, "EURUSD", "GBPUSD", t, 30), abs=1e-12)
    assert terminal.closes("NOPE", 0, st("2026-05-05 10:00:00")) is None  # passes, no data
