"""Statistics: hand-computed values, a real XAUUSD equity curve against plain loops, invariants."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.report.errors import ReportError
from trademaestro.report.stats import compute_stats, daily_sharpe, max_drawdown

DAY = 86_400
D0 = 19_802 * DAY  # 2024-03-20 00:00:00 server time


def _trade(profit: float, commission: float = 0.0, swap: float = 0.0) -> dict[str, Any]:
    return {"profit": profit, "commission": commission, "swap": swap}


def test_win_rate_profit_factor_and_net_profit() -> None:
    trades = [_trade(15.00, -1.40), _trade(-20.00), _trade(5.50, -0.25, -0.25), _trade(0.70, -0.70)]
    stats = compute_stats(trades, [D0], [10_000.0], 10_000.0)
    assert stats["trades"] == 4
    assert stats["win_rate"] == pytest.approx(0.5, abs=1e-12)  # 13.60 and 5.00 win; 0.00 does not
    assert stats["profit_factor"] == pytest.approx(0.93, abs=1e-12)  # 18.60 / 20.00
    assert stats["net_profit"] == pytest.approx(-1.40, abs=1e-9)


def test_no_trades_and_no_losses() -> None:
    empty = compute_stats([], [], [], 10_000.0)
    assert empty == {
        "trades": 0,
        "win_rate": 0.0,
        "profit_factor": None,
        "net_profit": 0.0,
        "max_drawdown": 0.0,
        "max_drawdown_pct": 0.0,
        "sharpe": None,
    }
    winners = compute_stats([_trade(1.0), _trade(2.0)], [], [], 10_000.0)
    assert winners["win_rate"] == pytest.approx(1.0, abs=1e-12)
    assert winners["profit_factor"] is None


def test_max_drawdown_on_a_known_series() -> None:
    values = [10_000.0, 10_100.0, 10_050.0, 10_200.0, 9_900.0, 10_000.0, 10_300.0, 10_150.0]
    times = [D0 + 900 * i for i in range(len(values))]
    stats = compute_stats([], times, values, 10_000.0)
    assert stats["max_drawdown"] == pytest.approx(300.0, abs=1e-9)  # 10,200 -> 9,900
    assert stats["max_drawdown_pct"] == pytest.approx(2.9412, abs=1e-9)  # 300 / 10,200
    assert max_drawdown(np.array([1.0, 2.0, 3.0])) == (0.0, 0.0)
    assert max_drawdown(np.array([5.0, -1.0])) == (6.0, 120.0)
    assert max_drawdown(np.array([-5.0, -6.0])) == (1.0, None)


def test_sharpe_on_a_known_daily_series() -> None:
    # Last sample of each day: 100, 110, 99, 108.9 -> returns +10 %, -10 %, +10 %.
    # mean = 1/30, std (ddof 1) = 0.2 / sqrt(3): sharpe = sqrt(3) / 6 * sqrt(252) = 4.582576
    samples = [
        (D0 + 3600, 50.0),
        (D0 + DAY - 900, 100.0),
        (D0 + DAY + 900, 200.0),
        (D0 + 2 * DAY - 1, 110.0),
        (D0 + 2 * DAY, 99.0),
        (D0 + 5 * DAY + 60, 108.9),  # a gap of days still counts as consecutive samples
    ]
    times, values = zip(*samples, strict=True)
    stats = compute_stats([], list(times), list(values), 100.0)
    assert stats["sharpe"] == pytest.approx(4.5826, abs=1e-9)
    assert math.sqrt(756) / 6 == pytest.approx(4.582576, abs=1e-6)
    # Shuffled samples are put in time order first.
    order = [3, 0, 5, 1, 4, 2]
    shuffled = compute_stats([], [times[i] for i in order], [values[i] for i in order], 100.0)
    assert shuffled["sharpe"] == stats["sharpe"]


def test_sharpe_is_none_without_two_returns_or_spread() -> None:
    two_days = np.array([D0, D0 + DAY]), np.array([100.0, 110.0])
    assert daily_sharpe(*two_days) is None
    steady = np.array([D0, D0 + DAY, D0 + 2 * DAY]), np.array([100.0, 110.0, 121.0])
    assert daily_sharpe(*steady) is None  # equal returns: zero std (up to rounding)
    ruined = np.array([D0, D0 + DAY, D0 + 2 * DAY, D0 + 3 * DAY]), np.array([1.0, 0.0, 2.0, 3.0])
    assert daily_sharpe(*ruined) is None


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ReportError, match=r"2 times but 1 values"):
        compute_stats([], [1, 2], [1.0], 100.0)
    with pytest.raises(ReportError, match=r"equity_values\[1\]: found nan"):
        compute_stats([], [1, 2], [1.0, float("nan")], 100.0)
    with pytest.raises(ReportError, match=r"initial_balance: found 0"):
        compute_stats([], [], [], 0)
    with pytest.raises(ReportError, match=r"trades\[0\]: KeyError\('swap'\)"):
        compute_stats([{"profit": 1.0, "commission": 0.0}], [], [], 100.0)


def _read_closes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    lines = path.read_text().splitlines()[1:]
    fields = [line.split(",") for line in lines]
    stamps = np.array([f[0].replace(".", "-", 2) for f in fields], dtype="datetime64[s]")
    return stamps.astype(np.int64), np.array([float(f[4]) for f in fields])


def test_real_xauusd_curve_against_plain_loops(shared_data: Path) -> None:
    times, closes = _read_closes(shared_data / "XAUUSD_M15.csv")
    # 0.10 lot bought at the first close: 10 USD per 1.00 of price, on 10,000 USD.
    equity = 10_000.0 + (closes - closes[0]) * 10.0
    stats = compute_stats([], times, equity, 10_000.0)

    peak, worst, worst_peak = -math.inf, 0.0, 0.0
    for value in equity.tolist():
        peak = max(peak, value)
        if peak - value > worst:
            worst, worst_peak = peak - value, peak
    assert stats["max_drawdown"] == pytest.approx(round(worst, 2), abs=1e-9)
    assert stats["max_drawdown_pct"] == pytest.approx(round(worst / worst_peak * 100, 4), abs=1e-9)
    assert stats["max_drawdown"] > 0.0

    last_by_day: dict[int, float] = {}
    for t, value in zip(times.tolist(), equity.tolist(), strict=True):
        last_by_day[t // DAY] = value
    daily = [last_by_day[d] for d in sorted(last_by_day)]
    returns = [b / a - 1 for a, b in itertools.pairwise(daily)]
    mean = sum(returns) / len(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    assert len(daily) > 500  # two years of trading days
    assert stats["sharpe"] == pytest.approx(round(mean / std * math.sqrt(252), 4), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(min_value=1.0, max_value=1e7, allow_nan=False), max_size=60))
def test_drawdown_is_between_zero_and_the_peak(values: list[float]) -> None:
    times = [D0 + 900 * i for i in range(len(values))]
    stats = compute_stats([], times, values, 10_000.0)
    peak = max(values, default=0.0)
    assert 0.0 <= stats["max_drawdown"] <= round(peak, 2)
    assert 0.0 <= stats["max_drawdown_pct"] <= 100.0
    brute = max((max(values[: i + 1]) - v for i, v in enumerate(values)), default=0.0)
    assert stats["max_drawdown"] == pytest.approx(round(brute, 2), abs=1e-6)
