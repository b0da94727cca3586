"""Cooldown filter: no entry until ``options.cooldownMinutes`` after the strategy's last trade.

``last_trade_time`` is the strategy's last entry or exit on the symbol (broker server seconds).
The entry is denied while ``time - last_trade_time < minutes × 60``: with 15 minutes and a trade
at 10:00:00, 10:14:59 is denied and 10:15:00 allowed. A decision time before the last trade
(clock skew) is denied as well. No previous trade allows.
"""

from __future__ import annotations

import math

from trademaestro.core.errors import ConfigError
from trademaestro.filters.base import EntryContext, Verdict


class CooldownFilter:
    """Deny entries within ``minutes`` of the last trade (see the module docstring).

    Raises:
        ConfigError: negative or non-finite minutes.
    """

    name = "cooldown"

    def __init__(self, minutes: float) -> None:
        if not (minutes >= 0 and math.isfinite(minutes)):
            raise ConfigError(f"cooldown: found {minutes!r}; allowed: minutes >= 0")
        self.minutes = minutes
        self.seconds = round(minutes * 60)
        self._first = Verdict(self.name, True, 1.0, "no previous trade")
        self._over = Verdict(self.name, True, 1.0, f"cooldown of {minutes:g} min over")

    def check(self, ctx: EntryContext) -> Verdict:
        """Compare the time since the last trade with the cooldown."""
        last = ctx.last_trade_time
        if last is None:
            return self._first
        elapsed = ctx.time - last
        if elapsed < self.seconds:
            return Verdict(self.name, False, 1.0,
                           f"{elapsed} s since the last trade (< {self.seconds} s)")
        return self._over

    def describe(self) -> str:
        """E.g. ``cooldown: 15 min after the last trade``."""
        return f"cooldown: {self.minutes:g} min after the last trade"
