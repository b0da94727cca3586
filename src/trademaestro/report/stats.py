"""Run statistics from trade rows and equity samples.

Definitions (money in the account currency; times broker server time, seconds):

- ``net`` of a trade row = ``profit + commission + swap``, rounded to cents.
- ``trades``: number of trade rows (one per closing deal, see :mod:`trademaestro.report.trades`).
- ``win_rate``: fraction in [0, 1] of rows with ``net > 0``; 0.0 when there are no trades.
- ``profit_factor``: gross profit / |gross loss|, the sums of the positive and of the negative
  ``net`` values, rounded to 4 decimals; None when there is no losing row (or no trades).
- ``net_profit``: sum of ``net``, rounded to cents.
- ``max_drawdown``: the largest peak-to-trough fall of the equity samples, in money, rounded to
  cents: ``max_i (max_{j<=i} e_j - e_i)``; 0.0 for fewer than two samples or a rising curve.
- ``max_drawdown_pct``: that same fall as a percentage of the peak it fell from, rounded to 4
  decimals; 0.0 without a fall; None when that peak is not positive (a percentage of it means
  nothing).
- ``sharpe``: annualised daily Sharpe ratio, risk-free rate 0: take the last equity sample of each
  server day (day = ``time // 86400``), the simple returns ``v_d / v_{d-1} - 1`` between
  consecutive sampled days, and ``mean / std * sqrt(252)`` with the sample standard deviation
  (ddof = 1) (Sharpe 1994, "The Sharpe Ratio"; 252 trading days a year). None when there are
  fewer than 2 returns, the std is zero (below 1e-12), or a day's value is not positive.
  Rounded to 4 decimals.

``initial_balance`` is not part of the equity samples; it is checked (finite, > 0) and is the
level of a curve with no samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from trademaestro.report.errors import ReportError
from trademaestro.report.trades import net_profit

TRADING_DAYS_PER_YEAR = 252
SECONDS_PER_DAY = 86_400
_ZERO_STD = 1e-12


def _curve(
    equity_times: Sequence[int] | npt.ArrayLike, equity_values: Sequence[float] | npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Checked (times, values), sorted by time (stable)."""
    try:
        times = np.asarray(equity_times, dtype=np.int64).reshape(-1)
        values = np.asarray(equity_values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ReportError(
            f"equity samples: {exc}; allowed: integer times and finite numbers"
        ) from None
    if times.shape != values.shape:
        raise ReportError(
            f"equity samples: {times.size} times but {values.size} values; allowed: equal lengths"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise ReportError(
            f"equity_values[{i}]: found {float(values[i])!r}; allowed: a finite number"
        )
    if times.size > 1 and bool(np.any(np.diff(times) < 0)):
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
    return times, values


def max_drawdown(values: npt.NDArray[np.float64]) -> tuple[float, float | None]:
    """(largest peak-to-trough fall in money, that fall in % of its peak) of ``values``.

    Returns (0.0, 0.0) when there is no fall; the percentage is None when the peak is <= 0.
    """
    if values.size < 2:
        return 0.0, 0.0
    peaks = np.maximum.accumulate(values)
    falls = peaks - values
    i = int(np.argmax(falls))
    fall = float(falls[i])
    if fall <= 0.0:
        return 0.0, 0.0
    peak = float(peaks[i])
    pct = round(fall / peak * 100.0, 4) if peak > 0.0 else None
    return round(fall, 2), pct


def daily_sharpe(times: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> float | None:
    """Annualised Sharpe ratio of the daily simple returns (see the module docstring)."""
    if times.size == 0:
        return None
    days = times // SECONDS_PER_DAY
    last_of_day = np.append(days[1:] != days[:-1], True)
    closes = values[last_of_day]
    if closes.size < 3 or bool(np.any(closes <= 0.0)):
        return None
    returns = closes[1:] / closes[:-1] - 1.0
    std = float(np.std(returns, ddof=1))
    if not math.isfinite(std) or std < _ZERO_STD:
        return None
    return round(float(np.mean(returns)) / std * math.sqrt(TRADING_DAYS_PER_YEAR), 4)


def compute_stats(
    trades: Sequence[Mapping[str, Any]],
    equity_times: Sequence[int] | npt.ArrayLike,
    equity_values: Sequence[float] | npt.ArrayLike,
    initial_balance: float,
) -> dict[str, Any]:
    """The statistics of a run (definitions in the module docstring).

    Args:
        trades: trade rows (``profit``, ``commission``, ``swap`` in account currency).
        equity_times: server time (s) of each equity sample, shape (n,).
        equity_values: equity (account currency) of each sample, shape (n,).
        initial_balance: account currency, > 0.

    Returns:
        ``{"trades", "win_rate", "profit_factor", "net_profit", "max_drawdown",
        "max_drawdown_pct", "sharpe"}``.

    Raises:
        ReportError: mismatched or non-finite equity samples, a non-numeric trade field, or a
            bad ``initial_balance``.
    """
    if not math.isfinite(initial_balance) or initial_balance <= 0:
        raise ReportError(f"initial_balance: found {initial_balance!r}; allowed: > 0")
    nets: list[float] = []
    for i, trade in enumerate(trades):
        try:
            nets.append(round(net_profit(trade), 2))
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(
                f"trades[{i}]: {exc!r}; allowed: numeric profit, commission and swap"
            ) from None
    wins = [n for n in nets if n > 0.0]
    losses = [n for n in nets if n < 0.0]
    gross_profit, gross_loss = sum(wins), -sum(losses)
    times, values = _curve(equity_times, equity_values)
    drawdown, drawdown_pct = max_drawdown(values)
    return {
        "trades": len(nets),
        "win_rate": len(wins) / len(nets) if nets else 0.0,
        "profit_factor": round(gross_profit / gross_loss, 4) if gross_loss > 0.0 else None,
        "net_profit": round(sum(nets), 2),
        "max_drawdown": drawdown,
        "max_drawdown_pct": drawdown_pct,
        "sharpe": daily_sharpe(times, values),
    }
