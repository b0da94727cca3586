"""Batch and incremental computation of many series over one bar stream.

:class:`SeriesEngine` owns one streaming indicator per distinct ``(kind, params)`` and feeds it
the bars given to :meth:`SeriesEngine.extend`. A backtest extends once with every bar; a live
run extends with each bar as it closes. Both run the same ``update`` code on the same bars in
the same order, so the values are bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from trademaestro.indicators.adx import ADX
from trademaestro.indicators.atr import ATR
from trademaestro.indicators.bollinger import BollingerBands
from trademaestro.indicators.cci import CCI
from trademaestro.indicators.keys import PRICE_KINDS, SeriesKey
from trademaestro.indicators.macd import MACD
from trademaestro.indicators.moving import EMA, SMA
from trademaestro.indicators.rsi import RSI
from trademaestro.indicators.stochastic import Stochastic
from trademaestro.indicators.vwap import VWAP

FloatArray = npt.NDArray[np.float64]

_CLOSE = ("close",)
_HLC = ("high", "low", "close")


def _ints(params: tuple[float, ...], count: int) -> list[int]:
    if len(params) != count or any(float(p) != int(p) for p in params):
        raise ValueError(f"found params {params!r}; allowed: {count} integer period(s)")
    return [int(p) for p in params]


def _make_bbands(params: tuple[float, ...]) -> BollingerBands:
    if len(params) != 2:
        raise ValueError(f"found params {params!r}; allowed: (period, nbdev)")
    return BollingerBands(_ints(params[:1], 1)[0], params[1])


def _make_vwap(params: tuple[float, ...]) -> VWAP:
    if params:
        raise ValueError(f"found params {params!r}; allowed: none")
    return VWAP()


# kind -> (constructor from the params tuple, input columns, outputs in update() order)
_SPECS: dict[str, tuple[Callable[[tuple[float, ...]], Any], tuple[str, ...], tuple[str, ...]]] = {
    "sma": (lambda p: SMA(*_ints(p, 1)), _CLOSE, ("value",)),
    "ema": (lambda p: EMA(*_ints(p, 1)), _CLOSE, ("value",)),
    "rsi": (lambda p: RSI(*_ints(p, 1)), _CLOSE, ("value",)),
    "macd": (lambda p: MACD(*_ints(p, 3)), _CLOSE, ("line", "signal", "hist")),
    "bbands": (_make_bbands, _CLOSE, ("upper", "middle", "lower")),
    "stoch": (lambda p: Stochastic(*_ints(p, 3)), _HLC, ("k", "d")),
    "atr": (lambda p: ATR(*_ints(p, 1)), _HLC, ("value",)),
    "adx": (lambda p: ADX(*_ints(p, 1)), _HLC, ("adx", "plus_di", "minus_di")),
    "cci": (lambda p: CCI(*_ints(p, 1)), _HLC, ("value",)),
    "vwap": (_make_vwap, ("time", "high", "low", "close", "tick_volume"), ("value",)),
}

# Price kinds -> rates column.
_PRICE_COLUMNS = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "tick_volume",
    "spread": "spread",
}
_REQUIRED_FIELDS = ("time", "open", "high", "low", "close", "tick_volume", "spread")


class _Buffer:
    """A growing float64 array (capacity doubling: appending is O(1) amortised)."""

    __slots__ = ("data", "size")

    def __init__(self) -> None:
        self.data: FloatArray = np.empty(64, dtype=np.float64)
        self.size = 0

    def extend(self, values: Any) -> None:
        count = len(values)
        need = self.size + count
        if need > self.data.shape[0]:
            grown = np.empty(max(need, 2 * self.data.shape[0]), dtype=np.float64)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : need] = values
        self.size = need

    def view(self) -> FloatArray:
        out = self.data[: self.size]
        out.flags.writeable = False
        return out

    def __deepcopy__(self, memo: dict[int, Any]) -> _Buffer:
        """A copy that SHARES the storage: appending to the copy writes past the original's
        size only, which the original never shows (and overwrites when it grows itself), so a
        scratch copy of an engine (intrabar evaluation) costs O(indicator state), not O(bars)."""
        twin = _Buffer.__new__(_Buffer)
        twin.data = self.data
        twin.size = self.size
        return twin


class _Node:
    """One indicator instance and the buffers of the outputs somebody asked for."""

    __slots__ = ("indicator", "inputs", "outputs", "wanted")

    def __init__(self, kind: str, params: tuple[float, ...]) -> None:
        make, self.inputs, self.outputs = _SPECS[kind]
        self.indicator = make(params)
        self.wanted: dict[str, _Buffer] = {}


class SeriesEngine:
    """Computes a fixed set of series incrementally over closed bars of one symbol/timeframe.

    Args:
        keys: the series wanted (from :func:`trademaestro.indicators.registry.parse_series`).
            Keys sharing ``(kind, params)`` (``macd`` line/signal/hist, the three Bollinger
            bands, ADX with its DIs) share one indicator instance, computed once.

    Raises:
        ValueError: a key with a timeframe (multi-timeframe series are not computed here), an
            unknown kind or output, or invalid parameters.

    Values are float64 in the units of the series (price units for prices, moving averages,
    ATR, bands, MACD and VWAP; 0..100 for RSI, stochastic, ADX/DI; points for spread; ticks for
    volume). Warm-up bars are NaN (see :func:`~trademaestro.indicators.registry.lookback`).
    """

    def __init__(self, keys: Iterable[SeriesKey]) -> None:
        self._nodes: dict[tuple[str, tuple[float, ...]], _Node] = {}
        self._prices: dict[str, _Buffer] = {}
        self._routes: dict[SeriesKey, _Buffer] = {}
        self._size = 0
        self._last_time: int | None = None
        for key in keys:
            self._add(key)

    def _add(self, key: SeriesKey) -> None:
        if not isinstance(key, SeriesKey):
            raise ValueError(f"found {key!r}; allowed: a SeriesKey")
        if key.timeframe is not None:
            raise ValueError(
                f"series {key}: found timeframe {key.timeframe.name}; allowed: None "
                "(this engine computes the bars it is given; multi-timeframe is not supported)"
            )
        if key in self._routes:
            return
        if key.kind in PRICE_KINDS:
            if key.params or key.output != "value":
                raise ValueError(f"series {key}: price series take no params and output 'value'")
            buffer = self._prices.setdefault(key.kind, _Buffer())
        elif key.kind in _SPECS:
            ident = (key.kind, tuple(key.params))
            node = self._nodes.get(ident)
            if node is None:
                try:
                    node = _Node(key.kind, ident[1])
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"series {key}: {exc}") from exc
                self._nodes[ident] = node
            if key.output not in node.outputs:
                raise ValueError(
                    f"series {key}: found output {key.output!r}; allowed: {', '.join(node.outputs)}"
                )
            buffer = node.wanted.setdefault(key.output, _Buffer())
        else:
            kinds = ", ".join(sorted({*PRICE_KINDS, *_SPECS}))
            raise ValueError(f"series {key}: found kind {key.kind!r}; allowed: {kinds}")
        self._routes[key] = buffer

    @property
    def keys(self) -> tuple[SeriesKey, ...]:
        """The series this engine computes, in the order they were given."""
        return tuple(self._routes)

    @property
    def indicator_count(self) -> int:
        """Number of distinct indicator instances (shared outputs count once)."""
        return len(self._nodes)

    def __len__(self) -> int:
        """Number of bars seen so far."""
        return self._size

    def extend(self, rates: np.ndarray) -> None:
        """Consume new closed bars.

        Args:
            rates: a 1-D structured array with MT5's rates fields (``RATES_DTYPE``: ``time``
                in broker server seconds, bid prices, ``tick_volume``, ``spread`` in points),
                ascending, every ``time`` after the last bar already seen. Empty is a no-op.

        Raises:
            ValueError: wrong shape or fields, times not strictly ascending (or not after the
                previous chunk), or a non-finite open/high/low/close. Nothing is consumed then.
        """
        if not isinstance(rates, np.ndarray) or rates.ndim != 1 or rates.dtype.names is None:
            raise ValueError("rates: found a non-structured or not 1-D array; allowed: RATES_DTYPE")
        missing = [f for f in _REQUIRED_FIELDS if f not in rates.dtype.names]
        if missing:
            raise ValueError(f"rates: missing fields {missing}; allowed: RATES_DTYPE")
        count = rates.shape[0]
        if count == 0:
            return
        times = rates["time"].astype(np.int64)
        if count > 1:
            steps = np.diff(times)
            if (steps <= 0).any():
                at = int(np.argmax(steps <= 0)) + 1
                raise ValueError(
                    f"rates[{at}]: found time {int(times[at])} after {int(times[at - 1])}; "
                    "allowed: strictly ascending bar times"
                )
        if self._last_time is not None and int(times[0]) <= self._last_time:
            raise ValueError(
                f"rates[0]: found time {int(times[0])}, not after the last bar seen "
                f"({self._last_time}); allowed: only new closed bars"
            )
        for name in ("open", "high", "low", "close"):
            column = rates[name]
            if not np.isfinite(column).all():
                at = int(np.argmax(~np.isfinite(column)))
                raise ValueError(f"rates[{at}].{name}: found {column[at]!r}; allowed: finite")
        columns: dict[str, list[Any]] = {}

        def column_list(name: str) -> list[Any]:
            if name not in columns:
                data = rates[name]
                if name != "time":
                    data = data.astype(np.float64)
                columns[name] = data.tolist()
            return columns[name]

        for kind, buffer in self._prices.items():
            buffer.extend(rates[_PRICE_COLUMNS[kind]].astype(np.float64))
        for node in self._nodes.values():
            results = list(map(node.indicator.update, *[column_list(c) for c in node.inputs]))
            if len(node.outputs) == 1:
                node.wanted["value"].extend(results)
                continue
            for output, values in zip(node.outputs, zip(*results, strict=True), strict=True):
                target = node.wanted.get(output)
                if target is not None:
                    target.extend(values)
        self._size += count
        self._last_time = int(times[-1])

    def values(self, key: SeriesKey) -> FloatArray:
        """Read-only float64 values of ``key`` for every bar seen so far (``len(self)`` long).

        Raises:
            KeyError: ``key`` was not given to the constructor.
        """
        try:
            return self._routes[key].view()
        except KeyError:
            raise KeyError(f"series {key} is not computed by this engine") from None


def compute(key: SeriesKey, rates: np.ndarray) -> FloatArray:
    """Values of one series over ``rates`` (batch convenience: one engine, one extend).

    Raises:
        ValueError: as :class:`SeriesEngine` and :meth:`SeriesEngine.extend`.
    """
    engine = SeriesEngine([key])
    engine.extend(rates)
    return engine.values(key)
