"""The run store: pragmas, round trips, idempotence, validation and all-or-nothing writes."""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.persistence.builders import RUN_ARGS, make_deal
from trademaestro.persistence import Store, StoreError

TradeRequest = namedtuple("TradeRequest", "action magic symbol volume price sl tp comment")
OrderSendResult = namedtuple("OrderSendResult", "retcode deal order volume price comment request")


def _pragma(store: Store, name: str) -> object:
    with store._engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def _add_abort_trigger(path: Path, table: str, condition: str) -> None:
    """A trigger that makes SQLite abort (an IntegrityError) on the row matching ``condition``."""
    conn = sqlite3.connect(path)
    conn.execute(
        f"CREATE TRIGGER forced_failure BEFORE INSERT ON {table} WHEN {condition} "
        "BEGIN SELECT RAISE(ABORT, 'forced failure'); END"
    )
    conn.commit()
    conn.close()


def test_creates_parent_directories_and_uses_wal(store: Store) -> None:
    assert store.path.is_file()
    assert _pragma(store, "journal_mode") == "wal"
    assert _pragma(store, "synchronous") == 1  # NORMAL
    assert _pragma(store, "foreign_keys") == 1
    # journal_mode=WAL is persistent: a plain sqlite3 connection sees it too.
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_default_path_is_in_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Store.default_path() == tmp_path / "trademaestro" / "trademaestro.sqlite"


def test_run_ids_and_latest(store: Store) -> None:
    assert store.latest_run_id() is None
    assert store.run_ids() == []
    first = store.begin_run(**RUN_ARGS)
    second = store.begin_run(**{**RUN_ARGS, "mode": "paper"})
    assert store.run_ids() == [first, second]
    assert store.latest_run_id() == second
    assert second == first + 1


def test_run_round_trip(store: Store, run_id: int) -> None:
    run = store.load_run(run_id)
    assert run["status"] == "running"
    assert run["finished_at"] is None and run["final_balance"] is None
    assert run["started_at"].endswith("+00:00")
    for key, value in RUN_ARGS.items():
        assert run[key] == value, key
    store.finish_run(run_id, status="completed", final_balance=10_015.0, final_equity=10_015.5)
    run = store.load_run(run_id)
    assert run["status"] == "completed"
    assert run["final_balance"] == pytest.approx(10_015.0, abs=1e-9)
    assert run["final_equity"] == pytest.approx(10_015.5, abs=1e-9)
    assert run["error"] is None
    assert run["finished_at"] >= run["started_at"]


def test_finish_run_refuses_unknown_and_finished_runs(store: Store, run_id: int) -> None:
    with pytest.raises(StoreError, match=r"run 999 not found"):
        store.finish_run(999, status="failed", final_balance=1.0, final_equity=1.0)
    store.finish_run(run_id, status="failed", final_balance=1.0, final_equity=1.0, error="boom")
    assert store.load_run(run_id)["error"] == "boom"
    with pytest.raises(StoreError, match=r"already finished with status 'failed'"):
        store.finish_run(run_id, status="completed", final_balance=1.0, final_equity=1.0)
    with pytest.raises(StoreError, match=r"status: found 'done'; allowed: completed"):
        store.finish_run(run_id, status="done", final_balance=1.0, final_equity=1.0)


def test_begin_run_refuses_bad_arguments(store: Store) -> None:
    with pytest.raises(StoreError, match=r"mode: found 'demo'; allowed: backtest, paper, live"):
        store.begin_run(**{**RUN_ARGS, "mode": "demo"})
    with pytest.raises(StoreError, match=r"initial_balance: found nan"):
        store.begin_run(**{**RUN_ARGS, "initial_balance": float("nan")})
    with pytest.raises(StoreError, match=r"data_to: found 1 < data_from"):
        store.begin_run(**{**RUN_ARGS, "data_to": 1})
    with pytest.raises(StoreError, match=r"options\.bad: found object"):
        store.begin_run(**{**RUN_ARGS, "options": {"bad": object()}})
    assert store.run_ids() == []


