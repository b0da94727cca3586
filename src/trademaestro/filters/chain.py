"""The entry filter chain: a strategy's enabled filters, applied in one fixed order.

Order (:data:`ORDER`): session, spread, volatility, correlation, news, cooldown. Each enabled
filter gives a :class:`~trademaestro.filters.base.Verdict`; the chain stops at the first deny.
Disabled filters (``enabled: false``) and absent blocks are skipped entirely (no verdict).
``options.cooldownMinutes`` switches the cooldown on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trademaestro.core.servertime import ServerTimeZone
from trademaestro.filters.base import EntryContext, Filter, Verdict
from trademaestro.filters.cooldown import CooldownFilter
from trademaestro.filters.correlation import BarSource, CorrelationFilter
from trademaestro.filters.news import NewsCalendar, NewsFilter
from trademaestro.filters.session import SessionFilter, session_table
from trademaestro.filters.spread import SpreadFilter
from trademaestro.filters.volatility import VolatilityFilter
from trademaestro.strategy._base import join
from trademaestro.strategy.model import StrategySpec

#: The order filters run in, by :attr:`Verdict.name`.
ORDER = ("session", "spread", "volatility", "correlation", "news", "cooldown")


@dataclass(frozen=True, slots=True)
class ChainResult:
    """The chain's decision on one entry.

    Attributes:
        allow: True when every filter allowed.
        multiplier: product of the allowing filters' multipliers (in (0, 1] with the shipped
            actions); a size factor, meaningful only when ``allow``.
        verdicts: each evaluated filter's verdict in order, the deny (if any) last.
    """

    allow: bool
    multiplier: float
    verdicts: tuple[Verdict, ...]

    @property
    def reason(self) -> str:
        """The deciding reason: the deny's, else every verdict's, joined."""
        if not self.allow and self.verdicts:
            last = self.verdicts[-1]
            return f"{last.name}: {last.reason}"
        return "; ".join(f"{v.name}: {v.reason}" for v in self.verdicts)


_ALLOW_ALL = ChainResult(True, 1.0, ())


class FilterChain:
    """Filters applied in order; build with :meth:`from_strategy`.

    Args:
        filters: the filters, in the order to run (:data:`ORDER` for :meth:`from_strategy`).
    """

    __slots__ = ("_atr_periods", "_last", "filters")

    def __init__(self, filters: Sequence[Filter] = ()) -> None:
        self.filters = tuple(filters)
        self._last = _ALLOW_ALL
        self._atr_periods = frozenset(f.period for f in self.filters
                                      if isinstance(f, VolatilityFilter))

    @classmethod
    def from_strategy(cls, spec: StrategySpec, *, server_tz: ServerTimeZone,
                      sessions: Mapping[str, object] | None = None,
                      news: NewsCalendar | None = None,
                      bars: BarSource | None = None) -> FilterChain:
        """The chain of ``spec``'s enabled filters and its cooldown option.

        Args:
            spec: the validated strategy.
            server_tz: the broker's server time zone (sessions and news compare in UTC).
            sessions: overrides of the session table (name → ``{"zone", "start", "end"}``).
            news: the economic calendar; None → the news filter allows ("no calendar").
            bars: closes for the correlation filter; None → it allows ("no bar source").

        Raises:
            StrategyError: a size multiplier above 1 (JSON path of the key).
            ConfigError: bad session overrides.
        """
        filters: list[Filter] = []
        block, path = spec.placed("filters")
        if block is not None:
            def where(key: str) -> str:
                return join(path, block.key_of(key))

            session = block.sessionFilter
            if session is not None and session.enabled:
                filters.append(SessionFilter.from_model(
                    session, server_tz=server_tz, sessions=session_table(sessions),
                    path=where("sessionFilter")))
            spread = block.spreadFilter
            if spread is not None and spread.enabled:
                filters.append(SpreadFilter.from_model(spread))
            volatility = block.volatilityFilter
            if volatility is not None and volatility.enabled:
                filters.append(VolatilityFilter.from_model(volatility,
                                                           path=where("volatilityFilter")))
            correlation = block.correlationFilter
            if correlation is not None and correlation.enabled:
                filters.append(CorrelationFilter.from_model(correlation, bars=bars))
            news_model = block.newsFilter
            if news_model is not None and news_model.enabled:
                filters.append(NewsFilter.from_model(news_model, server_tz=server_tz,
                                                     calendar=news))
        options = spec.option_block
        if options is not None and options.cooldownMinutes is not None:
            filters.append(CooldownFilter(options.cooldownMinutes))
        return cls(filters)

    def __len__(self) -> int:
        return len(self.filters)

    def atr_periods(self) -> set[int]:
        """The ATR periods the chain reads from :attr:`EntryContext.atr`."""
        return set(self._atr_periods)

    def evaluate(self, ctx: EntryContext) -> ChainResult:
        """Run the filters in order; stop at the first deny. When the verdicts equal the
        previous call's (filters return shared verdict objects for repeated situations), the
        previous result object is returned."""
        if not self.filters:
            return _ALLOW_ALL
        verdicts: list[Verdict] = []
        allow = True
        multiplier = 1.0
        for f in self.filters:
            verdict = f.check(ctx)
            verdicts.append(verdict)
            if not verdict.allow:
                allow = False
                break
            multiplier *= verdict.multiplier
        found = tuple(verdicts)
        last = self._last
        if found == last.verdicts:
            return last
        result = self._last = ChainResult(allow, multiplier, found)
        return result

    def describe(self) -> str:
        """One line per filter, in order; ``no entry filters`` when empty."""
        if not self.filters:
            return "no entry filters"
        return "\n".join(f"{i}. {f.describe()}" for i, f in enumerate(self.filters, start=1))
