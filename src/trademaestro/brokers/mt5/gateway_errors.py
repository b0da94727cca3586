"""The errors of the MT5 gateway (:mod:`.gateway`): all are :class:`BrokerError`, carry the
``function`` that failed and say whether its outcome at the broker is unknown."""

from __future__ import annotations

from trademaestro.core.errors import BrokerError

from .gateway_wire import IPC_TIMEOUT, NO_IPC, STATE_CHANGING


class GatewayError(BrokerError):
    """The gateway could not complete a call.

    Attributes:
        function: the MT5 function (``"replay.run_bar"`` for control calls, ``"start"`` for
            the start of a child).
        outcome_unknown: True when the call may have had its effect at the broker.
    """

    outcome_unknown = False

    def __init__(self, message: str, *, function: str, code: int | None = None) -> None:
        super().__init__(message, code=code)
        self.function = function


class GatewayTimeout(GatewayError):
    """A call got no answer within its timeout; the child was killed and replaced.

    Attributes:
        elapsed: seconds waited. timeout: the limit that applied. ``code`` is -10005.
    """

    outcome_unknown = True

    def __init__(self, function: str, elapsed: float, timeout: float) -> None:
        super().__init__(f"gateway call {function} timed out after {elapsed:.3f} s "
                         f"(limit {timeout} s); gateway restarted, outcome unknown",
                         function=function, code=IPC_TIMEOUT[0])
        self.elapsed = elapsed
        self.timeout = timeout


class GatewayCrashed(GatewayError):
    """The child died during a call (or at start); it was replaced.

    Attributes:
        exitcode: the child's exit code (negative: killed by that signal), None if unknown.
        ``outcome_unknown`` is True for ``order_send``. ``code`` is -10004.
    """

    def __init__(self, function: str, exitcode: int | None) -> None:
        super().__init__(f"gateway child died during {function} (exit code {exitcode}); "
                         "gateway restarted", function=function, code=NO_IPC[0])
        self.exitcode = exitcode
        self.outcome_unknown = function in STATE_CHANGING


class GatewayClosed(GatewayError):
    """A call on a gateway that was closed."""
