"""The market clock of an emulator server, driven from outside the executor.

Live mode is tested the way it runs: the executor only polls the terminal (an emulator server),
while another process moves the market on — this one. For each group of bars opening at the same
server time it opens the bars (quotes at their open), waits ``bar_seconds`` of wall time, then
plays them out (stops and targets inside the bar, the close). A server whose replay already
started is resumed where it stands: a group left open is played out first.
"""

from __future__ import annotations

import bisect
import threading
import time as _time
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Timeline(Protocol):
    """Replay order: ``times[g]`` the open time of group ``g`` (server time, seconds),
    ``groups[g]`` its ``(symbol, bar index)`` pairs (``runtime.feeds.merge_timeline``)."""

    @property
    def times(self) -> Sequence[int]: ...

    @property
    def groups(self) -> Sequence[Sequence[tuple[str, int]]]: ...


GroupHook = Callable[[int, int], None]
"""``on_group(group index, open time)``: called after a group's bars opened."""


def resume_group(timeline: Timeline, now: int) -> int:
    """The first group to open on a server whose replay clock stands at ``now`` (0: not started):
    the group after the one whose bars opened at or before ``now``."""
    if not now:
        return 0
    return bisect.bisect_right(timeline.times, now)


def _open_at(timeline: Timeline, now: int) -> int | None:
    """The group whose bars are open but not played out when the clock stands at ``now`` (the
    clock is exactly at their open time), else None."""
    g = bisect.bisect_right(timeline.times, now) - 1
    return g if now and g >= 0 and timeline.times[g] == now else None


def drive_clock(
    replay: Any,
    timeline: Timeline,
    *,
    bar_seconds: float,
    start: int | None = None,
    stop_after: int | None = None,
    stop: threading.Event | None = None,
    on_group: GroupHook | None = None,
    sleep: Callable[[float], object] = _time.sleep,
) -> int:
    """Drive the replay through ``timeline``; returns the number of groups opened.

    Args:
        replay: the server's replay controls (``RemoteTerminal(...).replay``).
        timeline: the groups of bars the server holds (:func:`merge_timeline` of the same files).
        bar_seconds: wall seconds each bar stays open (the executor acts meanwhile).
        start: the first group; None resumes where the server stands (:func:`resume_group`).
        stop_after: open at most this many groups.
        stop: set it to stop after the current bar.
        on_group: called after each group opened.
    """
    if start is None:
        now = int(replay.now)
        g0 = resume_group(timeline, now)
        pending = _open_at(timeline, now)
        if pending is not None:  # opened by someone else, not yet played out
            for symbol, j in timeline.groups[pending]:
                replay.run_bar(symbol, j)
    else:
        g0 = start
    opened = 0
    end = len(timeline.times)
    if stop_after is not None:
        end = min(end, g0 + stop_after)
    for g in range(g0, end):
        if stop is not None and stop.is_set():
            break
        for symbol, j in timeline.groups[g]:
            replay.open_bar(symbol, j)
        opened += 1
        if on_group is not None:
            on_group(g, timeline.times[g])
        if bar_seconds > 0:
            if stop is not None:
                stop.wait(bar_seconds)
            else:
                sleep(bar_seconds)
        for symbol, j in timeline.groups[g]:
            replay.run_bar(symbol, j)
    return opened
