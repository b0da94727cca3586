"""The 11 result types of the ``MetaTrader5`` package (MT5_API.md §1.7, §3).

The real types are C ``PyStructSequence`` types (like ``os.stat_result``): they index and unpack
like tuples, have one read-only property per field, a ``repr`` of the form
``TradePosition(ticket=1, time=2, ...)`` and an ``_asdict()`` method returning a plain, *non
recursive* ``dict``. They have no ``_fields``/``_replace``/``_make``. They carry the structseq
class attributes ``n_fields``, ``n_sequence_fields``, ``n_unnamed_fields`` and ``__match_args__``.

Construction mirrors structseq: ``TradeDeal(sequence)`` with exactly ``n_fields`` items, else
``TypeError``. Field names, order and counts are the verified ones of §3 (AccountInfo 28,
TerminalInfo 22, SymbolInfo 96, Tick 8, TradePosition 19, TradeOrder 24, TradeDeal 18,
TradeRequest 17, OrderSendResult 11, OrderCheckResult 9, BookInfo 4).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any, ClassVar

# The C field descriptor of collections.namedtuple (a fast, read-only property); the collections
# module itself falls back to a property over itemgetter where the C version does not exist.
_getter: Callable[[int, str], Any] = getattr(collections, "_tuplegetter", None) or (
    lambda index, doc: property(itemgetter(index), doc=doc)
)


class _StructSeq(tuple[Any, ...]):
    """Base of the result types: a tuple with named read-only fields (PyStructSequence-like)."""

    __slots__ = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()
    n_fields: ClassVar[int] = 0
    n_sequence_fields: ClassVar[int] = 0
    n_unnamed_fields: ClassVar[int] = 0

    def __new__(cls, sequence: Iterable[Any], dict: Any = None) -> _StructSeq:
        items = tuple(sequence)
        if len(items) != cls.n_fields:
            raise TypeError(
                f"{cls.__module__}.{cls.__name__}() takes a {cls.n_fields}-sequence "
                f"({len(items)}-sequence given)"
            )
        return tuple.__new__(cls, items)

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={v!r}" for n, v in zip(self.__match_args__, self, strict=True))
        return f"{type(self).__name__}({body})"

    def _asdict(self) -> dict[str, Any]:
        """Convert named tuple object to dictionary (not recursive, like the real method)."""
        return dict(zip(self.__match_args__, self, strict=True))


def _struct(name: str, fields: str, doc: str) -> type[_StructSeq]:
    names = tuple(fields.split())
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__doc__": doc,
        "__match_args__": names,
        "n_fields": len(names),
        "n_sequence_fields": len(names),
        "n_unnamed_fields": 0,
        "__module__": __name__,
    }
    for i, field in enumerate(names):
        namespace[field] = _getter(i, f"field {i} of {name}")
    return type(name, (_StructSeq,), namespace)


AccountInfo = _struct(
    "AccountInfo",
    "login trade_mode leverage limit_orders margin_so_mode trade_allowed trade_expert "
    "margin_mode currency_digits fifo_close balance credit profit equity margin margin_free "
    "margin_level margin_so_call margin_so_so margin_initial margin_maintenance assets "
    "liabilities commission_blocked name server currency company",
    "Trading account properties (28 fields; money in the account currency).",
)
TerminalInfo = _struct(
    "TerminalInfo",
    "community_account community_connection connected dlls_allowed trade_allowed "
    "tradeapi_disabled email_enabled ftp_enabled notifications_enabled mqid build maxbars "
    "codepage ping_last community_balance retransmission company name language path data_path "
    "commondata_path",
    "Client terminal properties (22 fields).",
)
SymbolInfo = _struct(
    "SymbolInfo",
    "custom chart_mode select visible session_deals session_buy_orders session_sell_orders "
    "volume volumehigh volumelow time digits spread spread_float ticks_bookdepth "
    "trade_calc_mode trade_mode start_time expiration_time trade_stops_level "
    "trade_freeze_level trade_exemode swap_mode swap_rollover3days margin_hedged_use_leg "
    "expiration_mode filling_mode order_mode order_gtc_mode option_mode option_right bid "
    "bidhigh bidlow ask askhigh asklow last lasthigh lastlow volume_real volumehigh_real "
    "volumelow_real option_strike point trade_tick_value trade_tick_value_profit "
    "trade_tick_value_loss trade_tick_size trade_contract_size trade_accrued_interest "
    "trade_face_value trade_liquidity_rate volume_min volume_max volume_step volume_limit "
    "swap_long swap_short margin_initial margin_maintenance session_volume session_turnover "
    "session_interest session_buy_orders_volume session_sell_orders_volume session_open "
    "session_close session_aw session_price_settlement session_price_limit_min "
    "session_price_limit_max margin_hedged price_change price_volatility price_theoretical "
    "price_greeks_delta price_greeks_theta price_greeks_gamma price_greeks_vega "
    "price_greeks_rho price_greeks_omega price_sensitivity basis category currency_base "
    "currency_profit currency_margin bank description exchange formula isin name page path",
    "Symbol properties (96 fields; times server seconds, distances in points).",
)
Tick = _struct(
    "Tick",
    "time bid ask last volume time_msc flags volume_real",
    "Last tick of a symbol (8 fields; time server seconds, time_msc server milliseconds).",
)
TradePosition = _struct(
    "TradePosition",
    "ticket time time_msc time_update time_update_msc type magic identifier reason volume "
    "price_open sl tp price_current swap profit symbol comment external_id",
    "An open position (19 fields; volume lots, swap/profit account currency).",
)
TradeOrder = _struct(
    "TradeOrder",
    "ticket time_setup time_setup_msc time_done time_done_msc time_expiration type type_time "
    "type_filling state magic position_id position_by_id reason volume_initial volume_current "
    "price_open sl tp price_current price_stoplimit symbol comment external_id",
    "An active or historical order (24 fields).",
)
TradeDeal = _struct(
    "TradeDeal",
    "ticket order time time_msc type entry magic position_id reason volume price commission "
    "swap profit fee symbol comment external_id",
    "A deal (18 fields; commission/swap/profit/fee account currency).",
)
TradeRequest = _struct(
    "TradeRequest",
    "action magic order symbol volume price stoplimit sl tp deviation type type_filling "
    "type_time expiration comment position position_by",
    "The parsed trade request echoed inside results (17 fields).",
)
OrderSendResult = _struct(
    "OrderSendResult",
    "retcode deal order volume price bid ask comment request_id retcode_external request",
    "Result of order_send (11 fields; request is a TradeRequest).",
)
OrderCheckResult = _struct(
    "OrderCheckResult",
    "retcode balance equity profit margin margin_free margin_level comment request",
    "Result of order_check (9 fields; retcode 0 and comment 'Done' on success).",
)
BookInfo = _struct(
    "BookInfo",
    "type price volume volume_dbl",
    "One depth-of-market level (4 fields).",
)

RESULT_TYPES: tuple[type[_StructSeq], ...] = (
    AccountInfo,
    TerminalInfo,
    SymbolInfo,
    Tick,
    TradePosition,
    TradeOrder,
    TradeDeal,
    TradeRequest,
    OrderSendResult,
    OrderCheckResult,
    BookInfo,
)
"""The 11 result types, in the order of MT5_API.md §3."""
