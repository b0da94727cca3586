"""The decision core on hand-computed cases: levels, sizing, decide().

Quotes come from the first bar of XAUUSD_M15.csv (2024.03.20 06:30, open 2158.99, spread 6
points): bid 2158.99, ask 2159.05. XAUUSD: 2 digits, tick 0.01 worth 1.00 USD per lot, pip 0.10.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trademaestro.brokers.port import Position
from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.decide import BarInput, base36, client_id, decide
from trademaestro.execution.intents import CloseIntent, OpenIntent
from trademaestro.execution.levels import compute_levels
from trademaestro.execution.plan import SizingRule, StopRule, TargetRule, TradePlan
from trademaestro.risk.sizing import size_volume

XAU = SymbolSpec(
    name="XAUUSD",
    digits=2,
    point=0.01,
    tick_size=0.01,
    tick_value=1.0,
    contract_size=100.0,
    volume_min=0.01,
    volume_max=100.0,
    volume_step=0.01,
)
BID, ASK = 2158.99, 2159.05


def test_pips_stop_and_rr_target_for_a_buy() -> None:
    lv = compute_levels("buy", ASK, BID, ASK, XAU, StopRule("pips", 50), TargetRule("rr_ratio", 2))
    assert lv.ok
    assert lv.sl == pytest.approx(2154.05, abs=1e-9)  # 2159.05 - 50 x 0.10
    assert lv.tp == pytest.approx(2169.05, abs=1e-9)  # 2159.05 + 2 x 5.00
    assert lv.stop_distance == pytest.approx(5.00, abs=1e-9)


def test_atr_stop_rounds_away_from_the_market() -> None:
    lv = compute_levels(
        "buy", ASK, BID, ASK, XAU, StopRule("atr", 1.5, 14), TargetRule("rr_ratio", 2), 3.456
    )
    # 1.5 x 3.456 = 5.184 -> 2153.866 -> rounded down (away from the market) to 2153.86
    assert lv.sl == pytest.approx(2153.86, abs=1e-9)
    assert lv.stop_distance == pytest.approx(5.19, abs=1e-9)
    assert lv.tp == pytest.approx(2169.43, abs=1e-9)  # 2159.05 + 2 x 5.19


def test_sell_percentage_stop_and_fixed_target() -> None:
    lv = compute_levels(
        "sell", BID, BID, ASK, XAU, StopRule("percentage", 0.5), TargetRule("fixed", 12.5)
    )
    # 0.5 % of 2158.99 = 10.79495 -> 2169.78495 -> rounded up to 2169.79
    assert lv.sl == pytest.approx(2169.79, abs=1e-9)
    assert lv.tp == pytest.approx(2146.49, abs=1e-9)


def test_stop_inside_the_stops_level_is_moved_out() -> None:
    spec = SymbolSpec(
        name="XAUUSD",
        digits=2,
        point=0.01,
        tick_size=0.01,
        tick_value=1.0,
        contract_size=100.0,
        volume_min=0.01,
        volume_max=100.0,
        volume_step=0.01,
        stops_level=50,
    )
    lv = compute_levels("buy", ASK, BID, ASK, spec, StopRule("pips", 2), None)
    # 2 pips = 0.20 below ask is only 0.14 below bid; the level needs 0.51 below bid
    assert lv.sl == pytest.approx(2158.48, abs=1e-9)
    assert lv.notes


def test_atr_stop_during_warm_up_is_no_trade() -> None:
    lv = compute_levels("buy", ASK, BID, ASK, XAU, StopRule("atr", 1.5), None, math.nan)
    assert not lv.ok


def test_risk_sizing_exact() -> None:
    # 1 % of 10,000 = 100 USD; 5.00 stop = 500 ticks x 1.00 = 500 USD per lot -> 0.20 lots
    assert size_volume(SizingRule(risk_percentage=1.0), XAU, 10_000.0, 5.00).volume == 0.2
    # 100 / 519 = 0.19267 -> rounded down to 0.19
    assert size_volume(SizingRule(risk_percentage=1.0), XAU, 10_000.0, 5.19).volume == 0.19
    # too small: 0.1 % of 1,000 = 1 USD over a 5.00 stop = 0.002 lots < 0.01
    small = size_volume(SizingRule(risk_percentage=0.1), XAU, 1_000.0, 5.00)
    assert small.volume == 0.0
    assert "below the minimum" in small.reason


def test_fixed_lots_round_down_to_the_step() -> None:
    assert size_volume(SizingRule(lot_size=0.157), XAU, 10_000.0, 0.0).volume == 0.15
    assert size_volume(SizingRule(lot_size=0.004), XAU, 10_000.0, 0.0).volume == 0.0


@given(
    equity=st.floats(100, 1e7),
    pct=st.floats(0.01, 10),
    distance=st.floats(0.05, 500),
)
def test_sizing_never_exceeds_the_risk_budget(equity: float, pct: float, distance: float) -> None:
    volume = size_volume(SizingRule(risk_percentage=pct), XAU, equity, distance).volume
    loss = distance / XAU.tick_size * XAU.tick_value * volume
    assert loss <= equity * pct / 100 * (1 + 1e-9)
    assert volume == 0.0 or XAU.volume_min <= volume <= XAU.volume_max


PLAN = TradePlan(
    strategy_id="xau",
    symbol="XAUUSD",
    magic=777,
    tag="lm",
    stop=StopRule("pips", 50),
    target=TargetRule("rr_ratio", 2),
    sizing=SizingRule(risk_percentage=1.0),
    max_positions=1,
    close_on_opposite=True,
)


def _bar(entry: dict[str, bool], positions: list[Position], exit_rule: bool = False) -> BarInput:
    return BarInput(
        time=1710916200,
        bid=BID,
        ask=ASK,
        entry=entry,  # type: ignore[arg-type]
        exit_rule=exit_rule,
        atr=math.nan,
        positions=positions,
        equity=10_000.0,
        spec=XAU,
    )


def _pos(side: str, ticket: int = 5) -> Position:
    return Position(ticket, "XAUUSD", side, 0.2, 2150.0, 2145.0, 2160.0, 0, 777, "", 0.0, 0.0)  # type: ignore[arg-type]


def test_decide_opens_a_sized_buy() -> None:
    d = decide(PLAN, _bar({"buy": True, "sell": False}, []))
    assert len(d.intents) == 1
    it = d.intents[0]
    assert isinstance(it, OpenIntent)
    assert (it.side, it.volume, it.price) == ("buy", 0.2, ASK)
    assert it.sl == pytest.approx(2154.05) and it.tp == pytest.approx(2169.05)
    assert it.client_id == f"lm.{base36(1710916200)}.o0"


def test_decide_closes_on_opposite_signal_then_opens() -> None:
    d = decide(PLAN, _bar({"buy": False, "sell": True}, [_pos("buy")]))
    kinds = [(type(i).__name__, getattr(i, "reason", None)) for i in d.intents]
    assert kinds[0] == ("CloseIntent", "signal")
    assert isinstance(d.intents[1], OpenIntent) and d.intents[1].side == "sell"


def test_decide_respects_max_positions_and_exit_rule() -> None:
    d = decide(PLAN, _bar({"buy": True}, [_pos("buy")]))
    assert d.intents == () and "maxPositions" in d.notes[0]
    d = decide(PLAN, _bar({}, [_pos("buy", 1), _pos("sell", 2)], exit_rule=True))
    assert [(i.ticket, i.reason) for i in d.intents if isinstance(i, CloseIntent)] == [
        (1, "rule"),
        (2, "rule"),
    ]


def test_buy_and_sell_on_one_bar_cancel() -> None:
    d = decide(PLAN, _bar({"buy": True, "sell": True}, []))
    assert d.intents == ()


def test_client_ids_fit_the_comment() -> None:
    plan = TradePlan("x", "XAUUSD", 1, "zzzzzz", None, None, SizingRule())
    assert len("tm " + client_id(plan, 2**31 - 1, "o", 99)) <= 29


def test_client_tags_differ_between_the_symbols_of_one_strategy() -> None:
    from trademaestro.runtime.planning import client_tag

    tags = {client_tag(817013195, s) for s in ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD")}
    assert len(tags) == 4 and all(len(t) <= 6 for t in tags)
