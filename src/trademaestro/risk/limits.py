"""Risk limits: the daily loss limit of a strategy and the account's drawdown emergency stop.

Daily loss (STRATEGY_FORMAT.md "Risk"): the loss of a strategy's server day is
``−(realized + floating)`` where ``realized`` is the net P/L (profit + commission + swap, account
currency) of its closing deals since 00:00 server time and ``floating`` the P/L of its open
positions. The limit is ``maxDailyLoss`` (account currency) and/or ``maxDailyLossPercent`` % of the
account equity at the start of the server day (the first equity seen that day); with both, the
smaller wins. When ``loss >= limit`` the strategy goes ``REDUCING`` (exits only) and stays so until
the next server day, even if the loss shrinks again.

Drawdown (``maxDrawdownPercent``): the account equity peak is tracked; when
``equity <= peak × (1 − pct / 100)`` every strategy is ``HALTED`` and every position is closed. Only
a person resumes (:meth:`DrawdownGuard.resume`), which resets the peak to the current equity.

Money comparisons allow a billionth of the amount for float noise (never exact equality).
Inputs are broker figures, always finite: a NaN or infinite one raises ``ValueError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trademaestro.risk.state import RiskEvent, TradingState, server_day

_REL = 1e-9


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name}: found {value!r}; allowed: a finite amount")
    return value


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """A strategy's ``riskManagement`` limits (None = no limit).

    Attributes:
        max_daily_loss: account currency (> 0).
        max_daily_loss_percent: % of the equity at the start of the server day, (0, 100].
        max_drawdown_percent: % below the account's equity peak, (0, 100].
    """

    max_daily_loss: float | None = None
    max_daily_loss_percent: float | None = None
    max_drawdown_percent: float | None = None


def daily_loss_limit(
    max_loss: float | None, max_loss_percent: float | None, day_start_equity: float | None
) -> tuple[float, str]:
    """The day's loss limit, account currency, and how it was found.

    Returns ``(math.inf, ...)`` when there is no limit (or only a percentage and no known
    day-start equity, which the reason says)."""
    limit, parts = math.inf, []
    if max_loss is not None:
        limit = max_loss
        parts.append(f"maxDailyLoss {max_loss:.2f}")
    if max_loss_percent is not None:
        if (
            day_start_equity is not None
            and math.isfinite(day_start_equity)
            and (day_start_equity > 0)
        ):
            pct_limit = day_start_equity * max_loss_percent / 100.0
            limit = min(limit, pct_limit)
            parts.append(
                f"maxDailyLossPercent {max_loss_percent:g}% of day-start equity "
                f"{day_start_equity:.2f} = {pct_limit:.2f}"
            )
        else:
            parts.append(
                f"maxDailyLossPercent {max_loss_percent:g}% not evaluated: day-start "
                f"equity unknown ({day_start_equity!r})"
            )
    return limit, "; ".join(parts) if parts else "no daily loss limit"


class DailyLossGuard:
    """One strategy's daily loss limit: ``ACTIVE`` ↔ ``REDUCING`` by server day.

    Attributes:
        state: ``ACTIVE`` or ``REDUCING``.
        reason: why the strategy is in its state.
        day: the server day last seen (None before the first update).
    """

    __slots__ = ("day", "max_loss", "max_loss_percent", "reason", "state", "strategy_id")

    def __init__(
        self,
        max_loss: float | None = None,
        max_loss_percent: float | None = None,
        *,
        strategy_id: str | None = None,
    ) -> None:
        self.max_loss = max_loss
        self.max_loss_percent = max_loss_percent
        self.strategy_id = strategy_id
        self.state = TradingState.ACTIVE
        self.reason = "no daily loss yet"
        self.day: int | None = None

    @property
    def enabled(self) -> bool:
        """Whether any daily limit is configured."""
        return self.max_loss is not None or self.max_loss_percent is not None

    def roll(self, time: int) -> RiskEvent | None:
        """Start a new server day if ``time`` is in one: ``REDUCING`` -> ``ACTIVE`` (event).

        An earlier day than the one seen (time going back) is ignored."""
        day = server_day(time)
        if self.day is not None and day <= self.day:
            return None
        previous, self.day = self.day, day
        if previous is None or self.state is not TradingState.REDUCING:
            return None
        self.state = TradingState.ACTIVE
        self.reason = f"new server day {day}: daily loss limit reset"
        return RiskEvent(
            TradingState.REDUCING, TradingState.ACTIVE, self.reason, self.strategy_id, time=time
        )

    def update(
        self, time: int, realized_today: float, floating: float, day_start_equity: float | None
    ) -> RiskEvent | None:
        """Check the limit at a closed bar or after a fill.

        Args:
            time: server seconds.
            realized_today: net P/L of the strategy's closing deals since 00:00 server time of
                ``time``'s day, account currency.
            floating: P/L of the strategy's open positions, account currency.
            day_start_equity: account equity at the start of the server day (None: unknown).

        Returns:
            The state change (``ACTIVE`` -> ``REDUCING``, or the new day's reset), or None.

        Raises:
            ValueError: a non-finite P/L.
        """
        pnl = _finite("realized_today", realized_today) + _finite("floating", floating)
        rolled = self.roll(time)
        if not self.enabled or self.state is TradingState.REDUCING:
            return rolled
        limit, how = daily_loss_limit(self.max_loss, self.max_loss_percent, day_start_equity)
        loss = -pnl
        if loss >= limit - _REL * max(1.0, limit):
            before = rolled.before if rolled is not None else self.state
            self.state = TradingState.REDUCING
            self.reason = (
                f"daily loss {loss:.2f} (realized {realized_today:.2f}, floating "
                f"{floating:.2f}) reached the limit {limit:.2f} ({how}): exits only "
                f"until the next server day"
            )
            return RiskEvent(
                before, TradingState.REDUCING, self.reason, self.strategy_id, time=time
            )
        return rolled


class DrawdownGuard:
    """The account's drawdown emergency stop: ``ACTIVE`` -> ``HALTED`` -> (a person) ``ACTIVE``.

    Attributes:
        max_drawdown_percent: % below the peak (None: the peak is tracked, nothing halts).
        peak: highest equity seen since the start or the last resume (NaN before any).
        equity: last equity seen (NaN before any).
        state: ``ACTIVE`` or ``HALTED``.
        reason: why.
    """

    __slots__ = ("equity", "max_drawdown_percent", "peak", "reason", "state")

    def __init__(self, max_drawdown_percent: float | None = None) -> None:
        self.max_drawdown_percent = max_drawdown_percent
        self.peak = math.nan
        self.equity = math.nan
        self.state = TradingState.ACTIVE
        self.reason = "no drawdown stop triggered"

    @property
    def trigger_equity(self) -> float:
        """Equity at or below which trading halts (account currency; NaN: none)."""
        if self.max_drawdown_percent is None or math.isnan(self.peak):
            return math.nan
        return self.peak * (1.0 - self.max_drawdown_percent / 100.0)

    def update(self, equity: float, time: int | None = None) -> RiskEvent | None:
        """Take the current equity (account currency); the halt event when the stop triggers.

        While halted the peak stays frozen and nothing more happens until :meth:`resume`.

        Raises:
            ValueError: a non-finite equity.
        """
        self.equity = _finite("equity", equity)
        if self.state is TradingState.HALTED:
            return None
        if math.isnan(self.peak) or equity > self.peak:
            self.peak = equity
        trigger = self.trigger_equity
        if math.isnan(trigger) or equity > trigger + _REL * abs(self.peak):
            return None
        assert self.max_drawdown_percent is not None
        drawdown = (self.peak - equity) / self.peak * 100.0 if self.peak > 0 else math.inf
        self.state = TradingState.HALTED
        self.reason = (
            f"drawdown {drawdown:.2f}% from the equity peak {self.peak:.2f}: equity "
            f"{equity:.2f} <= {trigger:.2f} (maxDrawdownPercent "
            f"{self.max_drawdown_percent:g}%): emergency stop, every position "
            f"closed, trading halted until resumed by a person"
        )
        return RiskEvent(
            TradingState.ACTIVE, TradingState.HALTED, self.reason, None, close_all=True, time=time
        )

    def resume(self, reason: str, equity: float | None = None) -> RiskEvent:
        """A person resumes trading: ``ACTIVE`` again, the peak reset to the current equity
        (``equity``, else the last seen)."""
        if equity is not None:
            self.equity = _finite("equity", equity)
        before = self.state
        self.state = TradingState.ACTIVE
        self.peak = self.equity
        self.reason = f"resumed: {reason}; equity peak reset to {self.equity:.2f}"
        return RiskEvent(before, TradingState.ACTIVE, self.reason, None)
