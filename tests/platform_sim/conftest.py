"""Fixture: a platform simulator on a free loopback port (two executors), per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.platform_sim.helpers import make_config
from trademaestro.platform.sim import RunningSimulator, run_simulator


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with run_simulator(make_config(heartbeat_interval_seconds=5)) as running:
        yield running