def test_check_constraints_hold_below_the_python_checks(store: Store, run_id: int) -> None:
    with pytest.raises(IntegrityError, match="ck_mode_allowed"), store._engine.begin() as conn:
        conn.execute(text("UPDATE runs SET mode = 'demo' WHERE id = :id"), {"id": run_id})
    assert store.load_run(run_id)["mode"] == "backtest"


def test_order_round_trip_with_named_tuples(store: Store, run_id: int) -> None:
    request = TradeRequest(1, 1001, "XAUUSD", 0.1, 2158.99, 2150.0, 2170.0, "tm:ab12")
    result = OrderSendResult(10009, 7, 7, 0.1, 2158.99, "Request executed", request)
    store.record_order(
        run_id,
        client_id="ab12",
        strategy_id="strat-1",
        magic=1001,
        symbol="XAUUSD",
        action="open",
        reason="signal",
        time=1710916200,
        request=request._asdict(),
        result=result._asdict(),
        retcode=10009,
        error=None,
        order_ticket=7,
        deal_ticket=7,
        position_ticket=7,
    )
    (order,) = store.load_orders(run_id)
    assert order["request"] == {
        "action": 1,
        "magic": 1001,
        "symbol": "XAUUSD",
        "volume": 0.1,
        "price": 2158.99,
        "sl": 2150.0,
        "tp": 2170.0,
        "comment": "tm:ab12",
    }
    # The nested TradeRequest keeps its field names.
    assert order["result"]["request"]["comment"] == "tm:ab12"
    assert order["result"]["retcode"] == 10009
    assert (order["action"], order["reason"], order["order_ticket"]) == ("open", "signal", 7)
    assert order["deal_ticket"] == 7 and order["position_ticket"] == 7 and order["error"] is None


def test_order_for_unknown_run_is_refused_by_the_foreign_key(store: Store, run_id: int) -> None:
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        store.record_order(
            run_id + 1,
            client_id="x",
            strategy_id="s",
            magic=1,
            symbol="XAUUSD",
            action="close",
            reason="end",
            time=1,
            request={},
            result=None,
            retcode=None,
            error="timeout",
            order_ticket=None,
            deal_ticket=None,
            position_ticket=None,
        )
    assert store.load_orders(run_id + 1) == []


def test_deals_are_idempotent_on_run_and_ticket(store: Store, run_id: int) -> None:
    deals = [make_deal(1), make_deal(2, entry=1, type=1, price=2160.49, profit=15.0)]
    store.record_deals(run_id, deals)
    store.record_deals(run_id, deals)
    # An overlapping window: deal 2 again (changed text must not overwrite), deal 3 new.
    store.record_deals(run_id, [make_deal(2, comment="again"), make_deal(3, time=1710917100)])
    loaded = store.load_deals(run_id)
    assert [d["ticket"] for d in loaded] == [1, 2, 3]
    assert loaded[1] == deals[1]
    # The same ticket in another run is another deal.
    other = store.begin_run(**RUN_ARGS)
    store.record_deals(other, [make_deal(1)])
    assert [d["ticket"] for d in store.load_deals(other)] == [1]


def test_deals_accept_trade_deal_named_tuples_and_default_optional_fields(
    store: Store, run_id: int
) -> None:
    fields = make_deal(5)
    TradeDeal = namedtuple("TradeDeal", list(fields))  # type: ignore[misc]
    old_build = {k: v for k, v in make_deal(6).items() if k not in ("fee", "time_msc")}
    store.record_deals(run_id, [TradeDeal(**fields), old_build])
    first, second = store.load_deals(run_id)
    assert first == fields
    assert second["fee"] == 0.0 and second["time_msc"] == 1710916200000


def test_bad_deal_is_named_and_nothing_is_written(store: Store, run_id: int) -> None:
    bad = make_deal(2)
    del bad["position_id"]
    with pytest.raises(StoreError, match=r"deals\[1\]: field 'position_id' is missing"):
        store.record_deals(run_id, [make_deal(1), bad])
    with pytest.raises(StoreError, match=r"deals\[0\]\.volume: found '0.1'"):
        store.record_deals(run_id, [make_deal(1, volume="0.1")])
    assert store.load_deals(run_id) == []


