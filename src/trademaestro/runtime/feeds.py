"""Market-data feeds of a run: one bar file per symbol, and the merged replay timeline.

``--data FILE`` serves the one symbol that needs data; ``--data SYMBOL=FILE`` names the symbol
(one per symbol of a multi-symbol run); ``--data SYMBOL@H4=FILE`` gives a symbol's
higher-timeframe bars from their own file (otherwise they are built from the symbol's bars).
Every symbol replays its own bars; the timeline merges them by bar open time (broker server
time), so that bars of several symbols opening at the same moment are opened together, acted on
together, then played out together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trademaestro.core.errors import ConfigError, DataError
from trademaestro.data import LoadedBars, load_bars, resolve_data_path

_SYMBOL_SPEC = re.compile(r"^([A-Za-z0-9._#-]{2,29})=(.+)$")
_HIGHER_SPEC = re.compile(r"^([A-Za-z0-9._#-]{2,29})@([A-Za-z0-9]{1,4})=(.+)$")


def split_higher_specs(specs: Sequence[str]) -> tuple[list[str], dict[tuple[str, str], str]]:
    """Separate ``SYMBOL@TF=FILE`` specs (higher-timeframe bars from their own files) from the
    rest; returns (the rest, {(symbol, timeframe text): file})."""
    rest: list[str] = []
    higher: dict[tuple[str, str], str] = {}
    for spec in specs:
        m = _HIGHER_SPEC.match(spec)
        if m and not Path(spec).exists():
            higher[(m.group(1), m.group(2))] = m.group(3)
        else:
            rest.append(spec)
    return rest, higher


@dataclass(frozen=True, slots=True)
class SymbolFeed:
    """The bars replayed for one symbol (RATES dtype, ascending server time); for a tick-driven
    symbol, also its ticks (TICKS dtype) — the bars are then built from them."""

    symbol: str
    path: Path
    bars: LoadedBars
    ticks: np.ndarray | None = None

    @property
    def rates(self) -> np.ndarray:
        """The bars."""
        return self.bars.rates


def parse_data_specs(specs: Sequence[str], symbols: Iterable[str]) -> dict[str, str]:
    """Map each needed symbol to its data spec.

    Raises:
        ConfigError: a symbol with no data, data for a symbol no strategy trades, a bare FILE
            when several symbols need data, or a symbol given twice.
    """
    needed = list(dict.fromkeys(symbols))
    named: dict[str, str] = {}
    bare: list[str] = []
    for spec in specs:
        m = _SYMBOL_SPEC.match(spec)
        if m and not Path(spec).exists():
            sym, path = m.group(1), m.group(2)
            if sym in named:
                raise ConfigError(f"--data: symbol {sym!r} given twice ({named[sym]}, {path})")
            named[sym] = path
        else:
            bare.append(spec)
    unknown = sorted(set(named) - set(needed))
    if unknown:
        raise ConfigError(
            f"--data: found data for {', '.join(unknown)}; allowed: the strategies' symbols "
            f"({', '.join(needed)})"
        )
    missing = [s for s in needed if s not in named]
    if len(bare) > 1 or (bare and len(missing) != 1):
        raise ConfigError(
            f"--data: found {len(bare)} file(s) without a symbol for {len(missing)} symbol(s) "
            f"without data ({', '.join(missing) or 'none'}); allowed: FILE for a single symbol, "
            "else SYMBOL=FILE for each"
        )
    if bare:
        named[missing[0]] = bare[0]
        missing = []
    if missing:
        raise ConfigError(
            f"--data: no data for {', '.join(missing)}; allowed: --data SYMBOL=FILE for each"
        )
    return named


def split_symbol_spec(spec: str) -> tuple[str | None, str]:
    """``SYMBOL=FILE`` → (SYMBOL, FILE); ``FILE`` → (None, FILE)."""
    m = _SYMBOL_SPEC.match(spec)
    if m and not Path(spec).exists():
        return m.group(1), m.group(2)
    return None, spec


def load_feeds(specs: dict[str, str], *, skip_bad_rows: bool) -> dict[str, SymbolFeed]:
    """Load every symbol's bars (DataError / ConfigError on bad files)."""
    feeds = {}
    for symbol, spec in specs.items():
        path = resolve_data_path(spec)
        bars = load_bars(path, skip_bad_rows=skip_bad_rows)
        if len(bars.rates) < 2:
            raise DataError(str(path), None, f"{len(bars.rates)} bars; at least 2 are needed")
        feeds[symbol] = SymbolFeed(symbol, path, bars)
    return feeds


@dataclass(frozen=True, slots=True)
class Timeline:
    """Replay order over several symbols.

    ``times[g]`` is the open time of group ``g``; ``groups[g]`` lists ``(symbol, bar index)`` of
    the bars opening then, in a fixed symbol order.
    """

    times: list[int]
    groups: list[list[tuple[str, int]]]


def merge_timeline(feeds: dict[str, SymbolFeed]) -> Timeline:
    """The merged replay order of all feeds (see :class:`Timeline`)."""
    symbols = sorted(feeds)
    if not symbols:
        return Timeline([], [])
    all_times = np.unique(np.concatenate([feeds[s].rates["time"] for s in symbols]))
    groups: list[list[tuple[str, int]]] = [[] for _ in range(len(all_times))]
    for sym in symbols:
        times = feeds[sym].rates["time"]
        positions = np.searchsorted(all_times, times)
        for j, g in enumerate(positions.tolist()):
            groups[g].append((sym, j))
    return Timeline(all_times.tolist(), groups)
