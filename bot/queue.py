"""The fair job queue: who generates next, and how many at once.

Plain asyncio, no Discord and no database: the caller persists job state and renders messages; this
module only decides when a job may call the API. Three rules:

* at most ``max_concurrent`` jobs run at once, bot-wide (the API's rate and our connections);
* round-robin across users, so one user's ten jobs do not hold everyone else back;
* at most ``max_per_user`` jobs queued + running per user, checked and admitted in one synchronous
  call (:meth:`FairQueue.admit`) so two clicks cannot both pass the check across an ``await``.

Round-robin is kept with *rounds* (start-time fair queuing with unit cost): each queued job is
stamped with the round in which it starts, a user gets at most one job per round, and a user with
nothing queued who has not started a job in the round being served joins that round rather than
the back of the line. Jobs start in
``(round, admission order)`` order. So a user who submits one job while another user has ten queued
starts at the next free slot, and two busy users alternate. The order is a plain sort, so a job's
position (what the user sees next to the Cancel button) is exactly the order jobs will start in.

With several processes (shards on one database) a :class:`Coordinator` decides instead: the
queue then starts a job only when told (:meth:`FairQueue.grant`) and shows the bot-wide positions
it is given (:meth:`FairQueue.place`), and tells the coordinator when it changes.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import enum
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

from bot import texts
from bot.errors import ImagenError, RefusedError, ShuttingDownError

log = logging.getLogger(__name__)

__all__ = [
    "Coordinator",
    "FairQueue",
    "JobCancelledError",
    "JobState",
    "QueueClosedError",
    "QueueFullError",
    "QueueSnapshot",
    "Ticket",
]


class JobState(enum.StrEnum):
    """Where a ticket is in its life; ``done`` and ``cancelled`` are final."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class QueueFullError(RefusedError):
    """The user already has ``max_per_user`` jobs queued or running."""

    error_class = "queue_full"

    def __init__(self, in_flight: int) -> None:
        super().__init__(texts.QUEUE_FULL(count=in_flight))
        self.in_flight = in_flight


class QueueClosedError(ShuttingDownError):
    """The queue was closed for shutdown; no new jobs are taken."""


class JobCancelledError(ImagenError):
    """Raised to whoever waits on a ticket that was cancelled before it started.

    ``by_shutdown`` tells a user's Cancel click apart from the shutdown sweep, so the job row gets
    the right error class and the user the right message; either way the caller refunds.
    """

    error_class = "cancelled"
    default_message = texts.QUEUE_CANCELLED

    def __init__(self, user_message: str | None = None, *, by_shutdown: bool = False) -> None:
        if by_shutdown and user_message is None:
            user_message = ShuttingDownError.default_message()
        super().__init__(user_message)
        self.by_shutdown = by_shutdown
        if by_shutdown:
            self.error_class = ShuttingDownError.error_class


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """A consistent view of the queue at one instant, for /metrics, /healthz and logs."""

    max_concurrent: int
    max_per_user: int
    closed: bool
    running: int
    depth: int
    running_jobs: tuple[int, ...]
    queued_jobs: tuple[int, ...]
    """Job ids in the order they will start (position 1 first)."""
    in_flight_by_user: dict[Hashable, int]


class Coordinator(Protocol):
    """Who starts jobs when several processes share the slots (``bot.cluster.Cluster``).

    Called synchronously while the queue changes: it must not call back into the queue there."""

    def changed(self) -> None:
        """A job was admitted or withdrawn: the line may have moved."""

    def released(self, job_id: int) -> None:
        """A running job gave back its slot."""


