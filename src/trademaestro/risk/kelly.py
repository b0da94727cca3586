"""Fractional Kelly sizing from a strategy's own closed trades (``dynamicRisk.kelly``).

Kelly (1956), in the trader's form: with win rate ``W`` and payoff ratio ``R`` = mean win /
|mean loss|, the fraction of capital to risk is ``f* = W − (1 − W) / R``. The risk per trade is
``min(fraction × f* × 100, maxRiskPercent)`` % of equity; ``f* <= 0`` (no edge) is no trade;
with fewer than ``minTrades`` closed trades the configured ``riskPercentage`` applies.
With no losing trade, ``R`` is infinite and ``f* = W`` (in practice the cap applies).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from trademaestro.execution.plan import KellyRule


@dataclass(frozen=True, slots=True)
class KellyStats:
    """Statistics of closed trades.

    Attributes:
        count: closed trades (a zero result counts as a trade that is neither win nor loss).
        wins, losses: trades with a net result > 0 and < 0.
        win_rate: ``W = wins / count`` (0.0 with no trades).
        payoff_ratio: ``R`` = mean win / |mean loss|; ``inf`` with wins and no loss, 0.0 with no
            win.
    """

    count: int
    wins: int
    losses: int
    win_rate: float
    payoff_ratio: float

    @classmethod
    def from_trades(cls, net_results: Sequence[float]) -> KellyStats:
        """Statistics of the net results (account currency, after commission and swap) of
        closed trades, oldest first.

        Raises:
            ValueError: a result that is not a finite number (its index is named).
        """
        win_sum = loss_sum = 0.0
        wins = losses = 0
        for i, value in enumerate(net_results):
            try:
                r = float(value)
            except (TypeError, ValueError):
                r = math.nan
            if not math.isfinite(r):
                raise ValueError(f"net_results[{i}]: found {value!r}; allowed: a finite number")
            if r > 0:
                wins += 1
                win_sum += r
            elif r < 0:
                losses += 1
                loss_sum -= r
        count = len(net_results)
        win_rate = wins / count if count else 0.0
        if wins == 0:
            payoff = 0.0
        elif losses == 0:
            payoff = math.inf
        else:
            payoff = (win_sum / wins) / (loss_sum / losses)
        return cls(count, wins, losses, win_rate, payoff)

    @property
    def kelly_fraction(self) -> float:
        """``f* = W − (1 − W) / R`` (a fraction of capital; ``W`` with no loss, −1.0 with losses
        and no win, 0.0 with neither)."""
        if self.wins == 0:
            return -1.0 if self.losses else 0.0
        if math.isinf(self.payoff_ratio):
            return self.win_rate
        return self.win_rate - (1.0 - self.win_rate) / self.payoff_ratio


def kelly_risk_percent(
    stats: KellyStats, cfg: KellyRule, fallback_percent: float | None
) -> tuple[float | None, str]:
    """The % of equity to risk on the next trade, and why.

    Args:
        stats: the strategy's closed trades.
        cfg: ``fraction`` (0, 1], ``max_risk_percent`` (%), ``min_trades``.
        fallback_percent: the configured ``riskPercentage`` (None: not configured).

    Returns:
        ``(percent, reason)``: ``fallback_percent`` (may be None: size by the plain rule) while
        ``stats.count < cfg.min_trades``; 0.0 (no trade) when ``f* <= 0``; else
        ``min(fraction × f* × 100, max_risk_percent)``. Pass it to
        :func:`trademaestro.risk.sizing.size_entry` as ``kelly_percent``.
    """
    if stats.count < cfg.min_trades:
        what = (
            f"riskPercentage {fallback_percent:g}%"
            if fallback_percent is not None
            else ("the plain sizing rule")
        )
        return fallback_percent, (
            f"Kelly: {stats.count} of {cfg.min_trades} trades closed; {what} applies"
        )
    f = stats.kelly_fraction
    described = (
        f"Kelly: W {stats.win_rate:.4f}, R {stats.payoff_ratio:.4f} over "
        f"{stats.count} trades, f* {f:.4f}"
    )
    if f <= 0:
        return 0.0, f"{described} <= 0: no edge, no trade"
    percent = cfg.fraction * f * 100.0
    if percent > cfg.max_risk_percent:
        return cfg.max_risk_percent, (
            f"{described}; {cfg.fraction:g} × f* = {percent:.4g}% "
            f"capped at {cfg.max_risk_percent:g}%"
        )
    return percent, f"{described}; {cfg.fraction:g} × f* = {percent:.4g}%"
