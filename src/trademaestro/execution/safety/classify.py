"""What to do after a broker answer: the classification of every MT5 retcode and last_error code.

Five classes (:class:`Disposition`):

- ``SUCCESS``: the request was carried out (or the state it asked for already holds).
- ``TRANSIENT``: refused for a passing reason, nothing was executed: retry after a backoff (a
  market order is re-priced at the current quote first).
- ``CONNECTION``: the terminal has no link (to us or to the trade server), nothing was executed:
  reconnect (``initialize`` + ``login``) with backoff, then retry.
- ``UNKNOWN_OUTCOME``: the request may or may not have been executed. It must be resolved by
  looking the client id up (positions, orders, history) before anything is re-sent.
- ``PERMANENT``: refused for a reason a retry cannot change: never retried.

Sources: MT5_API.md §5.9 (retcodes and meanings), §6.5 (``None`` only when no trade result
exists), §6.7 (ambiguous outcomes: verify by reading back), §6.8 (triggers), §1.3 (``RES_*``
codes), §1.6 and §10.2 (reconnecting). Decisions, one line each:

Trade server retcodes (``OrderSendResult.retcode``; a result object means the server or terminal
answered, so nothing here is a lost reply except TIMEOUT and ERROR):

======  ====================  ===============  ====================================================
code    name                  class            why
======  ====================  ===============  ====================================================
0       (order_check "Done")  UNKNOWN_OUTCOME  §6.7: a broker answered an SLTP with 0; verify
10004   REQUOTE               TRANSIENT        price moved past deviation; not executed: re-price
10006   REJECT                PERMANENT        dealer's refusal without reason; resending the
                                               same request invites the same refusal
10007   CANCEL                PERMANENT        cancelled by the trader
10008   PLACED                SUCCESS          accepted (§6.7)
10009   DONE                  SUCCESS          executed
10010   DONE_PARTIAL          SUCCESS          executed in part; the rest is not chased
10011   ERROR                 UNKNOWN_OUTCOME  server-side processing error: may have executed
10012   TIMEOUT               UNKNOWN_OUTCOME  no answer in time (§5.9: reconcile via history)
10013   INVALID               PERMANENT        malformed request / unknown ticket
10014   INVALID_VOLUME        PERMANENT        volume outside min/max/step
10015   INVALID_PRICE         PERMANENT        price not normalized / wrong side
10016   INVALID_STOPS         PERMANENT        SL/TP too close or wrong side
10017   TRADE_DISABLED        PERMANENT        symbol or account may not trade
10018   MARKET_CLOSED         PERMANENT        out of session: no backoff reaches the next one
10019   NO_MONEY              PERMANENT        free margin insufficient
10020   PRICE_CHANGED         TRANSIENT        prices moved while processing: re-price
10021   PRICE_OFF             TRANSIENT        no quote right now
10022   INVALID_EXPIRATION    PERMANENT        bad expiration / type_time
10023   ORDER_CHANGED         TRANSIENT        order state changed under the request
10024   TOO_MANY_REQUESTS     TRANSIENT        rate limit: back off
10025   NO_CHANGES            SUCCESS          SL/TP already as asked: the wanted state holds
10026   SERVER_DISABLES_AT    PERMANENT        server forbids algo trading on the account
10027   CLIENT_DISABLES_AT    PERMANENT        terminal's Algo Trading button is off
10028   LOCKED                TRANSIENT        request locked for processing
10029   FROZEN                PERMANENT        inside the freeze level: needs the market to move
10030   INVALID_FILL          PERMANENT        filling mode not allowed
10031   CONNECTION            CONNECTION       terminal not connected to the trade server
10032   ONLY_REAL             PERMANENT        live accounts only
10033   LIMIT_ORDERS          PERMANENT        pending-order limit reached
10034   LIMIT_VOLUME          PERMANENT        symbol volume limit reached
10035   INVALID_ORDER         PERMANENT        order type not allowed
10036   POSITION_CLOSED       PERMANENT        the position is already closed
10038   INVALID_CLOSE_VOLUME  PERMANENT        close volume above the position's
10039   CLOSE_ORDER_EXIST     PERMANENT        close orders already cover the position
10040   LIMIT_POSITIONS       PERMANENT        position limit reached
10041   REJECT_CANCEL         PERMANENT        pending activation rejected, order cancelled
10042   LONG_ONLY             PERMANENT        symbol allows buys only
10043   SHORT_ONLY            PERMANENT        symbol allows sells only
10044   CLOSE_ONLY            PERMANENT        symbol allows closing only
10045   FIFO_CLOSE            PERMANENT        account requires FIFO closing
10046   HEDGE_PROHIBITED      PERMANENT        opposite positions forbidden
other   (not documented)      UNKNOWN_OUTCOME  an answer we cannot read: look it up, never resend
======  ====================  ===============  ====================================================

``last_error`` codes (§1.3) after a call returned None/False. Two columns: a read (or
``initialize``/``login``) has no side effect, so any IPC failure is a CONNECTION; ``order_send``
returning None may have reached the server unless the code proves it could not have:

======  =============================  ===============  ===============  ===========================
code    name                           read call        order_send None  why
======  =============================  ===============  ===============  ===========================
1       RES_S_OK                       SUCCESS          UNKNOWN_OUTCOME  None with "Success" is no
                                                                         known shape: look it up
-1      RES_E_FAIL                     TRANSIENT        UNKNOWN_OUTCOME  generic terminal failure
                                                                         (e.g. symbol not served
                                                                         yet); the terminal may
                                                                         have forwarded an order
-2      RES_E_INVALID_PARAMS           PERMANENT        PERMANENT        client-side validation:
                                                                         nothing was sent
-3      RES_E_NO_MEMORY                TRANSIENT        UNKNOWN_OUTCOME  may pass; side unknown
-4      RES_E_NOT_FOUND                PERMANENT        UNKNOWN_OUTCOME  "no history" (a history
                                                                         lookup reads it as empty)
-5      RES_E_INVALID_VERSION          PERMANENT        PERMANENT        needs another terminal
-6      RES_E_AUTH_FAILED              PERMANENT        PERMANENT        wrong credentials: a retry
                                                                         risks locking the account
-7      RES_E_UNSUPPORTED              PERMANENT        PERMANENT        function not supported
-8      RES_E_AUTO_TRADING_DISABLED    PERMANENT        PERMANENT        Python API trading off in
                                                                         the terminal: a human must
                                                                         switch it on; not sent
-10000  RES_E_INTERNAL_FAIL            CONNECTION       UNKNOWN_OUTCOME  IPC call failed mid-call
-10001  RES_E_INTERNAL_FAIL_SEND       CONNECTION       UNKNOWN_OUTCOME  part may have been written
-10002  RES_E_INTERNAL_FAIL_RECEIVE    CONNECTION       UNKNOWN_OUTCOME  sent, reply lost
-10003  RES_E_INTERNAL_FAIL_INIT       CONNECTION       CONNECTION       only from initialize: no
                                                                         pipe, nothing sent
-10004  RES_E_INTERNAL_FAIL_CONNECT    CONNECTION       CONNECTION       no pipe at call time
                                                                         (before initialize, after
                                                                         shutdown or a break):
                                                                         nothing left the process
-10005  RES_E_INTERNAL_FAIL_TIMEOUT    CONNECTION       UNKNOWN_OUTCOME  the terminal did not answer
                                                                         in time
other   (not documented)               TRANSIENT        UNKNOWN_OUTCOME  bounded retry / look it up
======  =============================  ===============  ===============  ===========================

A gateway error (a ``BrokerError`` with ``outcome_unknown=True``: the gateway process timed out
or crashed during the call) is UNKNOWN_OUTCOME for ``order_send`` and CONNECTION for a read.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Disposition(StrEnum):
    """What to do after an answer (see the module docstring for the tables)."""

    SUCCESS = "success"
    TRANSIENT = "transient"
    CONNECTION = "connection"
    UNKNOWN_OUTCOME = "unknown_outcome"
    PERMANENT = "permanent"


S, T, C, U, P = (
    Disposition.SUCCESS,
    Disposition.TRANSIENT,
    Disposition.CONNECTION,
    Disposition.UNKNOWN_OUTCOME,
    Disposition.PERMANENT,
)

RETCODE_NAMES: Final[dict[int, str]] = {
    10004: "REQUOTE", 10006: "REJECT", 10007: "CANCEL", 10008: "PLACED", 10009: "DONE",
    10010: "DONE_PARTIAL", 10011: "ERROR", 10012: "TIMEOUT", 10013: "INVALID",
    10014: "INVALID_VOLUME", 10015: "INVALID_PRICE", 10016: "INVALID_STOPS",
    10017: "TRADE_DISABLED", 10018: "MARKET_CLOSED", 10019: "NO_MONEY",
    10020: "PRICE_CHANGED", 10021: "PRICE_OFF", 10022: "INVALID_EXPIRATION",
    10023: "ORDER_CHANGED", 10024: "TOO_MANY_REQUESTS", 10025: "NO_CHANGES",
    10026: "SERVER_DISABLES_AT", 10027: "CLIENT_DISABLES_AT", 10028: "LOCKED",
    10029: "FROZEN", 10030: "INVALID_FILL", 10031: "CONNECTION", 10032: "ONLY_REAL",
    10033: "LIMIT_ORDERS", 10034: "LIMIT_VOLUME", 10035: "INVALID_ORDER",
    10036: "POSITION_CLOSED", 10038: "INVALID_CLOSE_VOLUME", 10039: "CLOSE_ORDER_EXIST",
    10040: "LIMIT_POSITIONS", 10041: "REJECT_CANCEL", 10042: "LONG_ONLY",
    10043: "SHORT_ONLY", 10044: "CLOSE_ONLY", 10045: "FIFO_CLOSE", 10046: "HEDGE_PROHIBITED",
}
"""``TRADE_RETCODE_<name>`` of every documented retcode (MT5_API.md §5.9)."""

RETCODE_CLASS: Final[dict[int, Disposition]] = {
    0: U,
    10004: T, 10006: P, 10007: P, 10008: S, 10009: S, 10010: S, 10011: U, 10012: U,
    10013: P, 10014: P, 10015: P, 10016: P, 10017: P, 10018: P, 10019: P,
    10020: T, 10021: T, 10022: P, 10023: T, 10024: T, 10025: S, 10026: P, 10027: P,
    10028: T, 10029: P, 10030: P, 10031: C, 10032: P, 10033: P, 10034: P, 10035: P,
    10036: P, 10038: P, 10039: P, 10040: P, 10041: P, 10042: P, 10043: P, 10044: P,
    10045: P, 10046: P,
}
"""Disposition of every trade retcode (the module docstring's first table)."""

LAST_ERROR_NAMES: Final[dict[int, str]] = {
    1: "RES_S_OK", -1: "RES_E_FAIL", -2: "RES_E_INVALID_PARAMS", -3: "RES_E_NO_MEMORY",
    -4: "RES_E_NOT_FOUND", -5: "RES_E_INVALID_VERSION", -6: "RES_E_AUTH_FAILED",
    -7: "RES_E_UNSUPPORTED", -8: "RES_E_AUTO_TRADING_DISABLED",
    -10000: "RES_E_INTERNAL_FAIL", -10001: "RES_E_INTERNAL_FAIL_SEND",
    -10002: "RES_E_INTERNAL_FAIL_RECEIVE", -10003: "RES_E_INTERNAL_FAIL_INIT",
    -10004: "RES_E_INTERNAL_FAIL_CONNECT", -10005: "RES_E_INTERNAL_FAIL_TIMEOUT",
}
"""Constant name of every ``last_error`` code (MT5_API.md §1.3)."""

READ_ERROR_CLASS: Final[dict[int, Disposition]] = {
    1: S, -1: T, -2: P, -3: T, -4: P, -5: P, -6: P, -7: P, -8: P,
    -10000: C, -10001: C, -10002: C, -10003: C, -10004: C, -10005: C,
}
"""Disposition of a failed read / connect call by its ``last_error`` code."""

SEND_ERROR_CLASS: Final[dict[int, Disposition]] = {
    1: U, -1: U, -2: P, -3: U, -4: U, -5: P, -6: P, -7: P, -8: P,
    -10000: U, -10001: U, -10002: U, -10003: C, -10004: C, -10005: U,
}
"""Disposition of ``order_send`` returning None, by its ``last_error`` code."""

RES_E_NOT_FOUND: Final = -4


def classify_retcode(retcode: int) -> Disposition:
    """The disposition of a trade result's ``retcode`` (undocumented codes: UNKNOWN_OUTCOME)."""
    return RETCODE_CLASS.get(int(retcode), U)


def classify_read_error(code: int | None) -> Disposition:
    """The disposition of a read or connect call that failed with ``last_error`` ``code``
    (None or an undocumented code: TRANSIENT, so it is retried a bounded number of times)."""
    if code is None:
        return T
    return READ_ERROR_CLASS.get(int(code), T)


def classify_send_error(code: int | None) -> Disposition:
    """The disposition of ``order_send`` returning None with ``last_error`` ``code`` (None or an
    undocumented code: UNKNOWN_OUTCOME)."""
    if code is None:
        return U
    return SEND_ERROR_CLASS.get(int(code), U)


def retcode_label(retcode: int | None) -> str:
    """``"10004 REQUOTE"`` style label for logs (``"none"`` for None)."""
    if retcode is None:
        return "none"
    return f"{retcode} {RETCODE_NAMES.get(retcode, 'UNDOCUMENTED')}"


def error_label(code: int | None) -> str:
    """``"-10004 RES_E_INTERNAL_FAIL_CONNECT"`` style label for logs (``"none"`` for None)."""
    if code is None:
        return "none"
    return f"{code} {LAST_ERROR_NAMES.get(code, 'UNDOCUMENTED')}"
