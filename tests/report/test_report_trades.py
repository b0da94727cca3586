"""Trade rows from hand-built deal sequences: exact values, proration, exit reasons, order."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.persistence.builders import make_deal
from trademaestro.report.errors import ReportError
from trademaestro.report.trades import build_trades, net_profit

T0 = 1710916200  # 2024-03-20 06:30:00 server time, the first XAUUSD M15 bar of the data


def _order(order_ticket: int, reason: str, action: str = "close") -> dict[str, Any]:
    return {"order_ticket": order_ticket, "reason": reason, "action": action}


def _position(ticket: int, sl: float = 0.0, tp: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"ticket": ticket, "sl": sl, "tp": tp, **extra}


def test_a_buy_closed_on_signal() -> None:
    deals = [
        make_deal(
            2,
            order=2,
            position_id=2,
            type=0,
            entry=0,
            volume=0.10,
            price=2158.99,
            commission=-0.70,
            time=T0,
        ),
        make_deal(
            3,
            order=3,
            position_id=2,
            type=1,
            entry=1,
            volume=0.10,
            price=2160.49,
            commission=-0.70,
            profit=15.00,
            time=T0 + 3 * 900,
        ),
    ]
    orders = [_order(2, "signal", "open"), _order(3, "signal")]
    (row,) = build_trades(deals, orders, [_position(2, sl=2150.0, tp=2170.0)])
    assert row == {
        "ticket": 2,
        "side": "buy",
        "volume": 0.10,
        "open_time": "2024-03-20T06:30:00",
        "open_price": 2158.99,
        "close_time": "2024-03-20T07:15:00",
        "close_price": 2160.49,
        "sl": 2150.0,
        "tp": 2170.0,
        "profit": 15.00,
        "commission": -1.40,
        "swap": 0.0,
        "exit_reason": "signal",
    }
    assert net_profit(row) == pytest.approx(13.60, abs=1e-9)


def test_a_partial_close_gives_one_row_per_closing_deal_with_prorated_commission() -> None:
    # Sell 0.30 at 2156.85; close 0.10 at 2155.04 (rule), then 0.20 at 2153.20 (end of data).
    deals = [
        make_deal(
            10,
            order=10,
            position_id=10,
            type=1,
            entry=0,
            volume=0.30,
            price=2156.85,
            commission=-2.10,
            time=T0 + 900,
        ),
        make_deal(
            11,
            order=11,
            position_id=10,
            type=0,
            entry=1,
            volume=0.10,
            price=2155.04,
            commission=-0.70,
            profit=18.10,
            swap=-0.25,
            time=T0 + 14 * 900,
        ),
        make_deal(
            12,
            order=12,
            position_id=10,
            type=0,
            entry=1,
            volume=0.20,
            price=2153.20,
            commission=-1.40,
            profit=73.00,
            time=T0 + 26 * 900,
        ),
    ]
    orders = [_order(10, "signal", "open"), _order(11, "rule"), _order(12, "end")]
    first, second = build_trades(deals, orders, [_position(10)])
    assert (first["side"], first["volume"], first["exit_reason"]) == ("sell", 0.10, "rule")
    assert first["open_time"] == second["open_time"] == "2024-03-20T06:45:00"
    assert first["close_time"] == "2024-03-20T10:00:00"
    assert second["close_time"] == "2024-03-20T13:00:00"
    assert first["profit"] == pytest.approx(18.10, abs=1e-9)
    assert first["commission"] == pytest.approx(-1.40, abs=1e-9)  # -0.70 + -2.10 x 0.1/0.3
    assert first["swap"] == pytest.approx(-0.25, abs=1e-9)
    assert (second["volume"], second["exit_reason"]) == (0.20, "end")
    assert second["commission"] == pytest.approx(-2.80, abs=1e-9)  # -1.40 + -2.10 x 0.2/0.3
    assert second["profit"] == pytest.approx(73.00, abs=1e-9)


def test_uneven_proration_gives_the_remainder_to_the_last_part() -> None:
    deals = [make_deal(1, volume=0.30, commission=-1.00, entry=0)]
    deals += [
        make_deal(t, position_id=1, type=1, entry=1, volume=0.10, time=T0 + t * 60)
        for t in (2, 3, 4)
    ]
    rows = build_trades(deals, [], [])
    assert [r["commission"] for r in rows] == pytest.approx([-0.33, -0.33, -0.34], abs=1e-9)


def test_fee_counts_as_commission() -> None:
    deals = [
        make_deal(1, entry=0, commission=-0.70, fee=-0.10),
        make_deal(2, position_id=1, type=1, entry=1, commission=-0.70, fee=-0.10, time=T0 + 60),
    ]
    (row,) = build_trades(deals, [], [])
    assert row["commission"] == pytest.approx(-1.60, abs=1e-9)


@pytest.mark.parametrize(("reason", "expected"), [(4, "sl"), (5, "tp"), (6, "stop_out")])
def test_broker_exits_come_from_the_deal_reason(reason: int, expected: str) -> None:
    deals = [
        make_deal(1, entry=0, type=1, price=2158.99),
        make_deal(2, position_id=1, type=0, entry=1, reason=reason, price=2150.0, time=T0 + 900),
    ]
    # An order record for the closing order must not override what the server did.
    (row,) = build_trades(deals, [_order(2, "signal")], [_position(1, sl=2170.0, tp=2150.0)])
    assert row["exit_reason"] == expected
    assert (row["side"], row["sl"], row["tp"]) == ("sell", 2170.0, 2150.0)


def test_an_end_exit_and_the_manual_fallback() -> None:
    deals = [
        make_deal(1, entry=0),
        make_deal(2, entry=0, position_id=2),
        make_deal(3, position_id=1, type=1, entry=1, order=30, time=T0 + 900),
        make_deal(4, position_id=2, type=1, entry=1, order=40, reason=0, time=T0 + 900),
    ]
    rows = build_trades(deals, [_order(30, "signal"), _order(30, "end")], [])
    assert [(r["ticket"], r["exit_reason"]) for r in rows] == [(1, "end"), (2, "manual")]


def test_rows_sort_by_close_time_then_deal_ticket() -> None:
    deals = [
        make_deal(1, entry=0),
        make_deal(2, entry=0, position_id=2),
        make_deal(3, entry=0, position_id=3),
        make_deal(9, position_id=1, type=1, entry=1, time=T0 + 1800, time_msc=(T0 + 1800) * 1000),
        make_deal(
            8, position_id=2, type=1, entry=1, time=T0 + 1800, time_msc=(T0 + 1800) * 1000 + 5
        ),
        make_deal(7, position_id=3, type=1, entry=1, time=T0 + 2700),
    ]
    assert [r["ticket"] for r in build_trades(deals, [], [])] == [2, 1, 3]


def test_close_by_deals_make_one_row_each_and_balance_deals_none() -> None:
    deals = [
        make_deal(100, type=2, entry=0, position_id=0, symbol="", profit=10_000.0, volume=0.0),
        make_deal(1, entry=0, type=0, price=2158.99),
        make_deal(2, entry=0, type=1, position_id=2, price=2160.00),
        make_deal(3, entry=3, type=1, position_id=1, price=2160.00, profit=10.10, time=T0 + 900),
        make_deal(4, entry=3, type=0, position_id=2, price=2160.00, time=T0 + 900),
    ]
    rows = build_trades(deals, [], [])
    assert [(r["ticket"], r["side"], r["exit_reason"]) for r in rows] == [
        (1, "buy", "manual"),
        (2, "sell", "manual"),
    ]
    assert rows[0]["profit"] == pytest.approx(10.10, abs=1e-9)


def test_a_position_opened_before_the_run_uses_the_positions_table() -> None:
    closing = make_deal(5, position_id=77, type=1, entry=1, price=2160.49, time=T0 + 900)
    known = _position(77, side="buy", open_time=T0 - 86400, open_price=2150.0, sl=2140.0)
    (row,) = build_trades([closing], [], [known])
    assert (row["side"], row["open_time"], row["open_price"]) == (
        "buy",
        "2024-03-19T06:30:00",
        2150.0,
    )
    (unknown,) = build_trades([closing], [], [])
    # Closed by a sell deal: the position was a buy; when it opened is not known.
    assert (unknown["side"], unknown["open_time"], unknown["open_price"]) == ("buy", None, None)


def test_a_deal_without_a_needed_field_is_named() -> None:
    bad = make_deal(3, entry=1)
    del bad["position_id"]
    with pytest.raises(ReportError, match=r"deals\[1\] \(ticket 3\): field 'position_id'"):
        build_trades([make_deal(1), bad], [], [])


cents = st.integers(min_value=-50_000, max_value=50_000).map(lambda c: c / 100)


@st.composite
def positions_closed_in_parts(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Deals of 1..5 positions, each opened once and closed in 1..4 parts (volumes in 0.01)."""
    deals: list[dict[str, Any]] = []
    ticket = 1
    for pid in range(1, draw(st.integers(1, 5)) + 1):
        parts = draw(st.lists(st.integers(1, 50), min_size=1, max_size=4))
        deals.append(
            make_deal(
                ticket,
                position_id=pid,
                entry=0,
                type=draw(st.integers(0, 1)),
                volume=sum(parts) / 100,
                commission=draw(cents),
                time=T0,
            )
        )
        ticket += 1
        for k, part in enumerate(parts):
            deals.append(
                make_deal(
                    ticket,
                    position_id=pid,
                    entry=draw(st.sampled_from([1, 3])),
                    type=1,
                    volume=part / 100,
                    profit=draw(cents),
                    commission=draw(cents),
                    swap=draw(cents),
                    time=T0 + 900 * (k + 1),
                )
            )
            ticket += 1
    return deals


@settings(max_examples=200, deadline=None)
@given(deals=positions_closed_in_parts())
def test_trade_nets_add_up_to_the_deals(deals: list[dict[str, Any]]) -> None:
    rows = build_trades(deals, [], [])
    closing = [d for d in deals if d["entry"] in (1, 3)]
    assert len(rows) == len(closing)
    expected = sum(d["profit"] + d["commission"] + d["swap"] for d in closing)
    expected += sum(d["commission"] for d in deals if d["entry"] == 0)  # all fully closed
    assert sum(net_profit(r) for r in rows) == pytest.approx(expected, abs=1e-6)
    assert sum(r["profit"] for r in rows) == pytest.approx(
        sum(d["profit"] for d in closing), abs=1e-6
    )
