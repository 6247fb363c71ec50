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
* Busy periods: from the first hold until no interaction has been checked for ``IDLE_S``, the
  middle and oldest generations are collected ``BUSY_FACTOR`` times less often (young
  collections, a fraction of a millisecond each, go on as usual). Under a burst of /imagine,
  CPython would run a middle-generation collection every ~200 answers, walking what the queued
  jobs keep alive (1-5 ms), in the middle of the burst; that collection now runs once the burst
  is over, when no member waits for an answer. A burst that never pauses still gets one, at
  ``BUSY_FACTOR`` times the usual interval. Other work that can wait for such a moment asks
  for it with :meth:`CollectorHold.after_busy` (the database's WAL checkpoint, which fsyncs).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

OVERDUE_FACTOR = 20
# How long without a hold ends a busy period, and how much rarer the older generations'
# collections are during one.
IDLE_S = 0.1
BUSY_FACTOR = 4


class CollectorHold:
    """Counts the answers in progress; the collector is off while there is at least one.

    The collector is process-wide, so there is one of these (:data:`HOLD`). If something else
    turned the collector off first, a hold leaves it off.
    """

    def __init__(self, idle_s: float = IDLE_S, busy_factor: int = BUSY_FACTOR) -> None:
        self._holders = 0
        self._disabled_here = False
        self.overdue_collections = 0
        self.idle_s = idle_s
        self.busy_factor = busy_factor
        # While busy: the thresholds to put back, and the ones set (to tell whether someone
        # else changed them meanwhile).
        self._saved: tuple[int, int, int] | None = None
        self._busy_thresholds: tuple[int, int, int] | None = None
        self._last_release = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._after_busy: list[Callable[[], None]] = []
        self.caught_up = 0  # collections run at the end of a busy period

    @property
    def holders(self) -> int:
        return self._holders

    def hold(self) -> Callable[[], None]:
        """Hold the collector until the returned function is called. Calling it again does
        nothing, so it can be called when the answer is out and again in a ``finally``."""
        if self._loop is None or self._loop is not _running_loop():
            self.end_busy(collect=False)  # one left behind by a loop that has gone
            self._begin_busy()
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
            self._last_release = time.monotonic()
            if self._holders == 0 and self._disabled_here:
                self._disabled_here = False
                gc.enable()

        return release

    @property
    def busy(self) -> bool:
        return self._loop is not None

    def after_busy(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the busy period ends, or at once if there is none. A busy
        period that ends with its loop (the client closing, or a loop that has gone) drops it."""
        if self.busy:
            self._after_busy.append(callback)
        else:
            callback()

    def _begin_busy(self) -> None:
        """Make the older generations' collections rarer until ``idle_s`` passes without a
        hold. Needs a running loop to notice the idle moment; without one, nothing changes."""
        loop = _running_loop()
        if loop is None:
            return
        self._loop = loop
        young, middle, oldest = self._saved = gc.get_threshold()
        self._busy_thresholds = (young, middle * self.busy_factor, oldest * self.busy_factor)
        gc.set_threshold(*self._busy_thresholds)
        self._last_release = time.monotonic()
        self._idle_timer = loop.call_later(self.idle_s, self._check_idle)

    def _check_idle(self) -> None:
        quiet_for = time.monotonic() - self._last_release
        if self._loop is not None and (self._holders or quiet_for < self.idle_s):
            wait = self.idle_s if self._holders else self.idle_s - quiet_for
            self._idle_timer = self._loop.call_later(wait, self._check_idle)
            return
        self.end_busy()

    def end_busy(self, *, collect: bool = True) -> None:
        """Put the thresholds back (unless someone else changed them meanwhile) and run the
        collection that fell due during the busy period, if any: at once, not at the next
        allocation, which could be the next burst's first answer. Then the work put off until
        now (``after_busy``). With ``collect=False`` (the loop is closing or has gone), neither."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._loop = None
        waiting, self._after_busy = self._after_busy, []
        saved, self._saved = self._saved, None
        if saved is not None and gc.get_threshold() == self._busy_thresholds:
            gc.set_threshold(*saved)
            generation = due_generation()
            if collect and generation and gc.isenabled():
                self.caught_up += 1
                gc.collect(generation)
        if collect:
            for callback in waiting:
                try:
                    callback()
                except Exception:
                    log.exception("work put off until the end of a busy period failed")

    def _collect_if_overdue(self) -> None:
        young = gc.get_count()[0]
        threshold = gc.get_threshold()[0]
        if threshold and young >= threshold * OVERDUE_FACTOR:
            self.overdue_collections += 1
            gc.collect(due_generation())


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
