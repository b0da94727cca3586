"""The account's risk state: each strategy's daily loss guard plus the account's drawdown stop.

The executor (imperative shell) calls, with broker server time:

- :meth:`AccountRiskState.update_equity` at each closed bar and after each fill (day change,
  day-start equity, drawdown stop);
- :meth:`AccountRiskState.update_strategy` for each strategy at the same moments (daily loss);
- :meth:`AccountRiskState.can_enter` before an entry, :meth:`AccountRiskState.can_manage` before
  managing positions (trailing, break-even, partial exits);
- :meth:`AccountRiskState.resume` when a person resumes trading after the emergency stop.

Every method that changes a state returns the :class:`~trademaestro.risk.state.RiskEvent`\\ s with
their reasons, for the log. An event with ``close_all`` means: close every position of the
executor now. The drawdown limit is the strictest ``maxDrawdownPercent`` of the strategies
registered (running).
"""

from __future__ import annotations

import math

from trademaestro.risk.limits import DailyLossGuard, DrawdownGuard, RiskLimits
from trademaestro.risk.state import RiskEvent, TradingState, server_day


class AccountRiskState:
    """Per-strategy trading states and the account state (see the module docstring).

    Attributes:
        drawdown: the account's :class:`DrawdownGuard`.
        day: the server day of the last update (None before any).
        day_start_equity: the first equity seen in that server day (account currency).
    """

    __slots__ = ("_guards", "_limits", "day", "day_start_equity", "drawdown")

    def __init__(self) -> None:
        self._guards: dict[str, DailyLossGuard] = {}
        self._limits: dict[str, RiskLimits] = {}
        self.drawdown = DrawdownGuard(None)
        self.day: int | None = None
        self.day_start_equity: float | None = None

    # -- strategies -------------------------------------------------------------------------

    def add_strategy(self, strategy_id: str, limits: RiskLimits) -> None:
        """Register a running strategy with its limits (replaces an earlier registration's
        limits, keeping its daily state)."""
        self._limits[strategy_id] = limits
        guard = self._guards.get(strategy_id)
        if guard is None:
            guard = DailyLossGuard(strategy_id=strategy_id)
            guard.day = self.day
            self._guards[strategy_id] = guard
        guard.max_loss = limits.max_daily_loss
        guard.max_loss_percent = limits.max_daily_loss_percent
        self._refresh_drawdown_limit()

    def remove_strategy(self, strategy_id: str) -> None:
        """Forget a stopped strategy (its drawdown limit no longer counts)."""
        self._limits.pop(strategy_id, None)
        self._guards.pop(strategy_id, None)
        self._refresh_drawdown_limit()

    def _refresh_drawdown_limit(self) -> None:
        given = [
            lim.max_drawdown_percent
            for lim in self._limits.values()
            if lim.max_drawdown_percent is not None
        ]
        self.drawdown.max_drawdown_percent = min(given) if given else None

    # -- updates ----------------------------------------------------------------------------

    def update_equity(self, time: int, equity: float) -> list[RiskEvent]:
        """The account equity (account currency) at server time ``time``.

        A new server day records ``equity`` as the day-start equity and returns the strategies
        in ``REDUCING`` to ``ACTIVE``; then the drawdown stop is checked.

        Raises:
            ValueError: a non-finite equity.
        """
        if not math.isfinite(equity):
            raise ValueError(f"equity: found {equity!r}; allowed: a finite amount")
        events = self._roll(time, equity)
        halt = self.drawdown.update(equity, time)
        if halt is not None:
            events.append(halt)
        return events

    def _roll(self, time: int, equity: float | None) -> list[RiskEvent]:
        day = server_day(time)
        if self.day is not None and day <= self.day:
            return []
        self.day = day
        self.day_start_equity = equity
        events = []
        for guard in self._guards.values():
            event = guard.roll(time)
            if event is not None:
                events.append(event)
        return events

    def update_strategy(
        self, strategy_id: str, time: int, realized_today: float, floating: float
    ) -> list[RiskEvent]:
        """Check one strategy's daily loss (see
        :meth:`~trademaestro.risk.limits.DailyLossGuard.update`; P/L in account currency).

        If no equity was seen yet in this server day, the day-start equity is the last equity
        seen (so the percentage limit stays evaluable).

        Raises:
            KeyError: an unregistered strategy.
            ValueError: a non-finite P/L.
        """
        guard = self._guards[strategy_id]
        last = self.drawdown.equity
        events = self._roll(time, None if math.isnan(last) else last)
        event = guard.update(time, realized_today, floating, self.day_start_equity)
        if event is not None:
            events.append(event)
        return events

    def resume(self, reason: str, equity: float | None = None) -> RiskEvent:
        """A person resumes trading after the emergency stop: every strategy may trade again
        (unless its daily limit holds it in ``REDUCING``); the peak resets to the equity."""
        return self.drawdown.resume(reason, equity)

    # -- queries ----------------------------------------------------------------------------

    def guards(self) -> dict[str, DailyLossGuard]:
        """The daily-loss guard of every registered strategy (for saving and restoring)."""
        return dict(self._guards)

    @property
    def halted(self) -> bool:
        """Whether the emergency stop holds the account."""
        return self.drawdown.state is TradingState.HALTED

    def state(self, strategy_id: str) -> TradingState:
        """The strategy's effective state (``HALTED`` when the account is halted).

        Raises:
            KeyError: an unregistered strategy.
        """
        guard = self._guards[strategy_id]
        return TradingState.HALTED if self.halted else guard.state

    def can_enter(self, strategy_id: str) -> tuple[bool, str]:
        """Whether the strategy may open a position now, and why not."""
        guard = self._guards.get(strategy_id)
        if guard is None:
            return False, f"strategy {strategy_id!r} is not registered with the risk state"
        if self.halted:
            return False, f"halted: {self.drawdown.reason}"
        if guard.state is TradingState.REDUCING:
            return False, f"reducing: {guard.reason}"
        return True, "active"

    def can_manage(self, strategy_id: str) -> bool:
        """Whether the strategy's positions may be managed (trailing, break-even, partial and
        rule exits): in ``ACTIVE`` and ``REDUCING``. In ``HALTED`` the executor only closes what
        is left, and an unregistered strategy manages nothing."""
        guard = self._guards.get(strategy_id)
        return guard is not None and not self.halted
