"""``SafeBroker``: every broker call classified, retried only when that is safe, and counted by
the connection circuit breaker.

Per call (a read, ``open_market``, ``close_position`` or ``modify_sltp`` of an
:class:`~trademaestro.brokers.mt5.adapter.MT5Adapter`), up to ``policy.max_attempts`` attempts
driven by tenacity with an injected ``sleep`` and a seeded jitter (:mod:`.policy`). Each attempt's
answer is classified (:mod:`.classify`):

- SUCCESS / PERMANENT: returned at once (a read's PERMANENT failure raises its ``BrokerError``);
- TRANSIENT: retried after the backoff; a market open is re-priced at the current quote first
  (ask for a buy, bid for a sell; SL/TP shifted by the same difference unless configured off);
- CONNECTION: the next attempt (of this call or of the next call) first reconnects
  (``shutdown``, ``initialize(**connect_kwargs)``, then ``login`` when :class:`Credentials` are
  configured), then retries;
- UNKNOWN_OUTCOME of a trade request: returned at once, never retried here; the exactly-once
  executor resolves it by lookup. (A read has no side effect: its UNKNOWN is a CONNECTION.)

Breaker (:mod:`.breaker`): an attempt ending CONNECTION or UNKNOWN_OUTCOME is a failure, any
other answer a success. While the breaker is not CLOSED a new entry raises
:class:`~.errors.CircuitOpenError` before anything is sent; while it is OPEN every other call
makes one attempt only (fail fast, but closes and reads still get their chance).

Every attempt is logged on ``trademaestro.safety.calls`` with the operation, attempt number,
client id, strategy, symbol, magic, class and retcode / last_error.

The outcome of a trade call carries, in ``OrderOutcome.extra``: ``disposition`` (the class value),
``attempts``, and ``price`` (the price of the last request sent, after re-pricing).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt

from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.mt5.gateway import GatewayClosed
from trademaestro.brokers.port import AccountSnapshot, OrderOutcome, Position, Quote
from trademaestro.core.errors import BrokerError, SymbolError
from trademaestro.core.symbols import SymbolSpec
from trademaestro.core.timeframes import Timeframe
from trademaestro.execution.intents import CloseIntent, Intent, ModifyIntent, OpenIntent

from .attempt import TRANSPORT_ERRORS as _TRANSPORT_ERRORS
from .attempt import Try as _Try
from .attempt import outcome_unknown, synthetic
from .breaker import BreakerState, CircuitBreaker
from .classify import (
    RES_E_NOT_FOUND,
    Disposition,
    classify_read_error,
    classify_retcode,
    classify_send_error,
    error_label,
    retcode_label,
)
from .errors import CircuitOpenError
from .policy import JitteredBackoff, RetryPolicy

log = logging.getLogger("trademaestro.safety.calls")
R = TypeVar("R")
_FAILURES = (Disposition.CONNECTION, Disposition.UNKNOWN_OUTCOME)
_RETRYABLE = (Disposition.TRANSIENT, Disposition.CONNECTION)
_HISTORY = ("history_deals_get", "history_orders_get")


@dataclass(frozen=True, slots=True)
class Credentials:
    """Account credentials for ``login`` after a reconnect (login = account number)."""

    login: int
    password: str | None = None
    server: str | None = None


class SafeBroker:
    """The broker port with classified retries, reconnects and a circuit breaker.

    Args:
        adapter: the :class:`MT5Adapter` (``adapter.mt5`` is the MetaTrader5-like object or a
            gateway proxy).
        policy: attempts, backoff, re-pricing (default :class:`RetryPolicy()`).
        breaker: the connection breaker (default: a CLOSED :class:`CircuitBreaker()`).
        connect_kwargs: keyword arguments of ``initialize`` on reconnect (path, timeout...).
        credentials: when given, ``login`` follows every reconnecting ``initialize``.
        sleep: the backoff sleep, seconds (tests inject a recorder).
        rng: jitter source (tests inject ``random.Random(seed)``).
    """

    def __init__(
        self,
        adapter: MT5Adapter,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        connect_kwargs: Mapping[str, Any] | None = None,
        credentials: Credentials | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.adapter = adapter
        self.policy = policy if policy is not None else RetryPolicy()
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.connect_kwargs = dict(connect_kwargs or {})
        self.credentials = credentials
        self.sleep = sleep
        self._wait = JitteredBackoff(self.policy, rng if rng is not None else random.Random())
        self.reconnects = 0
        self.needs_reconnect = False

    # -- state ------------------------------------------------------------------------------
    def entries_allowed(self) -> bool:
        """False while the breaker is OPEN or HALF_OPEN: the executor must not open positions."""
        return self.breaker.entries_allowed()

    def emergency_exit_requested(self) -> bool:
        """True when the breaker is not CLOSED and the configuration asks to close positions."""
        return self.breaker.emergency_exit_requested()

    # -- connection -------------------------------------------------------------------------
    def reconnect(self) -> bool:
        """Reconnect with backoff, at most ``policy.max_attempts`` times; True once connected.

        A PERMANENT failure (wrong credentials, incompatible terminal) stops at once. Each failed
        attempt counts as a breaker failure."""
        for n in range(1, self.policy.max_attempts + 1):
            error = self._reconnect_once()
            if error is None:
                self.needs_reconnect = False
                self.breaker.record_success()
                return True
            disposition = classify_read_error(error.code)
            self.breaker.record_failure(f"reconnect: {error}")
            if disposition is Disposition.PERMANENT or n == self.policy.max_attempts:
                return False
            self.sleep(self.policy.delay(n, self._wait.rng))
        return False  # pragma: no cover - the loop always returns

    def _reconnect_once(self) -> BrokerError | None:
        """One reconnect: None on success, else the error (with its last_error code)."""
        mt5 = self.adapter.mt5
        try:
            try:
                mt5.shutdown()
            except Exception as exc:  # a dead pipe may refuse even shutdown: reconnect anyway
                log.debug("shutdown before reconnect failed: %r", exc)
            self.adapter.connect(**self.connect_kwargs)
            creds = self.credentials
            if creds is not None and not mt5.login(
                creds.login, password=creds.password, server=creds.server
            ):
                code, text = mt5.last_error()
                raise BrokerError(f"login failed: ({code}, {text!r})", code=int(code))
        except BrokerError as exc:
            log.warning("reconnect failed: %s (%s)", exc, error_label(exc.code))
            return exc
        except _TRANSPORT_ERRORS as exc:
            log.warning("reconnect failed: transport error %r", exc)
            return BrokerError(f"reconnect: {exc!r}", code=None)
        self.reconnects += 1
        log.warning("reconnected to the terminal (reconnect #%d)", self.reconnects)
        return None

    # -- reads ------------------------------------------------------------------------------
    def call(self, name: str, fn: Callable[[], R], *, context: str = "") -> R:
        """Run the read ``fn`` with classified retries; return its value.

        Raises:
            BrokerError: the last failure when attempts are exhausted or it is PERMANENT.
            SymbolError: a symbol the broker does not know (PERMANENT).
        """

        def attempt(_n: int) -> _Try:
            try:
                return _Try(Disposition.SUCCESS, fn())
            except (BrokerError, SymbolError, *_TRANSPORT_ERRORS) as exc:
                return self._read_failure(exc)

        last = self._run(name, attempt, context, entry=False)
        if last.disposition is Disposition.SUCCESS:
            return last.value  # type: ignore[no-any-return]
        assert last.error is not None
        raise last.error

    def _read_failure(self, exc: BaseException) -> _Try:
        if isinstance(exc, GatewayClosed):
            return _Try(Disposition.PERMANENT, error=exc, detail=f"gateway closed: {exc}")
        if outcome_unknown(exc):
            return _Try(Disposition.CONNECTION, error=exc, detail=f"gateway: {exc}")
        code = exc.code if isinstance(exc, BrokerError) else self._last_error_code()
        return _Try(classify_read_error(code), error=exc, detail=f"{error_label(code)}: {exc}")

    def _last_error_code(self) -> int | None:
        try:
            return int(self.adapter.mt5.last_error()[0])
        except Exception:
            return None

    def raw(self, function: str, *args: Any, **kwargs: Any) -> Any:
        """``adapter.mt5.<function>(*args, **kwargs)`` with retries; None/False fails with the
        call's last_error. A history query failing with RES_E_NOT_FOUND (-4, "no history")
        returns an empty tuple."""

        def fn() -> Any:
            value = getattr(self.adapter.mt5, function)(*args, **kwargs)
            if value is None or value is False:
                code, text = self.adapter.mt5.last_error()
                if function in _HISTORY and int(code) == RES_E_NOT_FOUND:
                    return ()
                raise BrokerError(f"{function} failed: ({code}, {text!r})", code=int(code))
            return value

        return self.call(function, fn)

    def symbol_spec(self, symbol: str, *, refresh: bool = False) -> SymbolSpec:
        """:meth:`MT5Adapter.symbol_spec` with retries (``refresh`` re-reads tick value etc.)."""
        return self.call(
            "symbol_info",
            lambda: self.adapter.symbol_spec(symbol, refresh=refresh),
            context=symbol,
        )

    def quote(self, symbol: str) -> Quote:
        """:meth:`MT5Adapter.quote` with retries."""
        return self.call("symbol_info_tick", lambda: self.adapter.quote(symbol), context=symbol)

    def account(self) -> AccountSnapshot:
        """:meth:`MT5Adapter.account` with retries."""
        return self.call("account_info", self.adapter.account)

    def positions(self, *, symbol: str | None = None, magic: int | None = None) -> list[Position]:
        """:meth:`MT5Adapter.positions` with retries."""
        return self.call(
            "positions_get", lambda: self.adapter.positions(symbol=symbol, magic=magic)
        )

    def closed_bars(self, symbol: str, timeframe: Timeframe, count: int) -> np.ndarray:
        """:meth:`MT5Adapter.closed_bars` with retries."""
        return self.call(
            "copy_rates_from_pos",
            lambda: self.adapter.closed_bars(symbol, timeframe, count),
            context=symbol,
        )

    def forming_bar(self, symbol: str, timeframe: Timeframe) -> np.ndarray:
        """:meth:`MT5Adapter.forming_bar` with retries."""
        return self.call(
            "copy_rates_from_pos", lambda: self.adapter.forming_bar(symbol, timeframe),
            context=symbol,
        )

    def deals(self, date_from: int, date_to: int) -> list[dict[str, Any]]:
        """:meth:`MT5Adapter.deals` with retries (server seconds, inclusive)."""
        return self.call("history_deals_get", lambda: self.adapter.deals(date_from, date_to))

    def position_deals(self, ticket: int) -> list[dict[str, Any]]:
        """:meth:`MT5Adapter.position_deals` with retries."""
        return self.call("history_deals_get", lambda: self.adapter.position_deals(ticket))

    # -- trading ----------------------------------------------------------------------------
    def open_market(self, intent: OpenIntent) -> OrderOutcome:
        """Open a market position with retries and re-pricing (module docstring).

        Raises:
            CircuitOpenError: the breaker is not CLOSED; nothing was sent.
        """
        if not self.entries_allowed():
            raise CircuitOpenError(
                f"{intent.client_id}: new entry refused: circuit breaker "
                f"{self.breaker.state.value}",
                code=None,
            )
        current = [intent]

        def attempt(n: int) -> _Try:
            if n > 1 and self.policy.reprice:
                repriced = self._reprice(intent, current[0])
                if isinstance(repriced, _Try):
                    return repriced
                current[0] = repriced
            return self._send(lambda: self.adapter.open_market(current[0]), current[0])

        return self._trade("open_market", intent, attempt, entry=True)

    def close_position(self, intent: CloseIntent) -> OrderOutcome:
        """Close (part of) a position with retries (the adapter re-reads the quote each time)."""
        return self._trade(
            "close_position", intent,
            lambda _n: self._send(lambda: self.adapter.close_position(intent), intent),
            entry=False,
        )

    def modify_sltp(self, intent: ModifyIntent) -> OrderOutcome:
        """Set a position's SL/TP with retries."""
        return self._trade(
            "modify_sltp", intent,
            lambda _n: self._send(lambda: self.adapter.modify_sltp(intent), intent),
            entry=False,
        )

    def _reprice(self, original: OpenIntent, current: OpenIntent) -> OpenIntent | _Try:
        """The intent at the current quote, or the failed attempt (quote unreadable or moved
        past ``max_reprice_points``)."""
        try:
            quote = self.adapter.quote(original.symbol)
        except (BrokerError, SymbolError, *_TRANSPORT_ERRORS) as exc:
            return self._read_failure(exc)
        price = quote.ask if original.side == "buy" else quote.bid
        limit = self.policy.max_reprice_points
        if limit is not None:
            point = self.adapter.symbol_spec(original.symbol).point
            if abs(price - original.price) > limit * point + point * 1e-6:
                outcome = synthetic(
                    current, f"re-price to {price} is more than {limit} points away", None
                )
                return _Try(Disposition.PERMANENT, outcome, detail="re-price limit")
        delta = price - current.price
        sl, tp = current.sl, current.tp
        if self.policy.shift_stops_on_reprice:
            sl = sl + delta if sl > 0 else 0.0
            tp = tp + delta if tp > 0 else 0.0
        log.info(
            "%s re-priced %s -> %s (sl %s, tp %s)", original.client_id, current.price, price,
            sl, tp,
        )
        return replace(current, price=price, sl=sl, tp=tp)

    def _send(self, send: Callable[[], OrderOutcome], intent: Intent) -> _Try:
        try:
            outcome = send()
        except (BrokerError, SymbolError, *_TRANSPORT_ERRORS) as exc:
            if outcome_unknown(exc):
                code = getattr(exc, "code", None)
                return _Try(Disposition.UNKNOWN_OUTCOME, synthetic(intent, str(exc), code),
                            exc, detail=f"gateway: {exc}")
            failed = self._read_failure(exc)  # failed before order_send: nothing was sent
            failed.value = synthetic(intent, str(exc), getattr(exc, "code", None))
            return failed
        if outcome.retcode is not None:
            return _Try(classify_retcode(outcome.retcode), outcome,
                        detail=f"{retcode_label(outcome.retcode)} {outcome.comment!r}")
        code = outcome.error[0] if outcome.error is not None else None
        return _Try(classify_send_error(code), outcome,
                    detail=f"order_send None: {error_label(code)} {outcome.comment!r}")

    def _trade(
        self, op: str, intent: Intent, attempt: Callable[[int], _Try], *, entry: bool
    ) -> OrderOutcome:
        context = (
            f"client_id={intent.client_id} strategy={intent.strategy_id} "
            f"symbol={intent.symbol} magic={intent.magic}"
        )
        counter = [0]

        def counted(n: int) -> _Try:
            counter[0] = n
            return attempt(n)

        last = self._run(op, counted, context, entry=entry)
        outcome = last.value
        if not isinstance(outcome, OrderOutcome):  # failed before any order_send
            code = getattr(last.error, "code", None)
            outcome = synthetic(intent, last.detail, code)
        outcome.extra.update(
            disposition=last.disposition.value,
            attempts=counter[0],
            price=float(outcome.request.get("price", 0.0)),
        )
        return outcome

    # -- the retry loop ---------------------------------------------------------------------
    def _run(
        self, op: str, attempt: Callable[[int], _Try], context: str, *, entry: bool
    ) -> _Try:
        max_attempts = self.policy.max_attempts
        state = {"n": 0}

        def one() -> _Try:
            state["n"] = n = state["n"] + 1
            result: _Try | None = None
            if self.needs_reconnect:
                error = self._reconnect_once()
                if error is None:
                    self.needs_reconnect = False
                else:
                    result = _Try(Disposition.CONNECTION, error=error,
                                  detail=f"reconnect: {error}")
                    if classify_read_error(error.code) is Disposition.PERMANENT:
                        result.disposition = Disposition.PERMANENT
            if result is None:
                result = attempt(n)
            if result.disposition is Disposition.CONNECTION:
                self.needs_reconnect = True
            if result.disposition in _FAILURES:
                self.breaker.record_failure(f"{op}: {result.detail}")
            else:
                self.breaker.record_success()
            level = logging.INFO if result.disposition is Disposition.SUCCESS else logging.WARNING
            log.log(level, "%s attempt %d/%d %s -> %s %s", op, n, max_attempts, context,
                    result.disposition.value, result.detail)
            return result

        def retryable(result: _Try) -> bool:
            if result.disposition not in _RETRYABLE:
                return False
            if entry:
                return self.breaker.entries_allowed()
            return self.breaker.state is not BreakerState.OPEN

        def before_sleep(retry_state: RetryCallState) -> None:
            delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
            log.warning("%s %s: retry %d in %.3f s", op, context,
                        retry_state.attempt_number + 1, delay)

        attempts = max_attempts if self.breaker.state is not BreakerState.OPEN else 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            retry=retry_if_result(retryable),
            sleep=self.sleep,
            before_sleep=before_sleep,
            retry_error_callback=_last_result,
        )
        result: _Try = retrying(one)
        return result


def _last_result(retry_state: RetryCallState) -> Any:
    assert retry_state.outcome is not None
    return retry_state.outcome.result()
