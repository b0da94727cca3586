"""The emulator's fast paths give exactly what the general code gives: request parsing of a
plain dict, cached floating profits and account totals, fault hooks, string limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trademaestro.brokers.emulator import EmulatorConfig, MT5Emulator, NoFaults
from trademaestro.brokers.emulator.args import ArgError, PendingOverflow
from trademaestro.brokers.emulator.request import REQUEST_KEYS, parse_request
from trademaestro.core.timeframes import Timeframe

from .conftest import make_emu, read_plain_csv

VALUES: list[Any] = [
    0, 1, 7, 10, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -1, -(2**63),
    -(2**63) - 1, True, False, np.int64(3), 0.0, 0.1, -0.5, 1e300, np.float64(0.25), float("nan"),
    None, "", "XAUUSD", "tm abc", "c" * 29, "c" * 30, "é" * 29, "😀" * 14, "😀" * 15, b"x", [],
]


class _Sub(dict):  # type: ignore[type-arg]
    """A dict subclass: parse_request takes the general path for it."""


def _outcome(request: dict[str, Any]) -> Any:
    try:
        return ("ok", tuple(parse_request((request,), {})))
    except ArgError as exc:
        return ("arg", exc.code, exc.message)
    except PendingOverflow as exc:
        return ("overflow", exc.message, type(exc.cause).__name__, str(exc.cause))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([k for k, _, _ in REQUEST_KEYS] + ["other"]),
                       st.sampled_from(range(len(VALUES))), max_size=17))
def test_plain_dict_parses_like_the_general_path(picks: dict[str, int]) -> None:
    request = {key: VALUES[i] for key, i in picks.items()}
    fast, general = _outcome(request), _outcome(_Sub(request))
    assert repr(fast) == repr(general)  # repr: NaN != NaN
    if fast[0] == "ok":
        assert [type(v) for v in fast[1]] == [type(v) for v in general[1]]


def test_comment_limit_counts_utf16_units(xau_m15: np.ndarray) -> None:
    emu = make_emu(xau_m15)
    emu.replay.open_bar("XAUUSD", 100)
    base = {"action": 1, "symbol": "XAUUSD", "volume": 0.01, "type": 0}
    assert emu.order_send({**base, "comment": "é" * 29}).retcode == 10009
    assert emu.order_send({**base, "comment": "😀" * 15}) is None  # 30 UTF-16 units
    assert emu.last_error() == (-2, 'Invalid "comment" argument')
    assert emu.order_send({**base, "comment": "😀" * 14}).retcode == 10009


def test_fault_hook_subclass_of_nofaults_is_called(xau_m15: np.ndarray) -> None:
    calls: list[str] = []

    class Counting(NoFaults):
        def before_call(self, function: str) -> None:
            calls.append(function)

    emu = make_emu(xau_m15)
    emu.faults = Counting()
    emu.replay.open_bar("XAUUSD", 100)
    emu.account_info()
    emu.symbol_info_tick("XAUUSD")
    emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.01, "type": 0})
    assert calls == ["account_info", "symbol_info_tick", "order_send"]


def _uncached(emu: MT5Emulator) -> tuple[float, float, float, float, float]:
    """Account figures recomputed from scratch (the ledger's formula, no cache)."""
    ledger = emu._ledger
    profit = swap = margin = 0.0
    for pos in ledger.positions.values():
        market = ledger.markets[pos.symbol]
        price = market.bid if pos.is_buy else market.ask
        raw = ledger.money.profit(market.spec, pos.is_buy, pos.volume, pos.price_open, price,
                                  True)
        profit += round(raw or 0.0, 2)
        swap += pos.swap
        margin += pos.margin
    margin = round(margin, 2)
    equity = round(ledger.balance + profit + swap, 2)
    level = equity / margin * 100.0 if margin > 0.0 else 0.0
    return round(profit + swap, 2), equity, margin, round(equity - margin, 2), level


OPS = st.lists(st.tuples(st.sampled_from(["buy", "sell", "jbuy", "jsell", "close", "part",
                                          "sltp", "jpy", "check", "next"]),
                         st.integers(1, 50)), min_size=5, max_size=60)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(ops=OPS, start=st.integers(0, 40000))
def test_cached_totals_match_a_recomputation(xau_m15: np.ndarray, shared_data: Path,
                                             ops: list[tuple[str, int]], start: int) -> None:
    jpy = _usdjpy(shared_data)
    emu = MT5Emulator(EmulatorConfig(balance=1e6, commission_per_lot=2.0))
    emu.replay.load_rates("XAUUSD", Timeframe.M15, xau_m15)
    emu.initialize()
    rp = emu.replay
    i, j = start, 0
    rp.open_bar("XAUUSD", i)
    rp.set_quote("USDJPY", float(jpy["open"][0]), round(float(jpy["open"][0]) + 0.01, 3))
    for op, n in ops:
        positions = emu.positions_get()
        if op in ("buy", "sell", "jbuy", "jsell"):
            symbol = "USDJPY" if op[0] == "j" else "XAUUSD"
            res = emu.order_send({"action": 1, "symbol": symbol, "volume": n / 100,
                                  "type": 0 if op.endswith("buy") else 1})
            assert res.retcode == 10009
        elif op in ("close", "part") and positions:
            pos = positions[n % len(positions)]
            volume = pos.volume if op == "close" else round(max(0.01, pos.volume / 2), 2)
            res = emu.order_send({"action": 1, "symbol": pos.symbol, "volume": volume,
                                  "type": 1 - pos.type, "position": pos.ticket})
            assert res.retcode in (10009, 10038)
        elif op == "sltp" and positions:
            pos = positions[n % len(positions)]
            emu.order_send({"action": 6, "position": pos.ticket})
        elif op == "jpy":
            j += n
            bid = float(jpy["open"][j])
            rp.set_quote("USDJPY", bid, round(bid + 0.01, 3))
        elif op == "check":
            emu.order_check({"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0})
        elif op == "next":
            rp.run_bar("XAUUSD", i)
            i += 1
            rp.open_bar("XAUUSD", i)
        acc = emu.account_info()
        assert (acc.profit, acc.equity, acc.margin, acc.margin_free,
                acc.margin_level) == _uncached(emu)
        ledger = emu._ledger
        assert ledger.margin_sum == sum(p.margin for p in ledger.positions.values())
        for pos in emu.positions_get():
            assert pos.profit == _uncached_profit(emu, pos.ticket)


def _uncached_profit(emu: MT5Emulator, ticket: int) -> float:
    ledger = emu._ledger
    pos = ledger.positions[ticket]
    market = ledger.markets[pos.symbol]
    price = market.bid if pos.is_buy else market.ask
    raw = ledger.money.profit(market.spec, pos.is_buy, pos.volume, pos.price_open, price, True)
    return round(raw or 0.0, 2)


_JPY: dict[Path, np.ndarray] = {}


def _usdjpy(shared_data: Path) -> np.ndarray:
    if shared_data not in _JPY:
        _JPY[shared_data] = read_plain_csv(shared_data / "USDJPY_M15.csv")
    return _JPY[shared_data]


def test_floating_cache_follows_quotes(xau_m15: np.ndarray) -> None:
    emu = make_emu(xau_m15)
    emu.replay.open_bar("XAUUSD", 0)  # bid 2158.99 ask 2159.05
    emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 1.0, "type": 0})
    assert emu.positions_get()[0].profit == -6.0
    assert emu.account_info().equity == 9994.0
    emu.replay.set_quote("XAUUSD", 2160.0, 2160.06)
    assert emu.positions_get()[0].profit == 95.0
    assert emu.account_info().equity == 10095.0
    emu.replay.run_bar("XAUUSD", 0)  # close 2158.60
    assert emu.account_info().equity == 9955.0
    with pytest.raises(AttributeError):
        emu.positions_get()[0].profit = 1.0  # type: ignore[misc]


def test_history_lookups_follow_new_records(xau_m15: np.ndarray) -> None:
    emu = make_emu(xau_m15, balance=1e6)
    for i in range(200, 260):
        emu.replay.open_bar("XAUUSD", i)
        res = emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.02,
                              "type": i % 2, "sl": 0.0})
        assert res.retcode == 10009
        if i % 3 == 0:  # close half of the oldest position
            pos = emu.positions_get()[0]
            emu.order_send({"action": 1, "symbol": "XAUUSD", "volume": 0.01,
                            "type": 1 - pos.type, "position": pos.ticket})
        deals = emu.history_deals_get(0, 2**31 - 1)
        orders = emu.history_orders_get(0, 2**31 - 1)
        for ticket in (res.order, res.order - 3, res.order + 1):
            assert emu.history_deals_get(position=ticket) == tuple(
                d for d in deals if d.position_id == ticket)
            assert emu.history_deals_get(ticket=ticket) == tuple(
                d for d in deals if d.order == ticket)
            assert emu.history_orders_get(ticket=ticket) == tuple(
                o for o in orders if o.ticket == ticket)
            assert emu.history_orders_get(position=ticket) == tuple(
                o for o in orders if o.position_id == ticket)
        emu.replay.run_bar("XAUUSD", i)
    first = emu.history_deals_get(position=1000001)
    assert [d.entry for d in first] == [0, 1, 1] and first[0].order == 1000001  # two halves
    emu._config.deals_ticket_matches = "ticket"
    assert emu.history_deals_get(ticket=first[1].ticket) == (first[1],)
