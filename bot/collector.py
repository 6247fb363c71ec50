"""When the cyclic garbage collector runs: between answers, not in the middle of one.

CPython starts a collection at whichever allocation crosses its threshold. In this bot that is
usually while an interaction is being checked and answered, since that is where it allocates,
and every queued job keeps tracked objects alive: about 30 (its interaction and member, its
ticket; no task or coroutine, see ``JobRunner._answer``), 75 when each waited in a task of its
own. Under a burst of /imagine a young-generation collection falls due every few interactions and
a middle-generation one (1-5 ms on a 2-core machine) every ~200, most in some member's wait.

* :func:`freeze_heap`, at every READY: what is alive then (modules, the guild cache) is collected
  once and frozen, so later full collections do not walk it.
* :data:`HOLD`: while at least one interaction is being checked and answered, the collector is
  off; a collection that fell due meanwhile runs at the first allocation after the last answer
  in progress has gone out. CPython's own thresholds still decide when and which generation.
  Should answers overlap without a break for long (Discord answering slowly under a burst), the
  young generation could grow without bound: once it is ``OVERDUE_FACTOR`` times its threshold,
  the next hold runs the due collection first.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

OVERDUE_FACTOR = 20


class CollectorHold:
    """Counts the answers in progress; the collector is off while there is at least one.

    The collector is process-wide, so there is one of these (:data:`HOLD`). If something else
    turned the collector off first, a hold leaves it off.
    """

    def __init__(self) -> None:
        self._holders = 0
        self._disabled_here = False
        self.overdue_collections = 0

    @property
    def holders(self) -> int:
        return self._holders

    def hold(self) -> Callable[[], None]:
        """Hold the collector until the returned function is called. Calling it again does
        nothing, so it can be called when the answer is out and again in a ``finally``."""
        if self._holders == 0:
            if gc.isenabled():
                gc.disable()
                self._disabled_here = True
        elif self._disabled_here:
            self._collect_if_overdue()
        self._holders += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._holders -= 1
            if self._holders == 0 and self._disabled_here:
                self._disabled_here = False
                gc.enable()

        return release

    def _collect_if_overdue(self) -> None:
        young = gc.get_count()[0]
        threshold = gc.get_threshold()[0]
        if threshold and young >= threshold * OVERDUE_FACTOR:
            self.overdue_collections += 1
            gc.collect(due_generation())


def due_generation() -> int:
    """The generation CPython would collect now: the oldest whose count is past its threshold
    (without CPython's extra condition for the oldest, which Python cannot read)."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1):
        if thresholds[generation] and counts[generation] > thresholds[generation]:
            return generation
    return 0


HOLD = CollectorHold()


def freeze_heap() -> None:
    """Take everything alive once the gateway is ready out of the garbage collector's sight.

    With 2,500 servers cached, one full collection walks ~90,000 objects (modules, the guild
    and channel cache) and stops the event loop for 60-90 ms on a 2-core machine: every
    interaction then in flight waits for it. These objects live as long as the process, so they
    are collected once here and frozen (``gc.freeze``); later full collections only walk what
    came after. Run again on every READY (a reconnect rebuilds the cache).
    """
    started = time.perf_counter()
    gc.collect()
    pause = time.perf_counter() - started
    gc.freeze()
    log.info(
        "collector: %d objects alive at ready frozen (a full collection over them took %.0f ms)",
        gc.get_freeze_count(),
        pause * 1000,
    )
