"""Gateway failures (the MT5 object in a child process) as SafeBroker and the exactly-once
executor see them: exceptions with ``outcome_unknown`` instead of None + last_error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trademaestro.brokers.mt5.gateway import GatewayCrashed, GatewayTimeout
from trademaestro.data.loaders import LoadedBars
from trademaestro.persistence.journal import JournalState

from .conftest import SYMBOL, make_env


class FlakyGateway:
    """The emulator behind a gateway-like proxy whose next calls of a function fail."""

    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.fail: dict[str, list[BaseException]] = {}
        self.executed: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.emu, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            queue = self.fail.get(name)
            if queue:
                exc = queue.pop(0)
                if isinstance(exc, GatewayTimeout) and name == "order_send":
                    target(*args, **kwargs)  # the child executed it, then was killed
                    self.executed.append(name)
                raise exc
            return target(*args, **kwargs)

        return call


def test_safe_gateway_timeout_on_order_send_is_resolved_once(xau: LoadedBars,
                                                             tmp_path: Path) -> None:
    env = make_env(xau, tmp_path)
    proxy = FlakyGateway(env.emu)
    env.adapter.mt5 = proxy
    proxy.fail["order_send"] = [GatewayTimeout("order_send", 10.0, 10.0)]
    direct = env.safe.open_market(env.open_intent("t1.s9x.o5"))
    assert direct.extra["disposition"] == "unknown_outcome" and direct.extra["attempts"] == 1
    assert direct.error == (-10005, direct.comment)
    proxy.fail["order_send"] = [GatewayTimeout("order_send", 10.0, 10.0)]
    outcome = env.executor.open(env.open_intent())
    assert outcome.ok and outcome.extra["journal"] == "resolved"
    entry = env.journal.get("t1.s9x.o0")
    assert entry is not None and entry.state is JournalState.DONE and entry.sends == 1
    assert proxy.executed == ["order_send", "order_send"] and len(env.broker_positions()) == 2


def test_safe_gateway_crash_on_a_read_reconnects(xau: LoadedBars, tmp_path: Path) -> None:
    env = make_env(xau, tmp_path)
    proxy = FlakyGateway(env.emu)
    env.adapter.mt5 = proxy
    proxy.fail["symbol_info_tick"] = [GatewayCrashed("symbol_info_tick", -9)]
    assert env.safe.quote(SYMBOL).ask == 2206.89
    assert env.safe.reconnects == 1 and env.sleeps == [0.5]
