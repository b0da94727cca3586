"""Trading states of a strategy and the account, the events that change them, server days.

States (DESIGN.md "risk/"):

- ``ACTIVE``: entries and position management allowed.
- ``REDUCING``: exits only: open positions are managed and closed, no new entries (the daily loss
  limit was reached; back to ``ACTIVE`` at the next broker server day).
- ``HALTED``: no new entries; the drawdown emergency stop has closed every position. It lasts
  until a person resumes trading.

Server day: broker server time (int seconds since 1970 on the broker's wall clock) ``// 86400``,
so a day starts at 00:00 server time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SECONDS_PER_DAY = 86_400


class TradingState(StrEnum):
    """What a strategy may do (see the module docstring)."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """A change of trading state, for the log and for the executor to act on.

    Attributes:
        before, after: the states (equal when a limit is reached again on a new day).
        reason: why, in words, with the figures (account currency, server time).
        strategy_id: the strategy concerned; None for the whole account.
        close_all: the executor must close every position it manages (emergency stop).
        time: server seconds of the change (None when not known, e.g. an equity-only update).
    """

    before: TradingState
    after: TradingState
    reason: str
    strategy_id: str | None = None
    close_all: bool = False
    time: int | None = None


def server_day(time: int) -> int:
    """The broker server day of a server time (days since 1970-01-01 server time)."""
    return time // SECONDS_PER_DAY


def day_start(time: int) -> int:
    """Server seconds of 00:00 of the server day holding ``time``."""
    return time - time % SECONDS_PER_DAY
