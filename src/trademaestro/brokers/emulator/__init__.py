"""The MT5 emulator: a faithful stand-in for the ``MetaTrader5`` package, driven by real bars
or ticks.

Usage::

    emu = MT5Emulator(EmulatorConfig(balance=10_000.0))
    emu.replay.load_rates("XAUUSD", Timeframe.M15, rates)   # RATES_DTYPE bars
    emu.initialize()
    emu.replay.open_bar("XAUUSD", i)     # first tick of bar i: trade here
    emu.order_send({...})
    emu.replay.run_bar("XAUUSD", i)      # rest of bar i: SL/TP, pending, swaps, stop-out

or tick by tick::

    emu.replay.load_ticks("EURUSD", Timeframe.M1, load_ticks(path).ticks)  # TICKS_DTYPE
    emu.replay.tick("EURUSD", k)         # clock at tick k: SL/TP, pending, swaps, stop-out

See :mod:`.terminal` (the MetaTrader5 surface), :mod:`.replay` (the bar driver and its fill
assumptions), :mod:`.tickreplay` (the tick driver), :mod:`.tape` (bars built from ticks),
:mod:`.specs` (symbol specifications), :mod:`.money` (formulas) and :mod:`.faults` /
:mod:`.fault_types` (scripted fault injection: ``MT5Emulator(config, faults=FaultPlan())``).
"""

from .api import FaultHook, NoFaults
from .config import EmulatorConfig
from .constants import CONSTANT_NAMES, MT5Constants
from .fault_match import RequestMatch
from .fault_types import (
    CRASH_EXIT_CODE,
    Crash,
    Disconnect,
    Fault,
    GhostPosition,
    Hang,
    IpcTimeout,
    Latency,
    LostReply,
    Requote,
    Retcode,
)
from .faults import FaultPlan
from .replay import Replay
from .specs import DEFAULT_SYMBOLS, EmulatorSymbol, default_symbols, load_symbol_specs, spec_for
from .terminal import MT5Emulator

__all__ = [
    "CONSTANT_NAMES",
    "CRASH_EXIT_CODE",
    "DEFAULT_SYMBOLS",
    "Crash",
    "Disconnect",
    "EmulatorConfig",
    "EmulatorSymbol",
    "Fault",
    "FaultHook",
    "FaultPlan",
    "GhostPosition",
    "Hang",
    "IpcTimeout",
    "Latency",
    "LostReply",
    "MT5Constants",
    "MT5Emulator",
    "NoFaults",
    "Replay",
    "RequestMatch",
    "Requote",
    "Retcode",
    "default_symbols",
    "load_symbol_specs",
    "spec_for",
]
