"""Issue-3 features through the whole runtime on real XAUUSD bars, checked by hand.

The pure parts (position manager, filters, sizing, limits, multi-timeframe series) have their own
exact tests; these check that the executor applies them: the right orders at the right bars with
the right volumes and levels, and the report showing each partial close as its own row.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from trademaestro.core.servertime import ServerTimeZone
from trademaestro.data import load_bars
from trademaestro.runtime.backtest import RunResult, run_backtest
from trademaestro.runtime.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples/strategies"
NEWS = ROOT / "examples/news/usd_high_impact_2024_2026.csv"


def _run(tmp_path: Path, name: str, data: str | tuple[str, ...], **kw: object) -> RunResult:
    db = tmp_path / f"{name}.sqlite"
    return run_backtest(
        RunSettings(strategy=str(EXAMPLES / f"{name}.json"), data=data, db_path=db, **kw)  # type: ignore[arg-type]
    )


def _orders(db: Path) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("select * from orders order by id")]
    con.close()
    for row in rows:
        row["request"] = json.loads(row["request_json"])["request"]
    return rows


def test_partial_break_even_and_trailing_on_real_bars(shared_data: Path, tmp_path: Path) -> None:
    """The buy of 2024-01-08 17:30 (bar 434 of XAUUSD_M15_2024Q1.csv).

    Entry at the bar's open + 16 points: 2030.21 + 0.16 = 2030.37; stop 50 pips (5.00) below:
    2025.37; risk 1 % of 9,986.50 = 99.86 over 500 USD per lot -> 0.19 lots.
    Bar 434 high 2033.38: profit 3.01 >= 20 pips activation -> trail to 2033.38 - 3.00 = 2030.38.
    Bar 435 high 2034.89 -> 2031.89. Bar 436 high 2036.95 reaches 1R (2035.37): half of 0.19
    rounded down = 0.09 closes at the next bid 2036.44; break-even (1R) would put the stop at
    2030.57, the trail at 2033.95: the tighter one wins. Bar 437 (low 2033.50) hits it.
    """
    rates = load_bars(shared_data / "XAUUSD_M15_2024Q1.csv").rates
    assert rates["time"][434] == 1704735000  # 2024-01-08 17:30 server time
    result = _run(tmp_path, "xauusd_m15_managed_exits", str(shared_data / "XAUUSD_M15_2024Q1.csv"))
    assert result.report is not None
    rows = [t for t in result.report["trades"] if t["open_time"] == "2024-01-08T17:30:00"]
    assert [(t["volume"], t["exit_reason"]) for t in rows] == [(0.09, "partial"), (0.1, "sl")]
    partial, stop = rows
    assert partial["open_price"] == pytest.approx(2030.37)
    assert partial["close_time"] == "2024-01-08T18:15:00"
    assert partial["close_price"] == pytest.approx(2036.44)
    assert partial["profit"] == pytest.approx(round((2036.44 - 2030.37) * 100 * 0.09, 2))
    assert stop["close_price"] == pytest.approx(2033.95)
    assert stop["profit"] == pytest.approx(round((2033.95 - 2030.37) * 100 * 0.10, 2))
    orders = [
        o
        for o in _orders(tmp_path / "xauusd_m15_managed_exits.sqlite")
        if 1704735000 <= o["time"] <= 1704737700
    ]
    assert [(o["action"], o["reason"]) for o in orders] == [
        ("open", orders[0]["reason"]),
        ("modify", "trailing"),
        ("modify", "trailing"),
        ("close", "partial"),
        ("modify", "trailing"),
    ]
    assert orders[0]["request"]["volume"] == 0.19
    assert orders[0]["request"]["sl"] == pytest.approx(2025.37)
    sls = [o["request"]["sl"] for o in orders if o["action"] == "modify"]
    assert sls == pytest.approx([2030.38, 2031.89, 2033.95])
    # Every modify keeps the (absent) take profit explicitly.
    assert all(o["request"]["tp"] == 0.0 for o in orders if o["action"] == "modify")


def test_session_and_spread_filters_gate_every_entry(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "XAUUSD_M15_2024Q1.csv"
    result = _run(tmp_path, "xauusd_m15_managed_exits", str(data))
    rates = load_bars(data).rates
    spread_at = dict(zip(rates["time"].tolist(), rates["spread"].tolist(), strict=True))
    tz = ServerTimeZone.mt5_default()
    opens = [
        o for o in _orders(tmp_path / "xauusd_m15_managed_exits.sqlite") if o["action"] == "open"
    ]
    assert len(opens) > 30
    for o in opens:
        utc = datetime.fromtimestamp(tz.to_utc(o["time"]), UTC)
        london = utc.astimezone(ZoneInfo("Europe/London"))
        new_york = utc.astimezone(ZoneInfo("America/New_York"))
        assert 8 <= london.hour < 17 or 8 <= new_york.hour < 17, o["time"]
        assert spread_at[o["time"]] <= 30  # 3.0 pips = 30 points of XAUUSD
    assert result.orders_rejected == 0


def test_news_blackout_and_cooldown(shared_data: Path, tmp_path: Path) -> None:
    data = str(shared_data / "XAUUSD_M15.csv")
    with_news = _run(tmp_path, "xauusd_m15_filtered", data, news_file=NEWS)
    assert with_news.report is not None
    tz = ServerTimeZone.mt5_default()
    events = [
        datetime.fromisoformat(line.split(",")[0].replace("Z", "+00:00")).timestamp()
        for line in NEWS.read_text().splitlines()
        if line[:1].isdigit()
    ]
    opens = [o for o in _orders(tmp_path / "xauusd_m15_filtered.sqlite") if o["action"] == "open"]
    for o in opens:
        utc = tz.to_utc(o["time"])
        assert all(abs(utc - e) > 3600 for e in events), o["time"]
    # Cooldown 60 minutes: no entry within an hour of the previous entry or exit.
    trades = with_news.report["trades"]
    last = [datetime.fromisoformat(t["close_time"]).timestamp() for t in trades]
    for o in opens[1:]:
        t = o["time"]
        previous = max(x for x in [*(p["time"] for p in opens if p["time"] < t), *last] if x < t)
        assert t - previous >= 3600


def test_drawdown_emergency_stop_closes_all_and_halts(shared_data: Path, tmp_path: Path) -> None:
    """maxDrawdownPercent 12: the first equity sample 12 % below the running peak halts trading:
    anything still open is closed (reason ``risk``) and no entry follows until a person resumes."""
    result = _run(tmp_path, "xauusd_m15_risk_limits", str(shared_data / "XAUUSD_M15.csv"))
    assert result.halts == 1
    con = sqlite3.connect(tmp_path / "xauusd_m15_risk_limits.sqlite")
    curve = np.array(con.execute("select time, equity from equity order by id").fetchall())
    con.close()
    peaks = np.maximum.accumulate(np.maximum(curve[:, 1], 10_000.0))
    hit = np.flatnonzero(curve[:, 1] <= peaks * 0.88 + 1e-9)
    assert hit.size, "the example reaches its drawdown limit"
    halted_at = int(curve[hit[0], 0])
    orders = _orders(tmp_path / "xauusd_m15_risk_limits.sqlite")
    assert not [o for o in orders if o["action"] == "open" and o["time"] > halted_at]
    assert all(o["time"] >= halted_at for o in orders if o["reason"] == "risk")
    assert result.report is not None
    assert all(
        t["close_time"] <= datetime.fromtimestamp(halted_at, UTC).replace(tzinfo=None).isoformat()
        or t["exit_reason"] == "risk"
        for t in result.report["trades"]
    )


def test_daily_loss_limit_stops_entries_for_the_day(shared_data: Path, tmp_path: Path) -> None:
    """maxDailyLoss 150 USD: once the day's realized loss reached it, no entry that day; the
    day's loss never exceeds the limit by more than one trade's risk (1 % of equity)."""
    result = _run(tmp_path, "xauusd_m15_risk_limits", str(shared_data / "XAUUSD_M15.csv"))
    assert result.report is not None
    orders = _orders(tmp_path / "xauusd_m15_risk_limits.sqlite")
    by_day: dict[int, float] = {}
    hit_at: dict[int, int] = {}
    for t in sorted(result.report["trades"], key=lambda t: t["close_time"]):
        close = int(datetime.fromisoformat(t["close_time"]).replace(tzinfo=UTC).timestamp())
        day = close // 86400
        by_day[day] = by_day.get(day, 0.0) + t["profit"] + t["commission"] + t["swap"]
        if by_day[day] <= -150 and day not in hit_at:
            hit_at[day] = close
    assert hit_at, "the example reaches its daily loss limit on some days"
    for day, when in hit_at.items():
        later = [
            o for o in orders if o["action"] == "open" and when < o["time"] < (day + 1) * 86400
        ]
        assert not later, (day, later[:1])
    assert min(by_day.values()) >= -150 - 2 * 0.01 * 10_000  # limit + (at most 2 positions) x 1 %


def test_correlation_filter_skips_correlated_entries(shared_data: Path, tmp_path: Path) -> None:
    data = tuple(f"{s}={shared_data / f'{s}_M15.csv'}" for s in ("EURUSD", "GBPUSD", "USDJPY"))
    result = _run(tmp_path, "fx_m15_multi_symbol", data)
    assert len(result.reports) == 3
    assert [r["strategy"]["symbol"] for r in result.reports] == ["EURUSD", "GBPUSD", "USDJPY"]
    doc = json.loads((EXAMPLES / "fx_m15_multi_symbol.json").read_text())
    doc["rules"]["filters"]["correlationFilter"]["enabled"] = False
    free = tmp_path / "free.json"
    free.write_text(json.dumps(doc))
    unfiltered = run_backtest(
        RunSettings(strategy=str(free), data=data, db_path=tmp_path / "f.sqlite")
    )
    count = lambda res: sum(len(r["trades"]) for r in res.reports)  # noqa: E731
    assert count(result) < count(unfiltered)
    # Every GBPUSD entry taken while a EURUSD position was open passed the filter: the Pearson
    # correlation of M15 close-to-close returns over the 30 days before the entry (bars closed
    # by then, aligned on time), computed here independently, is at most 0.8 in absolute value.
    eur_rates = load_bars(shared_data / "EURUSD_M15.csv").rates
    gbp_rates = load_bars(shared_data / "GBPUSD_M15.csv").rates

    def corr(t: int) -> float:
        def window(r: np.ndarray) -> dict[int, float]:
            ok = (r["time"] + 900 <= t) & (r["time"] + 900 > t - 30 * 86400)
            return dict(zip(r["time"][ok].tolist(), r["close"][ok].tolist(), strict=True))

        a, b = window(eur_rates), window(gbp_rates)
        common = sorted(set(a) & set(b))
        x = np.diff([a[k] for k in common]) / np.array([a[k] for k in common[:-1]])
        y = np.diff([b[k] for k in common]) / np.array([b[k] for k in common[:-1]])
        return float(np.corrcoef(x, y)[0, 1])

    def ts(iso: str) -> int:
        return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())

    eur, gbp = result.reports[0]["trades"], result.reports[1]["trades"]
    spans = [(ts(t["open_time"]), ts(t["close_time"])) for t in eur]
    overlapping = [t for t in gbp if any(a <= ts(t["open_time"]) < b for a, b in spans)]
    assert overlapping, "some GBPUSD entries pass while EURUSD is open"
    for t in overlapping:
        assert abs(corr(ts(t["open_time"]))) <= 0.8, t


def test_multi_timeframe_strategy_never_looks_ahead(shared_data: Path, tmp_path: Path) -> None:
    """The trades of a run cut at bar c equal the full run's trades that closed before the cut."""
    rates = load_bars(shared_data / "XAUUSD_M15.csv").rates
    cut = 12_000
    part = tmp_path / "part.csv"
    with part.open("w") as f:
        f.write("time,open,high,low,close,tick_volume,spread,real_volume\n")
        for r in rates[:cut]:
            f.write(
                f"{r['time']},{r['open']},{r['high']},{r['low']},{r['close']},"
                f"{r['tick_volume']},{r['spread']},0\n"
            )
    full = _run(tmp_path, "xauusd_m15_mtf_trend", str(shared_data / "XAUUSD_M15.csv"))
    short = run_backtest(
        RunSettings(
            strategy=str(EXAMPLES / "xauusd_m15_mtf_trend.json"),
            data=str(part),
            db_path=tmp_path / "short.sqlite",
        )
    )
    assert full.report is not None and short.report is not None
    end = datetime.fromtimestamp(int(rates["time"][cut - 1]), UTC).replace(tzinfo=None).isoformat()
    before = [t for t in short.report["trades"] if t["exit_reason"] != "end"]
    assert len(before) > 20
    assert before == [t for t in full.report["trades"] if t["close_time"] < end][: len(before)]


def test_higher_timeframe_bars_from_their_own_file(shared_data: Path, tmp_path: Path) -> None:
    """``--data XAUUSD@H1=XAUUSD_H1.csv`` feeds the H1 confirmations from the broker's own H1
    bars; they are the same broker feed as the M15 bars, so the trades match the resampled run."""
    m15 = str(shared_data / "XAUUSD_M15.csv")
    own = _run(
        tmp_path, "xauusd_m15_mtf_trend", (m15, f"XAUUSD@H1={shared_data / 'XAUUSD_H1.csv'}")
    )
    built = run_backtest(
        RunSettings(
            strategy=str(EXAMPLES / "xauusd_m15_mtf_trend.json"),
            data=m15,
            db_path=tmp_path / "built.sqlite",
        )
    )
    assert own.report is not None and built.report is not None
    assert own.report["trades"] == built.report["trades"]
    from trademaestro.core.errors import ConfigError

    with pytest.raises(ConfigError, match="found H1 bars"):
        _run(tmp_path, "xauusd_m15_mtf_trend", (m15, f"XAUUSD@H4={shared_data / 'XAUUSD_H1.csv'}"))
