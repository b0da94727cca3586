"""Trade rows of a run, built from its MT5 deals (MT5_API.md §3.7).

One row per **closing** deal (``entry`` OUT = 1 or OUT_BY = 3): a position closed in three parts
gives three rows. Each row pairs the closing deal with its position's opening deal(s) (``entry``
IN = 0, same ``position_id``, time not after the closing deal). Row fields:

- ``ticket``: the position ticket (= ``position_id``);
- ``side``: ``'buy'`` / ``'sell'`` from the opening deal's ``type`` (0 / 1);
- ``volume``: lots closed by this deal;
- ``open_time`` / ``close_time``: server time as ``YYYY-MM-DDTHH:MM:SS`` (no offset) of the
  opening deal / closing deal;
- ``open_price`` / ``close_price``: price units; when a position was opened by several IN deals
  (netting additions), ``open_price`` is their volume-weighted mean and ``open_time`` the first's;
- ``sl`` / ``tp``: last known levels from the positions table (0.0 = none, or no record);
- ``profit``: the closing deal's profit, account currency;
- ``commission``: the closing deal's commission + fee, plus the opening deals' commission + fee
  prorated by closed volume / opening volume, rounded to cents; the part closing the position's
  last volume takes the remainder, so a position's rows add up to exactly its deals' commission
  and fee (MT5 reports ``fee`` apart from ``commission``; both are costs of the trade);
- ``swap``: the closing deal's swap;
- ``exit_reason``: from the deal ``reason``: 4 → ``'sl'``, 5 → ``'tp'``, 6 → ``'stop_out'``;
  otherwise the ``reason`` of the order record whose ``order_ticket`` is the deal's ``order``
  (``'signal'``, ``'rule'``, ``'end'``, ...); otherwise ``'manual'``.

Rows are sorted by close time, then closing deal ticket. Net profit of a row is
``profit + commission + swap``.

A closing deal without an opening deal in the run (a position opened before the run) takes its
opening side, time and price from the positions table; without a record there, ``side`` is the
opposite of the closing deal's type and ``open_time`` / ``open_price`` are None. Balance and
other non-trade deals (``type`` not 0/1) and netting reversals (``entry`` INOUT = 2) make no row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from trademaestro.report.errors import ReportError
from trademaestro.report.timefmt import server_iso

ENTRY_IN, ENTRY_OUT, ENTRY_OUT_BY = 0, 1, 3
DEAL_TYPE_BUY, DEAL_TYPE_SELL = 0, 1
DEAL_REASON_EXIT = {4: "sl", 5: "tp", 6: "stop_out"}
FALLBACK_EXIT_REASON = "manual"
_VOLUME_EPS = 1e-9  # lots: far below any volume step (0.01 typical)

_REQUIRED = ("ticket", "order", "time", "type", "entry", "position_id", "reason", "volume", "price")


def _checked_deals(deals: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    out = list(deals)
    for i, deal in enumerate(out):
        for field in _REQUIRED:
            if field not in deal or deal[field] is None:
                raise ReportError(
                    f"deals[{i}] (ticket {deal.get('ticket')!r}): field {field!r} is missing; "
                    "allowed: TradeDeal fields (MT5_API.md §3.7)"
                )
    return out


def _money(deal: Mapping[str, Any], field: str) -> float:
    value = deal.get(field)
    return 0.0 if value is None else float(value)


def _cost(deal: Mapping[str, Any]) -> float:
    """Commission + fee of a deal (account currency; both are <= 0 when charged)."""
    return _money(deal, "commission") + _money(deal, "fee")


class _Opening:
    """What the closing rows of one position need of its opening deals."""

    def __init__(self, deals: Sequence[Mapping[str, Any]]) -> None:
        self.deals = deals
        self.volume = sum(float(d["volume"]) for d in deals)
        self.cost = sum(_cost(d) for d in deals)
        self.closed_volume = 0.0
        self.allocated_cost = 0.0

    def upto(self, time: int) -> list[Mapping[str, Any]]:
        return [d for d in self.deals if int(d["time"]) <= time] or list(self.deals[:1])

    def share(self, volume: float) -> float:
        """The opening cost prorated to ``volume`` lots (cents; the last part takes the rest)."""
        if self.volume <= _VOLUME_EPS:
            return 0.0
        self.closed_volume += volume
        if self.closed_volume >= self.volume - _VOLUME_EPS:
            part = self.cost - self.allocated_cost
        else:
            part = round(self.cost * volume / self.volume, 2)
        self.allocated_cost += part
        return part


def _order_reasons(orders: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """order ticket -> reason of the last order record naming it."""
    reasons: dict[int, str] = {}
    for order in orders:
        ticket = order.get("order_ticket")
        reason = order.get("reason")
        if ticket is not None and reason:
            reasons[int(ticket)] = str(reason)
    return reasons


def exit_reason(deal: Mapping[str, Any], order_reasons: Mapping[int, str]) -> str:
    """The exit reason of closing ``deal`` (see the module docstring)."""
    by_deal = DEAL_REASON_EXIT.get(int(deal["reason"]))
    if by_deal is not None:
        return by_deal
    return order_reasons.get(int(deal["order"]), FALLBACK_EXIT_REASON)


def _side(deal_type: int) -> str:
    return "buy" if deal_type == DEAL_TYPE_BUY else "sell"


def build_trades(
    deals: Iterable[Mapping[str, Any]],
    orders: Iterable[Mapping[str, Any]],
    positions: Iterable[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The trade rows of a run (one per closing deal; fields in the module docstring).

    Args:
        deals: TradeDeal mappings (``Store.load_deals``), any order.
        orders: order records with ``order_ticket`` and ``reason`` (``Store.load_orders``).
        positions: position records with ``ticket``, ``sl``, ``tp`` and, for positions opened
            before the run, ``side``, ``open_time``, ``open_price`` (``Store.load_positions``).

    Raises:
        ReportError: a deal lacks one of the fields used (naming its index and ticket).
    """
    checked = _checked_deals(deals)
    trade_deals = [d for d in checked if int(d["type"]) in (DEAL_TYPE_BUY, DEAL_TYPE_SELL)]
    trade_deals.sort(key=lambda d: (int(d["time"]), int(d.get("time_msc") or 0), int(d["ticket"])))
    opening_deals: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for deal in trade_deals:
        if int(deal["entry"]) == ENTRY_IN:
            opening_deals[int(deal["position_id"])].append(deal)
    openings = {pid: _Opening(ds) for pid, ds in opening_deals.items()}
    position_rows = {int(p["ticket"]): p for p in positions}
    reasons = _order_reasons(orders)

    closing = [d for d in trade_deals if int(d["entry"]) in (ENTRY_OUT, ENTRY_OUT_BY)]
    rows: list[dict[str, Any]] = []
    for deal in closing:
        pid = int(deal["position_id"])
        volume = float(deal["volume"])
        position = position_rows.get(pid, {})
        opening = openings.get(pid)
        if opening is not None:
            ins = opening.upto(int(deal["time"]))
            in_volume = sum(float(d["volume"]) for d in ins)
            side = _side(int(ins[0]["type"]))
            open_time: str | None = server_iso(int(ins[0]["time"]))
            open_price: float | None
            if len(ins) == 1 or in_volume <= _VOLUME_EPS:
                open_price = float(ins[0]["price"])  # exact: no averaging noise
            else:
                # Netting additions: the volume-weighted mean, without float noise past 1e-10.
                weighted = sum(float(d["price"]) * float(d["volume"]) for d in ins) / in_volume
                open_price = round(weighted, 10)
            opening_cost = opening.share(volume)
        else:
            closing_side = _side(int(deal["type"]))
            side = str(position.get("side") or ("sell" if closing_side == "buy" else "buy"))
            known_time = position.get("open_time")
            open_time = None if known_time is None else server_iso(int(known_time))
            known_price = position.get("open_price")
            open_price = None if known_price is None else float(known_price)
            opening_cost = 0.0
        rows.append(
            {
                "ticket": pid,
                "side": side,
                "volume": volume,
                "open_time": open_time,
                "open_price": open_price,
                "close_time": server_iso(int(deal["time"])),
                "close_price": float(deal["price"]),
                "sl": float(position.get("sl") or 0.0),
                "tp": float(position.get("tp") or 0.0),
                "profit": _money(deal, "profit"),
                "commission": round(_cost(deal) + opening_cost, 2),
                "swap": _money(deal, "swap"),
                "exit_reason": exit_reason(deal, reasons),
            }
        )
    # Closing deals were taken in (time, time_msc, ticket) order; the report's order is
    # (close time, deal ticket).
    order = sorted(
        range(len(closing)), key=lambda i: (int(closing[i]["time"]), int(closing[i]["ticket"]))
    )
    return [rows[i] for i in order]


def net_profit(trade: Mapping[str, Any]) -> float:
    """``profit + commission + swap`` of a trade row, account currency."""
    return float(trade["profit"]) + float(trade["commission"]) + float(trade["swap"])
