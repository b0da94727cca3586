"""Wiring a live run: the terminal in a gateway process, the strategies warmed up from the
terminal's own history, and the exactly-once order path scoped to the trading account.

Live mode trades what the terminal shows: there is no data file. Each strategy's bar store is
warmed with the last ``warmup_bars`` closed bars of its symbol and timeframe
(``copy_rates_from_pos(symbol, timeframe, 1, warmup_bars)``); the live feed then appends every
bar that closes. Indicators with an infinite memory (EMA, RSI, ATR, ADX) converge within a few
hundred bars; the default warm-up of 1,000 bars makes their values equal to a long history's to
well below a point.

The terminal is either the real ``MetaTrader5`` package (Windows; account number and server from
the command line, the password from ``TRADEMAESTRO_MT5_PASSWORD``, never from the command line) or
an emulator server (``trademaestro emulator-server``) whose clock another process drives — the
same code path, which is how live mode is tested.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.port import BrokerPort
from trademaestro.core.errors import ConfigError
from trademaestro.core.timeframes import Timeframe
from trademaestro.data import LoadedBars
from trademaestro.runtime.brokerlink import remote_gateway, terminal_gateway
from trademaestro.runtime.feeds import SymbolFeed, merge_timeline
from trademaestro.runtime.session import Session, load_wanted, wire_session
from trademaestro.runtime.settings import RunSettings

log = logging.getLogger("trademaestro.live")

PASSWORD_ENV = "TRADEMAESTRO_MT5_PASSWORD"


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """What a live run needs besides :class:`RunSettings`.

    Attributes:
        terminal_address: the Unix socket of an emulator server; None = the real ``MetaTrader5``
            package (Windows).
        login: the trading account number to log in to (real terminal; None keeps the
            terminal's current account).
        server: the broker's trade server name (with ``login``).
        terminal_path: the terminal executable (``initialize(path=...)``), if not the default.
        warmup_bars: closed bars loaded from the terminal's history for each strategy.
        poll_seconds: how often the terminal is asked for new closed bars and ticks.
    """

    terminal_address: str | None = None
    login: int | None = None
    server: str | None = None
    terminal_path: str | None = None
    warmup_bars: int = 1000
    poll_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.warmup_bars < 2:
            raise ConfigError(f"--warmup-bars: found {self.warmup_bars}; allowed: >= 2")
        if not self.poll_seconds > 0:
            raise ConfigError(f"--poll-seconds: found {self.poll_seconds}; allowed: > 0")

    def connect_kwargs(self, environ: dict[str, str] | None = None) -> dict[str, Any]:
        """Keyword arguments of ``initialize`` (MT5_API.md: path, login, password, server).

        Raises:
            ConfigError: a login without the password in ``TRADEMAESTRO_MT5_PASSWORD``.
        """
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        if self.terminal_path:
            kwargs["path"] = self.terminal_path
        if self.login is not None:
            password = env.get(PASSWORD_ENV, "")
            if not password:
                raise ConfigError(f"--login {self.login}: set {PASSWORD_ENV} to its password")
            kwargs.update(login=self.login, password=password)
            if self.server:
                kwargs["server"] = self.server
        return kwargs


def open_live_session(settings: RunSettings, live: LiveSettings, broker: Any = None) -> Session:
    """Connect to the terminal, warm up every strategy from its history, start the runs. With no
    strategy at all (remote control: they come by command) the session starts empty.

    Raises:
        StrategyError, ConfigError: bad strategies or options; BrokerError: the terminal cannot
            be reached or has too little history.
    """
    wanted, rejected = load_wanted(settings) if settings.strategy_paths else ([], [])
    timeframes: dict[str, Timeframe] = {}
    for path, strategy, sym in wanted:
        tf = timeframes.setdefault(sym, strategy.spec.timeframe)
        if tf != strategy.spec.timeframe:
            raise ConfigError(
                f"{path}: trades {sym} on {strategy.spec.timeframe.name} but another strategy "
                f"trades it on {tf.name}; allowed: one timeframe per symbol in one executor"
            )
    if broker is not None:
        pass  # given (paper mode under remote control: the emulator in a gateway)
    elif live.terminal_address is not None:
        broker = remote_gateway(live.terminal_address)
    else:
        broker = terminal_gateway()
    try:
        adapter = MT5Adapter(broker)
        adapter.connect(**live.connect_kwargs())
        # The run's initial balance is the account's (what the tracker and the report start at).
        settings = replace(settings, balance=adapter.account().balance)
        info = broker.account_info()
        scope = f"account:{info.login}@{info.server}" if info is not None else None
        feeds = {
            sym: warm_feed(adapter, sym, tf, live.warmup_bars) for sym, tf in timeframes.items()
        }
        session = wire_session(
            settings,
            "live",
            wanted,
            feeds,
            broker,
            adapter,
            higher={},
            timeline=merge_timeline(feeds),
            rejected=rejected,
            journal_scope=scope,
        )
    except BaseException:
        broker_close = getattr(broker, "close", None)
        if callable(broker_close):
            broker_close()
        raise
    for slot in session.slots:
        slot.instance.store.extend(slot.feed.rates)
    log.info(
        "live: %d strategy instance(s) on %s; warmed up with %s",
        len(session.slots),
        ", ".join(sorted(feeds)) or "no symbol yet",
        ", ".join(f"{len(f.rates)} {sym} bars" for sym, f in sorted(feeds.items())) or "nothing",
    )
    return session


def warm_feed(adapter: BrokerPort, symbol: str, timeframe: Timeframe, count: int) -> SymbolFeed:
    """The last ``count`` closed bars of ``symbol`` from the terminal, as the symbol's feed.

    Raises:
        ConfigError: fewer than two closed bars (the symbol is unknown or has no history).
    """
    adapter.symbol_spec(symbol)  # selects the symbol in Market Watch; SymbolError when unknown
    rates = adapter.closed_bars(symbol, timeframe, count)
    if len(rates) < 2:
        raise ConfigError(
            f"terminal: {len(rates)} closed {symbol} {timeframe.name} bar(s) in its history; "
            "at least 2 are needed (open the chart in the terminal to download history)"
        )
    path = f"terminal:{symbol}:{timeframe.name}"
    bars = LoadedBars(
        rates=rates,
        path=path,
        layout="terminal",
        skipped=0,
        skipped_lines=(),
        has_spread=True,
        timeframe=timeframe,
    )
    return SymbolFeed(symbol, Path(path), bars)
