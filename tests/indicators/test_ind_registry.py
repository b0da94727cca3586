"""The series-name table of STRATEGY_FORMAT.md: names, aliases, params forms, errors, lookbacks."""

from __future__ import annotations

from typing import Any

import pytest

from trademaestro.core.errors import StrategyError
from trademaestro.core.timeframes import Timeframe
from trademaestro.indicators.keys import SeriesKey
from trademaestro.indicators.registry import lookback, parse_series

TABLE: list[tuple[str, SeriesKey]] = [
    ("price", SeriesKey("close")),
    ("close", SeriesKey("close")),
    ("open", SeriesKey("open")),
    ("high", SeriesKey("high")),
    ("low", SeriesKey("low")),
    ("volume", SeriesKey("volume")),
    ("spread", SeriesKey("spread")),
    ("sma", SeriesKey("sma", (20,))),
    ("sma_50", SeriesKey("sma", (50,))),
    ("ema", SeriesKey("ema", (20,))),
    ("ema_9", SeriesKey("ema", (9,))),
    ("rsi", SeriesKey("rsi", (14,))),
    ("rsi_7", SeriesKey("rsi", (7,))),
    ("macd", SeriesKey("macd", (12, 26, 9), "line")),
    ("macd_signal", SeriesKey("macd", (12, 26, 9), "signal")),
    ("macd_histogram", SeriesKey("macd", (12, 26, 9), "hist")),
    ("macd_hist", SeriesKey("macd", (12, 26, 9), "hist")),
    ("bb_upper", SeriesKey("bbands", (20, 2.0), "upper")),
    ("bollinger_upper", SeriesKey("bbands", (20, 2.0), "upper")),
    ("bb_middle", SeriesKey("bbands", (20, 2.0), "middle")),
    ("bollinger_middle", SeriesKey("bbands", (20, 2.0), "middle")),
    ("bb", SeriesKey("bbands", (20, 2.0), "middle")),
    ("bb_lower", SeriesKey("bbands", (20, 2.0), "lower")),
    ("bollinger_lower", SeriesKey("bbands", (20, 2.0), "lower")),
    ("stoch", SeriesKey("stoch", (14, 3, 3), "k")),
    ("stoch_k", SeriesKey("stoch", (14, 3, 3), "k")),
    ("stoch_d", SeriesKey("stoch", (14, 3, 3), "d")),
    ("atr", SeriesKey("atr", (14,))),
    ("atr_10", SeriesKey("atr", (10,))),
    ("adx", SeriesKey("adx", (14,), "adx")),
    ("adx_20", SeriesKey("adx", (20,), "adx")),
    ("plus_di", SeriesKey("adx", (14,), "plus_di")),
    ("minus_di", SeriesKey("adx", (14,), "minus_di")),
    ("minus_di_7", SeriesKey("adx", (7,), "minus_di")),
    ("cci", SeriesKey("cci", (20,))),
    ("cci_14", SeriesKey("cci", (14,))),
    ("vwap", SeriesKey("vwap")),
]


