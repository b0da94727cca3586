"""Order intents: what the decision core wants done, before any broker is involved.

Intents are plain values. Prices are in the symbol's price units, rounded to its digits; volumes
in lots, rounded down to the volume step; 0.0 for ``sl``/``tp`` means "none" (MT5's convention).
``client_id`` is the idempotency key of the intent: it goes into the order comment and, from the
reliability issue on, into the journal before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Side = Literal["buy", "sell"]
# Why a position is closed by the executor (SL/TP/stop-out closes are the broker's own):
# signal (opposite entry signal), rule (exit conditions), end (data ended), manual (a person or
# command), risk (emergency stop: drawdown limit), partial (a partial take-profit level), time
# (smartExit.maxHoldingHours), target (smartExit rrTarget/atrTarget).
CloseReason = Literal["signal", "rule", "end", "manual", "risk", "partial", "time", "target"]


@dataclass(frozen=True, slots=True)
class OpenIntent:
    """Open a market position.

    Attributes:
        strategy_id: the strategy asking.
        symbol: broker symbol name.
        side: ``buy`` fills at ask, ``sell`` at bid.
        volume: lots, already a valid multiple of the volume step.
        sl, tp: price levels, 0.0 for none.
        magic: the strategy's magic number.
        client_id: short unique id (goes in the order comment, at most 24 characters).
        price: the quote the decision was made at (ask for buy, bid for sell), for the request.
        reason: why, in words (for the log).
    """

    strategy_id: str
    symbol: str
    side: Side
    volume: float
    sl: float
    tp: float
    magic: int
    client_id: str
    price: float
    reason: str = "entry"


@dataclass(frozen=True, slots=True)
class CloseIntent:
    """Close (all or part of) an open position by an opposite market deal.

    Attributes:
        ticket: position ticket.
        volume: lots to close; the position's whole volume for a full close.
        reason: a :data:`CloseReason`.
    """

    strategy_id: str
    symbol: str
    ticket: int
    side: Side  # side of the POSITION being closed
    volume: float
    magic: int
    client_id: str
    reason: CloseReason


@dataclass(frozen=True, slots=True)
class ModifyIntent:
    """Set a position's SL and TP (both are sent: MT5 clears a level left out)."""

    strategy_id: str
    symbol: str
    ticket: int
    sl: float
    tp: float
    magic: int
    client_id: str
    reason: str = "modify"


Intent = OpenIntent | CloseIntent | ModifyIntent
