"""A local simulator of the web platform (issue 5): the executor REST API with key/secret
checks, a Pusher protocol-7 WebSocket server, the Pusher HTTP events API (so the official
``pusher`` library can trigger events), a configurable LLM supervisor, fault injection, and
``/sim/...`` control endpoints. Run it in-process with :func:`run_simulator`, or from the
command line with ``trademaestro platform-sim serve``.
"""

from trademaestro.platform.sim.app import create_app
from trademaestro.platform.sim.config import (
    ActiveStrategy,
    ExecutorCredentials,
    PusherApp,
    SimulatorConfig,
    SupervisorPolicy,
)
from trademaestro.platform.sim.core import Simulator
from trademaestro.platform.sim.records import CommandRecord, WsFaults
from trademaestro.platform.sim.runner import RunningSimulator, run_simulator
from trademaestro.platform.sim.state import SimState

__all__ = [
    "ActiveStrategy",
    "CommandRecord",
    "ExecutorCredentials",
    "PusherApp",
    "RunningSimulator",
    "SimState",
    "Simulator",
    "SimulatorConfig",
    "SupervisorPolicy",
    "WsFaults",
    "create_app",
    "run_simulator",
]