def test_failing_deal_mid_batch_rolls_back_the_whole_batch(store: Store, run_id: int) -> None:
    store.record_deals(run_id, [make_deal(1)])
    _add_abort_trigger(store.path, "deals", "NEW.ticket = 3")
    with pytest.raises(IntegrityError, match="forced failure"):
        store.record_deals(run_id, [make_deal(2), make_deal(3), make_deal(4)])
    assert [d["ticket"] for d in store.load_deals(run_id)] == [1]


def test_failing_equity_point_mid_batch_rolls_back_the_whole_batch(
    store: Store, run_id: int
) -> None:
    store.record_equity(run_id, [(100, 10_000.0, 10_000.0)])
    _add_abort_trigger(store.path, "equity", "NEW.time = 300")
    points = [(200, 10_000.0, 10_001.0), (300, 10_000.0, 10_002.0), (400, 10_000.0, 9_999.0)]
    with pytest.raises(IntegrityError, match="forced failure"):
        store.record_equity(run_id, points)
    curve = store.load_equity(run_id)
    assert curve.time.tolist() == [100]
    assert curve.equity.tolist() == [10_000.0]


def test_bad_equity_points_are_named(store: Store, run_id: int) -> None:
    cases = [
        ([(1, 1.0, 1.0), (2.5, 1.0, 1.0)], r"points\[1\]\.time: found 2.5"),
        ([(1, 1.0, 1.0), (2, float("nan"), 1.0)], r"points\[1\]\.balance: found nan"),
        ([(1, 1.0, 1.0), (2, 1.0)], r"points\[1\]: found \(2, 1.0\)"),
        ([(1, True, 1.0)], r"points\[0\]\.balance: found True"),
        ([(1, 1.0, "x")], r"points\[0\]\.equity: found 'x'"),
        ([(2**70, 1.0, 1.0)], r"points\[0\]\.time: .*signed 64-bit"),
    ]
    for points, message in cases:
        with pytest.raises(StoreError, match=message):
            store.record_equity(run_id, points)
    assert len(store.load_equity(run_id).time) == 0


def test_position_upsert_keeps_the_last_state(store: Store, run_id: int) -> None:
    args = {
        "ticket": 7,
        "symbol": "XAUUSD",
        "side": "buy",
        "volume": 0.10,
        "open_time": 1710916200,
        "open_price": 2158.99,
        "sl": 2150.0,
        "tp": 2170.0,
        "magic": 1001,
        "strategy_id": "strat-1",
        "status": "open",
    }
    store.upsert_position(run_id, **args)
    store.upsert_position(run_id, **{**args, "sl": 2158.99})
    store.upsert_position(
        run_id, **{**args, "sl": 2158.99, "status": "closed", "close_time": 1710917100}
    )
    (position,) = store.load_positions(run_id)
    assert position == {**args, "sl": 2158.99, "status": "closed", "close_time": 1710917100}
    with pytest.raises(StoreError, match=r"side: found 'long'; allowed: buy, sell"):
        store.upsert_position(run_id, **{**args, "side": "long"})


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    path.write_text("DateTime,Open,High,Low,Close\n" * 200)
    with pytest.raises(StoreError, match=r"runs\.sqlite: cannot be used as the run database"):
        Store(path)


def test_a_transaction_reads_one_snapshot(store: Store, run_id: int) -> None:
    """Transactions really BEGIN in SQLite: inside one, a commit by another connection is not
    seen (without the explicit BEGIN, Python's driver would run the SELECTs in autocommit)."""
    store.record_equity(run_id, [(100, 1.0, 1.0)])
    count = "SELECT COUNT(*) FROM equity"
    with store._engine.begin() as conn:
        assert conn.exec_driver_sql(count).scalar() == 1
        with Store(store.path) as other:
            other.record_equity(run_id, [(200, 1.0, 1.0)])
        assert conn.exec_driver_sql(count).scalar() == 1
    assert len(store.load_equity(run_id).time) == 2
