"""TradeMaestro: a rule-based strategy executor for MetaTrader 5.

The same engine runs in backtest, paper and live mode; see ``DESIGN.md`` in the shared folder and
the README for the layout. Times throughout are broker server time as integer seconds since
1970-01-01 (the MT5 convention), prices are in the symbol's price units, volumes in lots and money
in the account currency unless a docstring says otherwise.
"""

__version__ = "0.1.0"