@pytest.mark.parametrize(("name", "expected"), TABLE, ids=[n for n, _ in TABLE])
def test_every_name_in_the_table(name: str, expected: SeriesKey) -> None:
    assert parse_series(name) == expected
    assert parse_series(name.upper()) == expected
    assert parse_series(f"  {name.title()} ") == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("price", "close"),
        ("bb_upper", "bollinger_upper"),
        ("bb", "bb_middle"),
        ("stoch", "stoch_k"),
        ("macd_hist", "macd_histogram"),
        ("rsi", "rsi_14"),
        ("ema", "ema_20"),
        ("ema9", "ema_9"),
        ("ATR_14", "atr"),
        ("bb_upper_20", "bb_upper"),
        ("plus_di", "di_plus"),
    ],
)
def test_aliases_are_equal(a: str, b: str) -> None:
    assert parse_series(a) == parse_series(b)
    assert hash(parse_series(a)) == hash(parse_series(b))


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("ema", {"period": 9}, SeriesKey("ema", (9,))),
        ("ema", {"Period": "9"}, SeriesKey("ema", (9,))),
        ("ema", {"length": 9.0}, SeriesKey("ema", (9,))),
        ("ema_9", {"period": 9}, SeriesKey("ema", (9,))),
        ("rsi", {"timeperiod": 21, "source": "close"}, SeriesKey("rsi", (21,))),
        ("macd", {"fast": 8, "slow": 21, "signal": 5}, SeriesKey("macd", (8, 21, 5), "line")),
        ("macd_signal", {"fastPeriod": 8}, SeriesKey("macd", (8, 26, 9), "signal")),
        ("bb_upper", {"period": 20, "stdDev": 2}, SeriesKey("bbands", (20, 2.0), "upper")),
        ("bb_lower", {"std_dev": 2.5}, SeriesKey("bbands", (20, 2.5), "lower")),
        ("bb", {"stddev": 1, "period": 10}, SeriesKey("bbands", (10, 1.0), "middle")),
        ("bb", {"nbdev": 3}, SeriesKey("bbands", (20, 3.0), "middle")),
        ("bb", {"deviation": 1.5}, SeriesKey("bbands", (20, 1.5), "middle")),
        ("stoch", {"k": 14, "smoothK": 3, "d": 3}, SeriesKey("stoch", (14, 3, 3), "k")),
        ("stoch_d", {"kPeriod": 5, "slowing": 2, "dPeriod": 4}, SeriesKey("stoch", (5, 2, 4), "d")),
        ("adx", {"period": 10}, SeriesKey("adx", (10,), "adx")),
        ("cci", {"period": 14, "unused": None}, SeriesKey("cci", (14,))),
        ("vwap", {}, SeriesKey("vwap")),
        ("price", None, SeriesKey("close")),
    ],
)
def test_params_forms(name: str, params: dict[str, Any] | None, expected: SeriesKey) -> None:
    assert parse_series(name, params) == expected


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("ema_fast", None, "allowed: price, close"),
        ("foo", None, "'foo'"),
        ("", None, "allowed"),
        ("ema_0", None, "from 1 to 100000"),
        ("ema_9.5", None, "an integer"),
        ("rsi_1", None, "TA-Lib requires at least 2"),
        ("cci_1", None, "at least 2"),
        ("adx_1", None, "at least 2"),
        ("bb", {"period": 1}, "at least 2"),
        ("ema", {"period": True}, "an integer"),
        ("ema", {"period": "nine"}, "an integer"),
        ("ema", {"period": 100001}, "100000"),
        ("ema_9", {"period": 10}, "one value"),
        ("macd", {"fast": 26, "slow": 12}, "fast < slow"),
        ("macd", {"signal": 0}, "from 1"),
        ("macd_12", None, "params"),
        ("bb", {"stdDev": -1}, ">= 0"),
        ("bb", {"stdDev": float("nan")}, ">= 0"),
        ("ema", {"colour": "red"}, "ema parameters"),
        ("rsi", {"source": "high"}, "computed on close"),
        ("price", {"period": 3}, "no parameters"),
        ("vwap_5", None, "takes no period"),
    ],
)
def test_errors_name_the_json_path(name: str, params: dict[str, Any] | None, fragment: str) -> None:
    path = "rules.entry.conditions[2].indicator"
    with pytest.raises(StrategyError) as info:
        parse_series(name, params, json_path=path)
    message = str(info.value)
    assert message.startswith(path + ":")
    assert fragment in message
    assert info.value.json_path == path


def test_non_string_name_is_a_strategy_error() -> None:
    with pytest.raises(StrategyError, match=r"^x: found 9"):
        parse_series(9, json_path="x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("price", None, 0),
        ("volume", None, 0),
        ("vwap", None, 0),
        ("sma", None, 19),
        ("ema_9", None, 8),
        ("rsi", None, 14),
        ("macd", None, 33),
        ("macd_hist", {"fast": 5, "slow": 35, "signal": 5}, 38),
        ("bb_upper", None, 19),
        ("stoch", None, 17),
        ("stoch_d", {"k": 5, "smoothK": 1, "d": 1}, 4),
        ("atr", None, 14),
        ("adx", None, 27),
        ("plus_di", None, 14),
        ("minus_di_7", None, 7),
        ("cci", None, 19),
    ],
)
def test_lookback(name: str, params: dict[str, Any] | None, expected: int) -> None:
    assert lookback(parse_series(name, params)) == expected


def test_lookback_of_an_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="not computable"):
        lookback(SeriesKey("ichimoku", (9,)))


def test_keys_carry_no_timeframe() -> None:
    key = parse_series("ema_9")
    assert key.timeframe is None
    assert key.on(Timeframe.H1) != key
