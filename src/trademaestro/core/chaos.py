"""Kill points for chaos testing: the executor SIGKILLs itself at a chosen place.

``TRADEMAESTRO_CHAOS_KILL=point:n`` (e.g. ``before_send:3``) kills the process with SIGKILL the
``n``-th time it passes ``point``. Points:

* ``before_send`` — in the adapter, right before ``order_send``: the intent is journalled (in
  paper/live runs) but not sent yet (the "between journal write and send" crash of issue 4);
* ``after_send`` — in the adapter, right after ``order_send`` answered: the broker filled the
  order, nothing of the reply is recorded yet (the "between fill and reply" crash);
* ``bar`` — a closed bar was acted on.

Unset (production), :func:`checkpoint` costs one global read.
"""

from __future__ import annotations

import os
import signal

ENV = "TRADEMAESTRO_CHAOS_KILL"


def _parse(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    point, _, count = value.partition(":")
    return point, max(int(count or "1"), 1)


_TARGET = _parse(os.environ.get(ENV))
_seen: dict[str, int] = {}


def checkpoint(point: str) -> None:
    """Pass a kill point (see the module docstring)."""
    if _TARGET is None or _TARGET[0] != point:
        return
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] >= _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)
