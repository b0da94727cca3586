"""Configuration of the emulated terminal, account and broker (:class:`EmulatorConfig`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from trademaestro.core.errors import ConfigError

from .specs import EmulatorSymbol, default_symbols


@dataclass(slots=True)
class EmulatorConfig:
    """Account, terminal and broker settings of one :class:`MT5Emulator`.

    Money is in the account ``currency`` (default USD); ``commission_per_lot`` is charged per
    side, on every IN and OUT deal, as a negative ``commission`` (account currency per 1.0 lot).
    ``spread_points`` overrides every bar's spread (points) when not None. Margin call /
    stop-out levels are percent (``ACCOUNT_STOPOUT_MODE_PERCENT``). ``password`` None accepts
    any password. The account is a hedging account (``margin_mode`` 2).

    Broker quirks (MT5_API.md §9 item 11): ``pending_success_retcode`` (10008 documented, 10009
    observed), ``sltp_success_retcode`` (10009, some servers answer 0),
    ``deals_ticket_matches`` (``history_deals_get(ticket=T)`` matches the deal's ``order``
    as documented, or the deal's own ``ticket``).

    Raises:
        ConfigError: a value outside its allowed range (the message names the field).
    """

    balance: float = 10000.0
    currency: str = "USD"
    currency_digits: int = 2
    leverage: int = 100
    commission_per_lot: float = 0.0
    swaps_enabled: bool = True
    spread_points: int | None = None
    symbols: dict[str, EmulatorSymbol] = field(default_factory=default_symbols)
    login: int = 51234567
    password: str | None = None
    server: str = "TradeMaestro-Emulator"
    name: str = "TradeMaestro Emulator"
    company: str = "TradeMaestro Emulated Broker"
    account_trade_mode: int = 0
    limit_orders: int = 200
    margin_so_call: float = 50.0
    margin_so_so: float = 30.0
    account_trade_allowed: bool = True
    trade_expert: bool = True
    terminal_trade_allowed: bool = True
    tradeapi_disabled: bool = False
    connected: bool = True
    terminal_build: int = 5200
    terminal_build_date: str = "01 Aug 2025"
    maxbars: int = 100000
    pending_success_retcode: int = 10008
    sltp_success_retcode: int = 10009
    deals_ticket_matches: Literal["order", "ticket"] = "order"
    first_order_ticket: int = 1000001
    first_deal_ticket: int = 500001
    deposit_deal: bool = True

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("balance", math.isfinite(self.balance) and self.balance >= 0, "a number >= 0"),
            ("currency", len(self.currency) == 3 and self.currency.isalpha(), "3 letters"),
            ("currency_digits", 0 <= self.currency_digits <= 8, "0..8"),
            ("leverage", self.leverage >= 1, "an integer >= 1"),
            ("commission_per_lot", math.isfinite(self.commission_per_lot)
             and self.commission_per_lot >= 0, "a number >= 0 (charged as a negative amount)"),
            ("spread_points", self.spread_points is None or self.spread_points >= 0,
             "None or points >= 0"),
            ("margin_so_so", 0 <= self.margin_so_so <= self.margin_so_call,
             "0 <= margin_so_so <= margin_so_call (percent)"),
            ("deals_ticket_matches", self.deals_ticket_matches in ("order", "ticket"),
             "'order' or 'ticket'"),
            ("symbols", all(k == v.name for k, v in self.symbols.items()),
             "a dict keyed by each spec's name"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(
                    f"EmulatorConfig.{name}: found {getattr(self, name)!r}; allowed: {allowed}"
                )