class Ticket:
    """One admitted job's place in the queue; made only by :meth:`FairQueue.admit`.

    Use ``async with ticket.slot():`` around the API call, or :meth:`wait_turn` and :meth:`release`
    in a ``try``/``finally``. A ticket ends exactly once, as ``done`` or ``cancelled``.

    A job that waits needs no task of its own while it waits: :meth:`when_turn` calls back when it
    leaves the queue, and :meth:`follow_position` shows its moves. A queued ticket makes its event
    only for :meth:`wait_turn`, and its follower holds at most a timer between calls.
    """

    __slots__ = (
        "_by_shutdown",
        "_follower",
        "_job_id",
        "_on_turn",
        "_position",
        "_queue",
        "_round",
        "_seq",
        "_state",
        "_turn",
        "_user_key",
    )

    def __init__(
        self, queue: FairQueue, user_key: Hashable, job_id: int, round_: int, seq: int
    ) -> None:
        self._queue = queue
        self._user_key = user_key
        self._job_id = job_id
        self._round = round_
        self._seq = seq
        self._state = JobState.QUEUED
        self._position: int | None = None
        self._by_shutdown = False
        # Made by the first wait_turn, set once the ticket leaves the queued state.
        self._turn: asyncio.Event | None = None
        self._on_turn: list[Callable[[Ticket], None]] | None = None
        self._follower: _PositionFollower | None = None

    @property
    def job_id(self) -> int:
        return self._job_id

    @property
    def user_key(self) -> Hashable:
        return self._user_key

    @property
    def state(self) -> JobState:
        return self._state

    @property
    def position(self) -> int | None:
        """1-based place among queued jobs in the order they will start; None unless queued.

        It can grow as well as shrink: a user with nothing queued joins the current round, ahead of
        busy users' later jobs. A cancel never moves anyone else back.
        """
        return self._position

    def cancel(self) -> bool:
        """Withdraw the job if it has not started; True if it had not (it then never runs).

        A running job cannot be taken back (the API call is paid for upstream): False.
        """
        return self._queue._cancel(self, by_shutdown=False)

    def release(self) -> None:
        """Give back whatever the ticket holds; safe to call in any state, any number of times.

        Running: the slot goes to the next job. Still queued (e.g. the budget reservation failed
        after admission): the job is withdrawn as if cancelled. Already ended: nothing.
        """
        self._queue._release(self)

    async def wait_turn(self) -> None:
        """Wait until the job holds a running slot; the caller must then :meth:`release` it.

        Raises :class:`JobCancelledError` if the job was cancelled before it started. If the
        waiting task is cancelled, the ticket is released (withdrawn, or its fresh slot handed on)
        before the cancellation propagates, so a dropped waiter never leaks a slot.
        """
        if self._state is JobState.QUEUED:
            if self._turn is None:
                self._turn = asyncio.Event()
            try:
                await self._turn.wait()
            except asyncio.CancelledError:
                self.release()
                raise
        if self._state is JobState.CANCELLED:
            raise JobCancelledError(by_shutdown=self._by_shutdown)
        if self._state is JobState.DONE:
            raise RuntimeError(f"job {self._job_id} was released before it took its turn")

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Ticket]:
        """Hold a running slot for the body; released on exit, exception or cancellation."""
        await self.wait_turn()
        try:
            yield self
        finally:
            self.release()

    def when_turn(self, callback: Callable[[Ticket], None]) -> None:
        """Call ``callback(ticket)`` once, when the job leaves the queue: started or cancelled.

        A ticket that has already left calls it at once. The call is made while the queue is
        changing, from whatever released the slot or cancelled the job, so it must not call back
        into the queue: it is meant to start the task that runs the job (which then takes its
        slot with :meth:`slot`, at once, or learns of the cancel there).
        """
        if self._state is not JobState.QUEUED:
            callback(self)
            return
        if self._on_turn is None:
            self._on_turn = []
        self._on_turn.append(callback)

    def follow_position(
        self, show: Callable[[int], Awaitable[object]], min_interval_s: float, *, shown: int | None
    ) -> None:
        """Have ``show(position)`` called whenever the position moves, until the job leaves.

        Coalesced, so a loop that edits a Discord message stays within its rate limit however
        fast the queue moves: at most one call per ``min_interval_s`` (the first counted from
        now, ``shown`` being the position the caller has just shown), one at a time, always with
        the latest position, and none once the job has started or been cancelled (a call still
        running then is cancelled). Between calls the ticket holds a timer at most, no task.
        One follower per ticket; a second replaces the first.
        """
        if self._follower is not None:
            self._follower.stop()
        self._follower = None
        if self._state is JobState.QUEUED:
            self._follower = _PositionFollower(self, show, min_interval_s, shown)
            self._follower.moved()

    def _moved(self) -> None:
        if self._follower is not None:
            self._follower.moved()

    def _left_queue(self) -> None:
        """The ticket started or was cancelled: wake its waiter, stop its follower, call back."""
        if self._turn is not None:
            self._turn.set()
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        callbacks, self._on_turn = self._on_turn, None
        for callback in callbacks or ():
            callback(self)

    def __repr__(self) -> str:
        return (
            f"<Ticket job_id={self._job_id} user_key={self._user_key!r} "
            f"state={self._state.value} position={self._position}>"
        )


