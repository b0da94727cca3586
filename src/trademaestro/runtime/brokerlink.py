"""The broker a run talks to, and the exactly-once order path over it.

* :func:`emulator_gateway` — paper mode's default: the emulator in a gateway child process,
  loaded with the run's files (every call crosses the process boundary with a hard timeout).
* :func:`remote_gateway` — a gateway child connected to an emulator server (the broker outlives
  the executor; used for recovery drills and by live mode against the emulator).
* :func:`terminal_gateway` — live mode on the real ``MetaTrader5`` package (Windows).
* :func:`exactly_once` / :func:`attach_safety` — every order of a paper/live run journalled before
  it is sent, resolved by look-up when its outcome is unknown, never sent twice; every broker
  call through :class:`SafeBroker` (retries, reconnects, circuit breaker).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from trademaestro.runtime.settings import RunSettings, emulator_authkey

if TYPE_CHECKING:
    from trademaestro.brokers.emulator import EmulatorConfig
    from trademaestro.brokers.mt5.adapter import MT5Adapter
    from trademaestro.execution.safety.calls import SafeBroker
    from trademaestro.execution.safety.exactly_once import ExactlyOnceExecutor
    from trademaestro.persistence.journal import OrderJournal
    from trademaestro.persistence.store import Store
    from trademaestro.runtime.feeds import SymbolFeed
    from trademaestro.runtime.instance import StrategyInstance

log = logging.getLogger("trademaestro.session")


class Safety(NamedTuple):
    """The safe-call broker, the order journal and the exactly-once executor of a run."""

    safe: SafeBroker
    journal: OrderJournal
    executor: ExactlyOnceExecutor


def emulator_gateway(
    config: EmulatorConfig,
    feeds: dict[str, SymbolFeed],
    timeframes: dict[str, int],
    settings: RunSettings,
) -> Any:
    """The emulator in a gateway child process, loaded with the same files (paper mode);
    ``timeframes``: the MT5 timeframe of each symbol whose file does not say."""
    from trademaestro.brokers.emulator.server import BarFeed, EmulatorSpec, TickFeed
    from trademaestro.brokers.mt5.gateway import Gateway
    from trademaestro.brokers.mt5.gateway_child import TerminalFactory

    bars, ticks = [], []
    for sym, feed in feeds.items():
        tf = int(feed.bars.timeframe or timeframes[sym])
        if feed.ticks is not None:
            ticks.append(TickFeed(sym, str(feed.path), tf, settings.skip_bad_rows))
        else:
            bars.append(BarFeed(sym, str(feed.path), tf, settings.skip_bad_rows))
    spec = EmulatorSpec(
        config=config, bars=tuple(bars), ticks=tuple(ticks), faults=tuple(settings.faults)
    )
    return Gateway(TerminalFactory(kind="emulator", emulator=spec))


def remote_gateway(address: str) -> Any:
    """A gateway child connected to the emulator server at ``address`` (Unix socket path; the
    shared secret from ``TRADEMAESTRO_EMULATOR_KEY``): the broker state outlives this executor.

    Raises:
        ConfigError: the secret is not set.
    """
    from trademaestro.brokers.mt5.gateway import Gateway
    from trademaestro.brokers.mt5.gateway_child import TerminalFactory

    return Gateway(TerminalFactory(kind="remote", address=address, authkey=emulator_authkey()))


def terminal_gateway() -> Any:
    """A gateway child owning the real ``MetaTrader5`` package (Windows, live mode): every call
    crosses the process boundary with a hard timeout; a wedged terminal is killed and restarted.

    Raises:
        ConfigError: (at the first call) the package is not installed here.
    """
    from trademaestro.brokers.mt5.gateway import Gateway
    from trademaestro.brokers.mt5.gateway_child import TerminalFactory

    return Gateway(TerminalFactory(kind="metatrader5"))


def exactly_once(
    instances: Sequence[StrategyInstance],
    adapter: MT5Adapter,
    settings: RunSettings,
    store: Store,
    *,
    first_run: int,
    scope: str | None = None,
) -> Safety:
    """Build the safe broker, journal and executor of a paper/live run and attach them to
    ``instances``.

    The journal's scope is the order stream: ``scope`` when given (live: the trading account),
    else the emulator server's address when the broker outlives the executor (a restarted
    executor finds its intents again; a NEW server at the same address needs a new database),
    else this run (its in-process broker dies with it).
    """
    from trademaestro.execution.safety.breaker import BreakerConfig, CircuitBreaker
    from trademaestro.execution.safety.calls import SafeBroker
    from trademaestro.execution.safety.exactly_once import ExactlyOnceExecutor
    from trademaestro.persistence.journal import OrderJournal

    if scope is None:
        scope = (
            f"server:{settings.broker_address}"
            if settings.broker_address is not None
            else f"run:{first_run}"
        )
    breaker_config = BreakerConfig(emergency_exit=settings.emergency_exit)
    safe = SafeBroker(adapter, breaker=CircuitBreaker(breaker_config, alert=_alert))
    journal = OrderJournal(store.path, scope=scope)
    safety = Safety(safe, journal, ExactlyOnceExecutor(safe, journal))
    attach_safety(instances, safety)
    return safety


def attach_safety(instances: Iterable[StrategyInstance], safety: Safety) -> None:
    """Route the instances' broker calls and orders through ``safety``; new entries wait while
    the connection circuit breaker is open."""
    safe = safety.safe

    def breaker() -> str | None:
        return None if safe.entries_allowed() else "connection circuit breaker open"

    for instance in instances:
        instance.adapter = safe
        instance.orders = safety.executor
        instance.entry_blockers.append(breaker)


def _alert(alert: object) -> None:
    """The circuit breaker's alert: CRITICAL in the log (notifiers come with the platform)."""
    log.critical("ALERT %s", alert)
