"""The MT5 adapter: the broker port over any object that behaves like ``MetaTrader5``."""