class _PositionFollower:
    """Calls ``show`` for one queued ticket's moves, coalesced (see Ticket.follow_position)."""

    __slots__ = ("_interval", "_show", "_shown", "_shown_at", "_task", "_ticket", "_timer")

    def __init__(
        self,
        ticket: Ticket,
        show: Callable[[int], Awaitable[object]],
        interval: float,
        shown: int | None,
    ) -> None:
        self._ticket = ticket
        self._show = show
        self._interval = interval
        self._shown = shown
        self._shown_at = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def _unshown(self) -> int | None:
        """The position, if the job is still queued and it differs from the one last shown."""
        position = self._ticket._position
        if self._ticket._state is not JobState.QUEUED or position in (None, self._shown):
            return None
        return position

    def moved(self) -> None:
        """The position may have changed: show it now, or once the interval is over."""
        if self._timer is not None or self._task is not None:
            return  # a call is due or running; it reads the latest position, then checks again
        if self._unshown() is None:
            return
        delay = self._shown_at + self._interval - time.monotonic()
        if delay > 0:
            self._timer = asyncio.get_running_loop().call_later(delay, self._due)
        else:
            self._due()

    def _due(self) -> None:
        self._timer = None
        if self._unshown() is None:
            return
        # A fresh context: this runs inside whichever job moved the queue, not this ticket's.
        self._task = asyncio.get_running_loop().create_task(
            self._call(), context=contextvars.Context()
        )

    async def _call(self) -> None:
        try:
            # Read when the task runs, not when it was made: the queue may have moved since.
            position = self._unshown()
            if position is None:
                return
            self._shown = position
            self._shown_at = time.monotonic()
            await self._show(position)
        except Exception:
            log.exception("showing the queue position of job %d failed", self._ticket._job_id)
        finally:
            self._task = None
        self.moved()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            self._task = None


def _start_order(ticket: Ticket) -> tuple[int, int]:
    return (ticket._round, ticket._seq)


