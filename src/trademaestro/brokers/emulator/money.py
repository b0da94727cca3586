"""Money arithmetic of the emulated broker: profit, margin, currency conversion, tick value, swap.

Formulas (MT5_API.md §5.7, §8; MQL5 ENUM_SYMBOL_CALC_MODE):

* profit (FOREX, CFD, CFD-index, CFD-leverage, no-leverage modes) = Δprice · contract · lots in
  the profit currency; Δprice = close − open for a buy, open − close for a sell. Other calc
  modes are treated the same way (futures/exchange modes are not emulated).
* margin, in the margin currency, times ``margin_rate``: FOREX lots·contract/leverage;
  FOREX_NO_LEVERAGE lots·contract; CFD and CFDINDEX lots·contract·price; CFDLEVERAGE
  lots·contract·price/leverage; a non-zero ``margin_initial`` replaces all of these by
  lots·margin_initial.
* conversion to the account currency uses the current quotes of the pair ``CCY``+``ACC``
  (multiply) or ``ACC``+``CCY`` (divide). When that pair is the traded symbol itself and a price
  is given (``order_calc_profit``'s close price, ``order_calc_margin``'s price) that price is the
  rate — this reproduces the documented figures (USDJPY 1 lot, 300 points: 276.54 USD for a buy,
  278.09 for a sell). Otherwise the side that is worse for the client is used: bid when
  multiplying a gain, ask when multiplying a loss or a margin (and the reverse when dividing).
* swap per rollover (``SYMBOL_SWAP_MODE_POINTS``) = points · point · contract · lots in the
  profit currency; CURRENCY_SYMBOL / CURRENCY_MARGIN / CURRENCY_DEPOSIT modes = value · lots
  in the base / margin / account currency; interest and reopen modes are not emulated (0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .specs import EmulatorSymbol

if TYPE_CHECKING:
    from .state import Market

_CFD_MODES = (2, 3)
_CFD_LEVERAGE = 4
_NO_LEVERAGE = 5


class Money:
    """Conversions and formulas bound to an account currency, a leverage and the live quotes.

    Args:
        currency: account currency (ISO code).
        leverage: account leverage (1:N).
        markets: name → :class:`Market` (their ``bid``/``ask`` are the current quotes).
    """

    __slots__ = ("currency", "leverage", "markets")

    def __init__(self, currency: str, leverage: int, markets: dict[str, Market]) -> None:
        self.currency = currency
        self.leverage = leverage
        self.markets = markets

    def convert(
        self,
        amount: float,
        currency: str,
        larger: bool,
        own: str = "",
        own_price: float = 0.0,
    ) -> float | None:
        """``amount`` of ``currency`` in the account currency, or None when no rate is quoted.

        ``larger`` picks the quote side that makes the magnitude larger (losses, margin) or
        smaller (gains). ``own``/``own_price``: the traded symbol and a price to use as the rate
        when the conversion pair is that symbol.
        """
        if currency == self.currency or amount == 0.0:
            return amount
        direct = currency + self.currency
        inverse = self.currency + currency
        if own_price > 0.0 and own == direct:
            return amount * own_price
        if own_price > 0.0 and own == inverse:
            return amount / own_price
        market = self.markets.get(direct)
        if market is not None and market.bid > 0.0:
            return amount * (market.ask if larger else market.bid)
        market = self.markets.get(inverse)
        if market is not None and market.bid > 0.0:
            return amount / (market.bid if larger else market.ask)
        return None

    def profit(
        self,
        spec: EmulatorSymbol,
        is_buy: bool,
        volume: float,
        price_open: float,
        price_close: float,
        use_close_as_rate: bool = False,
    ) -> float | None:
        """Profit of ``volume`` lots from ``price_open`` to ``price_close``, account currency
        (unrounded), or None when the profit currency cannot be converted."""
        delta = price_close - price_open if is_buy else price_open - price_close
        raw = delta * spec.contract_size * volume
        return self.convert(
            raw, spec.currency_profit, raw < 0.0, spec.name,
            price_close if use_close_as_rate else 0.0,
        )

    def margin(self, spec: EmulatorSymbol, volume: float, price: float) -> float | None:
        """Margin of ``volume`` lots at ``price`` (formula by ``calc_mode``), account currency,
        unrounded; None when the margin currency cannot be converted."""
        mode = spec.calc_mode
        if spec.margin_initial > 0.0:
            raw = volume * spec.margin_initial
        elif mode in _CFD_MODES:
            raw = volume * spec.contract_size * price
        elif mode == _CFD_LEVERAGE:
            raw = volume * spec.contract_size * price / self.leverage
        elif mode == _NO_LEVERAGE:
            raw = volume * spec.contract_size
        else:
            raw = volume * spec.contract_size / self.leverage
        return self.convert(raw * spec.margin_rate, spec.currency_margin, True, spec.name, price)

    def tick_values(self, spec: EmulatorSymbol) -> tuple[float, float]:
        """(tick value for gains, tick value for losses): account money of one ``tick_size``
        move for 1.0 lot at the current quotes; (0.0, 0.0) when no rate is quoted."""
        raw = spec.tick_size * spec.contract_size
        gain = self.convert(raw, spec.currency_profit, False)
        loss = self.convert(-raw, spec.currency_profit, True)
        if gain is None or loss is None:
            return 0.0, 0.0
        return gain, -loss

    def daily_swap(self, spec: EmulatorSymbol, is_buy: bool, volume: float) -> float:
        """Swap of one rollover for ``volume`` lots, account currency (unrounded; 0 when the
        swap mode is not emulated or no conversion rate is quoted)."""
        value = spec.swap_long if is_buy else spec.swap_short
        mode = spec.swap_mode
        if mode == 1:
            raw, currency = value * spec.point * spec.contract_size * volume, spec.currency_profit
        elif mode == 2:
            raw, currency = value * volume, spec.currency_base
        elif mode == 3:
            raw, currency = value * volume, spec.currency_margin
        elif mode == 4:
            raw, currency = value * volume, self.currency
        else:
            return 0.0
        converted = self.convert(raw, currency, raw < 0.0)
        return 0.0 if converted is None else converted
