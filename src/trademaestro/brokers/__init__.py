"""Broker ports: the MT5 adapter (``mt5``) and the MT5 emulator (``emulator``)."""