class FairQueue:
    """Admits jobs per user and hands out at most ``max_concurrent`` running slots, round-robin.

    All state changes are synchronous and happen in one event-loop step, so the counts seen by
    :meth:`admit`, metrics and the slots handed out can never disagree across an ``await``.
    """

    def __init__(
        self, max_concurrent: int, max_per_user: int, *, coordinator: Coordinator | None = None
    ) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, not {max_concurrent}")
        if max_per_user < 1:
            raise ValueError(f"max_per_user must be at least 1, not {max_per_user}")
        self._max_concurrent = max_concurrent
        self._max_per_user = max_per_user
        self._queued: list[Ticket] = []  # sorted by _start_order: index 0 starts next
        self._running: dict[int, Ticket] = {}
        self._tickets: dict[int, Ticket] = {}  # queued + running, by job id
        self._in_flight: dict[Hashable, int] = {}
        self._waiting: dict[Hashable, deque[Ticket]] = {}  # each user's queued jobs, FIFO
        # Round of each user's latest started job. Only rounds >= the current one matter (they
        # push the user's next job to a later round), so older entries are pruned.
        self._last_round: dict[Hashable, int] = {}
        self._round = 0  # the round of the job that started last
        self._seq = 0
        self._closed = False
        self._released = asyncio.Event()  # replaced and set whenever a running job ends
        self._coordinator = coordinator

    # -- introspection -------------------------------------------------------------------------

    @property
    def max_concurrent(self) -> int:
        return self._max_concurrent

    @property
    def max_per_user(self) -> int:
        return self._max_per_user

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def depth(self) -> int:
        """Jobs waiting for a slot."""
        return len(self._queued)

    @property
    def running(self) -> int:
        """Jobs holding a slot."""
        return len(self._running)

    @property
    def in_flight_by_user(self) -> dict[Hashable, int]:
        """Queued + running jobs per user key (users with none are absent); a copy."""
        return dict(self._in_flight)

    def in_flight(self, user_key: Hashable) -> int:
        """Queued + running jobs of one user."""
        return self._in_flight.get(user_key, 0)

    def get(self, job_id: int) -> Ticket | None:
        """The live (queued or running) ticket of a job, e.g. for its Cancel button."""
        return self._tickets.get(job_id)

    def snapshot(self) -> QueueSnapshot:
        return QueueSnapshot(
            max_concurrent=self._max_concurrent,
            max_per_user=self._max_per_user,
            closed=self._closed,
            running=len(self._running),
            depth=len(self._queued),
            running_jobs=tuple(self._running),
            queued_jobs=tuple(ticket.job_id for ticket in self._queued),
            in_flight_by_user=dict(self._in_flight),
        )

    def __repr__(self) -> str:
        return (
            f"<FairQueue running={self.running}/{self._max_concurrent} depth={self.depth} "
            f"closed={self._closed}>"
        )

    # -- admission -----------------------------------------------------------------------------

    def admit(self, user_key: Hashable, job_id: int) -> Ticket:
        """Check the per-user limit and enqueue the job in one step; the job may start at once.

        Synchronous on purpose: call it before any ``await`` in the handler, so the check and the
        admission cannot be interleaved with another request from the same user.

        Raises :class:`QueueClosedError` after :meth:`close`, :class:`QueueFullError` when the user
        is at ``max_per_user``, and ValueError if ``job_id`` is already in the queue.
        """
        if self._closed:
            raise QueueClosedError()
        if job_id in self._tickets:
            raise ValueError(f"job {job_id} is already queued or running")
        in_flight = self._in_flight.get(user_key, 0)
        if in_flight >= self._max_per_user:
            raise QueueFullError(in_flight)
        # One job per user per round: after the user's last queued job, else after the round
        # their latest job started in; never before the round being served now.
        waiting = self._waiting.setdefault(user_key, deque())
        last = waiting[-1]._round if waiting else self._last_round.get(user_key, -1)
        self._seq += 1
        ticket = Ticket(self, user_key, job_id, max(self._round, last + 1), self._seq)
        waiting.append(ticket)
        self._in_flight[user_key] = in_flight + 1
        self._tickets[job_id] = ticket
        index = bisect.bisect_right(self._queued, _start_order(ticket), key=_start_order)
        self._queued.insert(index, ticket)
        # Only the jobs from the new one on move back, unless some started and all moved up.
        self._reposition(0 if self._dispatch() else index)
        if self._coordinator is not None:
            self._coordinator.changed()
        return ticket

    # -- coordinated ---------------------------------------------------------------------------

    def grant(self, job_ids: list[int]) -> list[int]:
        """Start these queued jobs (the coordinator gave them slots); returns the ids that could
        not start (cancelled meanwhile, or the queue closed), whose slots go back."""
        refused: list[int] = []
        for job_id in job_ids:
            ticket = self._tickets.get(job_id)
            if self._closed or ticket is None or ticket._state is not JobState.QUEUED:
                refused.append(job_id)
                continue
            self._queued.remove(ticket)
            self._start(ticket)
        return refused

    def place(self, positions: dict[int, int]) -> None:
        """Show the bot-wide positions of queued jobs (job id -> 1-based position)."""
        for ticket in self._queued:
            position = positions.get(ticket.job_id)
            if position is not None and ticket._position != position:
                ticket._position = position
                ticket._moved()

    # -- shutdown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop admitting jobs and stop starting queued ones; running jobs carry on.

        Queued jobs stay put until :meth:`cancel_queued` refunds them: one started during the
        shutdown grace would likely be cut off half-way, so it is better never started.
        """
        self._closed = True

    def cancel_queued(self) -> list[Ticket]:
        """Cancel every job still waiting, in start order, and return them so the caller refunds
        them. Their waiters get :class:`JobCancelledError` with ``by_shutdown`` set."""
        cancelled = list(self._queued)
        for ticket in cancelled:
            ticket._by_shutdown = True
            self._end(ticket, JobState.CANCELLED)
        self._reposition()
        return cancelled

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bool suits shutdown code
        """Wait up to ``timeout`` seconds for running jobs to finish; True if they all did.

        Returns rather than raises on expiry: the caller then cancels the stragglers' tasks and
        refunds them, which is the normal path of a SIGTERM, not an error.
        """
        try:
            async with asyncio.timeout(timeout):
                while self._running:
                    await self._released.wait()
        except TimeoutError:
            return not self._running
        return True

    # -- internals -----------------------------------------------------------------------------

    def _dispatch(self) -> int:
        """Start queued jobs while slots are free (a closed queue starts nothing new); returns
        how many started."""
        if self._closed or self._coordinator is not None:
            return 0
        started = 0
        while self._queued and len(self._running) < self._max_concurrent:
            started += 1
            self._start(self._queued.pop(0))
        return started

    def _start(self, ticket: Ticket) -> None:
        """Run a ticket just taken out of ``_queued``."""
        self._unwait(ticket)
        if ticket._round > self._round:
            self._round = ticket._round
            self._last_round = {
                user: last for user, last in self._last_round.items() if last >= self._round
            }
        self._last_round[ticket.user_key] = ticket._round
        ticket._state = JobState.RUNNING
        ticket._position = None
        self._running[ticket.job_id] = ticket
        ticket._left_queue()

    def _reposition(self, start: int = 0) -> None:
        """Store each queued job's position from index ``start`` on (the jobs before it have not
        moved) and tell the followers of those that moved. Coordinated, positions come from
        :meth:`place`."""
        if self._coordinator is not None:
            return
        for index in range(start, len(self._queued)):
            ticket = self._queued[index]
            if ticket._position != index + 1:
                ticket._position = index + 1
                ticket._moved()

    def _end(self, ticket: Ticket, state: JobState) -> None:
        """Retire a live ticket: the single place counts go down, so each job ends once."""
        if ticket._state is JobState.QUEUED:
            # Other jobs keep their rounds, so a cancel never moves anyone else back. The user's
            # next job is placed from what is left, so cancelling and resubmitting gains nothing.
            self._queued.remove(ticket)
            self._unwait(ticket)
        else:
            del self._running[ticket.job_id]
            released, self._released = self._released, asyncio.Event()
            released.set()
            if self._coordinator is not None:
                self._coordinator.released(ticket.job_id)
        del self._tickets[ticket.job_id]
        remaining = self._in_flight[ticket.user_key] - 1
        if remaining:
            self._in_flight[ticket.user_key] = remaining
        else:
            del self._in_flight[ticket.user_key]
        was_queued = ticket._state is JobState.QUEUED
        ticket._state = state
        ticket._position = None
        if was_queued:
            ticket._left_queue()

    def _unwait(self, ticket: Ticket) -> None:
        waiting = self._waiting[ticket.user_key]
        waiting.remove(ticket)
        if not waiting:
            del self._waiting[ticket.user_key]

    def _cancel(self, ticket: Ticket, *, by_shutdown: bool) -> bool:
        if ticket._queue is not self or ticket._state is not JobState.QUEUED:
            return False
        ticket._by_shutdown = by_shutdown
        self._end(ticket, JobState.CANCELLED)
        self._reposition()
        if self._coordinator is not None:
            self._coordinator.changed()
        return True

    def _release(self, ticket: Ticket) -> None:
        if ticket._queue is not self:
            return
        if ticket._state is JobState.QUEUED:
            self._cancel(ticket, by_shutdown=False)
        elif ticket._state is JobState.RUNNING:
            self._end(ticket, JobState.DONE)
            self._dispatch()
            self._reposition()
