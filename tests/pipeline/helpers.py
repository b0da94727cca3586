"""The paper bar pipeline the pipeline tests drive: the EMA-cross example on real XAUUSD M15
bars of 2024 Q1, unrecorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trademaestro.runtime.pipeline import BarPipeline
from trademaestro.runtime.replayer import Replayer
from trademaestro.runtime.session import open_session
from trademaestro.runtime.settings import RunSettings
from trademaestro.runtime.signals import StreamingSignals

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples/strategies"


def xau_pipeline(shared_data: Path, **kwargs: Any) -> BarPipeline:
    """A :class:`BarPipeline` (``kwargs`` passed on) over a fresh paper session."""
    session = open_session(
        RunSettings(
            strategy=str(EXAMPLES / "xauusd_m15_ema_cross.json"),
            data=str(shared_data / "XAUUSD_M15_2024Q1.csv"),
            record=False,
        ),
        "paper",
    )
    for slot in session.slots:
        slot.instance.signals = StreamingSignals(
            slot.instance.store.engine, slot.entry, slot.exit_rule
        )
    return BarPipeline(session, Replayer(session), **kwargs)
