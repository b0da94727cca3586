"""Entry filters: session, spread, volatility, correlation, news and cooldown.

Pure functional core: each filter turns an :class:`EntryContext` (decision time in broker server
time, quote, ATRs, held symbols) into a :class:`Verdict`; :class:`FilterChain` applies a
strategy's enabled filters in a fixed order (session, spread, volatility, correlation, news,
cooldown) and stops at the first deny. The only I/O is :class:`CsvNewsCalendar` reading its file
at construction.
"""

from trademaestro.filters.base import EntryContext, Filter, Verdict
from trademaestro.filters.chain import ORDER, ChainResult, FilterChain
from trademaestro.filters.cooldown import CooldownFilter
from trademaestro.filters.correlation import BarSource, CorrelationFilter, RatesBarSource
from trademaestro.filters.news import CsvNewsCalendar, NewsCalendar, NewsEvent, NewsFilter
from trademaestro.filters.session import (
    DEFAULT_SCALE,
    DEFAULT_SESSIONS,
    SessionFilter,
    SessionHours,
    session_table,
)
from trademaestro.filters.spread import SpreadFilter, spread_pips
from trademaestro.filters.volatility import VolatilityFilter

__all__ = [
    "DEFAULT_SCALE",
    "DEFAULT_SESSIONS",
    "ORDER",
    "BarSource",
    "ChainResult",
    "CooldownFilter",
    "CorrelationFilter",
    "CsvNewsCalendar",
    "EntryContext",
    "Filter",
    "FilterChain",
    "NewsCalendar",
    "NewsEvent",
    "NewsFilter",
    "RatesBarSource",
    "SessionFilter",
    "SessionHours",
    "SpreadFilter",
    "Verdict",
    "VolatilityFilter",
    "session_table",
    "spread_pips",
]
