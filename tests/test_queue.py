"""The fair job queue, driven with real asyncio tasks and real timers: no mocks.

Where the order of events matters the tests drive the queue synchronously (admit, release, cancel
are plain calls), so they check the scheduling rules rather than the event loop's task order.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Hashable
from itertools import pairwise

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bot.errors import RefusedError, ShuttingDownError
from bot.queue import (
    FairQueue,
    JobCancelledError,
    JobState,
    QueueClosedError,
    QueueFullError,
    Ticket,
)

FINAL = (JobState.DONE, JobState.CANCELLED)


async def run_job(ticket: Ticket, started: list[int], duration: float = 0.001) -> None:
    async with ticket.slot():
        started.append(ticket.job_id)
        await asyncio.sleep(duration)


def state_of(ticket: Ticket) -> JobState:
    """Read the state afresh (mypy keeps a narrowing from before a call that changed it)."""
    return ticket.state


def running_ticket(tickets: list[Ticket]) -> Ticket:
    (ticket,) = [t for t in tickets if t.state is JobState.RUNNING]
    return ticket


def drive_to_completion(queue: FairQueue, tickets: list[Ticket]) -> list[int]:
    """Finish running jobs oldest first until nothing is left; return the order jobs started in."""
    started: list[int] = []
    running = [t for t in tickets if t.state is JobState.RUNNING]
    while running:
        queued = [t for t in tickets if t.state is JobState.QUEUED]
        running.pop(0).release()
        newly = [t for t in queued if t.state is JobState.RUNNING]
        assert len(newly) <= 1, "one freed slot starts at most one job"
        started += [t.job_id for t in newly]
        running += newly
    assert queue.running == 0
    return started


def assert_positions_consistent(queue: FairQueue, tickets: list[Ticket]) -> None:
    queued = sorted(
        (t for t in tickets if t.state is JobState.QUEUED),
        key=lambda t: t.position or 0,
    )
    assert [t.position for t in queued] == list(range(1, queue.depth + 1))
    assert tuple(t.job_id for t in queued) == queue.snapshot().queued_jobs


# -- concurrency ---------------------------------------------------------------------------------


async def test_never_more_than_max_concurrent_under_a_stream_of_200_jobs() -> None:
    rng = random.Random(20240601)
    queue = FairQueue(max_concurrent=4, max_per_user=10)
    inside = peak = 0
    finished: list[int] = []

    async def job(ticket: Ticket, duration: float) -> None:
        nonlocal inside, peak
        async with ticket.slot():
            assert ticket.state is JobState.RUNNING
            inside += 1
            peak = max(peak, inside)
            assert queue.running <= queue.max_concurrent
            await asyncio.sleep(duration)
            inside -= 1
        assert state_of(ticket) is JobState.DONE
        finished.append(ticket.job_id)
        # Work-conserving: a freed slot is taken at once while anything waits.
        assert queue.running == min(queue.max_concurrent, queue.running + queue.depth)

    submissions = [(user, n) for user in range(20) for n in range(10)]
    rng.shuffle(submissions)
    tasks = []
    for job_id, (user, _) in enumerate(submissions):
        ticket = queue.admit(f"user-{user}", job_id)
        assert queue.running <= queue.max_concurrent
        tasks.append(asyncio.create_task(job(ticket, rng.choice([0.0, rng.uniform(0, 0.004)]))))
        if job_id % 10 == 9:
            await asyncio.sleep(rng.uniform(0, 0.003))
    await asyncio.gather(*tasks)

    assert peak == 4
    assert sorted(finished) == list(range(200))
    assert (queue.running, queue.depth, queue.in_flight_by_user) == (0, 0, {})


# -- fairness ------------------------------------------------------------------------------------


async def test_a_second_users_single_job_starts_at_the_next_free_slot() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=10)
    a_jobs = [queue.admit("A", n) for n in range(10)]
    b_job = queue.admit("B", 100)
    assert a_jobs[0].state is JobState.RUNNING
    assert b_job.position == 1
    assert [t.position for t in a_jobs[1:]] == list(range(2, 11))

    started: list[int] = []
    await asyncio.gather(*(run_job(t, started) for t in [*a_jobs, b_job]))
    assert started[:3] == [0, 100, 1]


@pytest.mark.parametrize("max_concurrent", [1, 2, 4])
async def test_a_second_user_waits_behind_at_most_one_more_job_of_the_first(
    max_concurrent: int,
) -> None:
    queue = FairQueue(max_concurrent=max_concurrent, max_per_user=10)
    a_jobs = [queue.admit("A", n) for n in range(10)]
    b_job = queue.admit("B", 100)
    started_before_b = {t.job_id for t in a_jobs if t.state is JobState.RUNNING}
    assert len(started_before_b) == max_concurrent

    order = drive_to_completion(queue, [*a_jobs, b_job])
    a_started_while_b_waited = order[: order.index(100)]
    assert len(a_started_while_b_waited) <= 1
    # This queue does better than the bound: B joins the round being served and goes first.
    assert a_started_while_b_waited == []


async def test_busy_users_alternate_round_robin() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=5)
    tickets = [queue.admit(user, 10 * i + n) for i, user in enumerate("ABC") for n in range(4)]
    assert running_ticket(tickets).job_id == 0
    assert drive_to_completion(queue, tickets) == [10, 20, 1, 11, 21, 2, 12, 22, 3, 13, 23]


async def test_a_newcomer_joins_the_round_being_served() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=5)
    a = [queue.admit("A", n) for n in range(3)]  # A0 runs; A1, A2 queued
    b = [queue.admit("B", 10 + n) for n in range(3)]  # B0 is in the current round
    assert [t.position for t in a[1:] + b] == [2, 4, 1, 3, 5]
    # C has nothing in flight: it joins the current round (after B0, before A1).
    c = queue.admit("C", 20)
    assert c.position == 2
    assert [t.position for t in a[1:] + b] == [3, 5, 1, 4, 6]
    assert drive_to_completion(queue, [*a, *b, c]) == [10, 20, 1, 11, 2, 12]


async def test_a_user_served_in_this_round_goes_after_the_others() -> None:
    queue = FairQueue(max_concurrent=2, max_per_user=5)
    a0 = queue.admit("A", 0)
    b0 = queue.admit("B", 1)  # A0 and B0 run: round 0
    b1 = queue.admit("B", 2)
    a0.release()  # B1 starts in A0's slot: round 1 is being served
    assert b1.state is JobState.RUNNING
    a1 = queue.admit("A", 3)  # A has no job in round 1 yet
    b2 = queue.admit("B", 4)  # B has: round 2, behind C although admitted first
    c0 = queue.admit("C", 5)
    assert [a1.position, c0.position, b2.position] == [1, 2, 3]
    assert drive_to_completion(queue, [a0, b0, b1, a1, b2, c0]) == [3, 5, 4]


# -- per-user limit ------------------------------------------------------------------------------


async def test_per_user_limit_refuses_then_admits_after_one_finishes() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=2)
    first = queue.admit("A", 1)
    queue.admit("A", 2)
    with pytest.raises(QueueFullError) as refused:
        queue.admit("A", 3)
    assert isinstance(refused.value, RefusedError)
    assert refused.value.user_message == (
        "You already have 2 jobs queued or generating. Wait for one to finish."
    )
    assert refused.value.error_class == "queue_full"
    assert queue.get(3) is None
    assert queue.in_flight("A") == 2

    other = queue.admit("B", 4)  # another user is not affected
    assert other.position is not None

    async with first.slot():
        with pytest.raises(QueueFullError):
            queue.admit("A", 3)  # still running: still counts
    third = queue.admit("A", 3)
    assert third.state is JobState.QUEUED
    assert queue.in_flight_by_user == {"A": 2, "B": 1}


async def test_limit_message_is_singular_for_one_job() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    queue.admit(42, 1)
    with pytest.raises(QueueFullError, match="You already have 1 job queued or generating"):
        queue.admit(42, 2)


# -- cancellation --------------------------------------------------------------------------------


async def test_cancel_while_queued_never_runs_frees_the_count_and_moves_others_up() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    a, b, c, d = (queue.admit(user, n) for n, user in enumerate("ABCD"))
    assert [b.position, c.position, d.position] == [1, 2, 3]
    started: list[int] = []
    tasks = [asyncio.create_task(run_job(t, started)) for t in (a, b, c, d)]
    await asyncio.sleep(0)

    assert c.cancel() is True
    assert c.state is JobState.CANCELLED
    assert c.position is None
    assert [b.position, d.position] == [1, 2]
    assert "C" not in queue.in_flight_by_user
    assert queue.get(c.job_id) is None
    assert c.cancel() is False  # only once
    queue.admit("C", 99).release()  # the count was freed (limit is 1)

    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert started == [a.job_id, b.job_id, d.job_id]
    error = results[2]
    assert isinstance(error, JobCancelledError)
    assert not error.by_shutdown
    assert error.error_class == "cancelled"
    assert [r for i, r in enumerate(results) if i != 2] == [None, None, None]


async def test_cancel_of_a_running_job_returns_false() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    ticket = queue.admit("A", 1)
    assert ticket.state is JobState.RUNNING
    assert ticket.cancel() is False
    assert ticket.state is JobState.RUNNING
    assert queue.running == 1
    ticket.release()
    assert state_of(ticket) is JobState.DONE
    assert ticket.cancel() is False


async def test_releasing_a_queued_ticket_withdraws_it() -> None:
    """The handler admits, then reserves the budget; if that fails it just releases the ticket."""
    queue = FairQueue(max_concurrent=1, max_per_user=2)
    queue.admit("A", 1)
    ticket = queue.admit("B", 2)
    ticket.release()
    assert ticket.state is JobState.CANCELLED
    assert (queue.depth, queue.in_flight("B")) == (0, 0)
    ticket.release()  # idempotent
    assert (queue.depth, queue.running) == (0, 1)


# -- positions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
async def test_positions_are_the_order_jobs_actually_start(seed: int) -> None:
    """Build a random queue (admits, finishes and cancels mixed), then let it run out: jobs must
    start exactly in position order."""
    rng = random.Random(seed)
    queue = FairQueue(max_concurrent=rng.randint(1, 3), max_per_user=rng.randint(1, 4))
    tickets: list[Ticket] = []
    for job_id in range(rng.randint(5, 60)):
        action = rng.random()
        running = [t for t in tickets if t.state is JobState.RUNNING]
        queued = [t for t in tickets if t.state is JobState.QUEUED]
        if action < 0.15 and running:
            rng.choice(running).release()
        elif action < 0.25 and queued:
            assert rng.choice(queued).cancel()
        else:
            with contextlib.suppress(QueueFullError):
                tickets.append(queue.admit(rng.randrange(6), job_id))
        assert_positions_consistent(queue, tickets)

    predicted = queue.snapshot().queued_jobs
    assert drive_to_completion(queue, tickets) == list(predicted)
    assert all(t.state in FINAL for t in tickets)


async def test_follow_position_shows_each_move_then_stops_when_the_job_starts() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    tickets = [queue.admit(user, n) for n, user in enumerate("ABCD")]
    seen: list[int] = []

    async def show(position: int) -> None:
        seen.append(position)

    tickets[3].follow_position(show, 0.0, shown=tickets[3].position)
    for _ in range(3):
        running_ticket(tickets).release()
        for _ in range(3):
            await asyncio.sleep(0)
    assert seen == [2, 1]
    assert tickets[3].state is JobState.RUNNING
    running_ticket(tickets).release()
    await asyncio.sleep(0.01)
    assert seen == [2, 1], "nothing once the job has left the queue"


async def test_position_updates_are_coalesced_to_one_per_interval() -> None:
    interval = 0.03
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    tickets = [queue.admit(f"user-{n}", n) for n in range(40)]
    watched = tickets[-1]
    assert watched.position == 39
    reports: list[tuple[float, int, int | None]] = []
    calls_running = 0

    async def show(position: int) -> None:
        nonlocal calls_running
        calls_running += 1
        assert calls_running == 1, "one call at a time"
        reports.append((time.monotonic(), position, watched.position))
        await asyncio.sleep(0.001)
        calls_running -= 1

    followed_at = time.monotonic()
    watched.follow_position(show, interval, shown=watched.position)
    for ticket in tickets[:-1]:
        async with ticket.slot():
            await asyncio.sleep(0.002)
    assert watched.state is JobState.RUNNING
    started_at = time.monotonic()
    await asyncio.sleep(interval * 2)

    assert 1 <= len(reports) < 38, "38 changes were coalesced"
    assert all(at < started_at for at, _, _ in reports), "nothing after the job started"
    assert all(position == current for _, position, current in reports), "the latest position"
    positions = [position for _, position, _ in reports]
    assert positions == sorted(positions, reverse=True)
    assert len(set(positions)) == len(positions)
    times = [followed_at] + [at for at, _, _ in reports]
    tolerance = 0.002
    assert all(later - earlier >= interval - tolerance for earlier, later in pairwise(times))


async def test_a_move_within_the_interval_is_dropped_when_the_job_is_cancelled() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    queue.admit("A", 1)
    b = queue.admit("B", 2)
    c = queue.admit("C", 3)
    seen: list[int] = []

    async def show(position: int) -> None:
        seen.append(position)

    c.follow_position(show, 0.05, shown=c.position)
    b.cancel()  # C moves up, but the interval since it was shown has not passed
    assert c.position == 1
    c.cancel()
    await asyncio.sleep(0.1)
    assert seen == []


async def test_a_position_call_still_running_is_cancelled_when_the_job_starts() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    a = queue.admit("A", 1)
    b = queue.admit("B", 2)
    c = queue.admit("C", 3)
    outcome: list[str] = []
    under_way = asyncio.Event()

    async def show(position: int) -> None:
        under_way.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            outcome.append(f"cancelled at {position}")
            raise

    c.follow_position(show, 0.0, shown=c.position)
    b.cancel()
    await asyncio.wait_for(under_way.wait(), 30)  # show(1) is under way
    a.release()  # C starts
    assert c.state is JobState.RUNNING
    for _ in range(3):
        await asyncio.sleep(0)  # the cancellation is delivered to show's task
    assert outcome == ["cancelled at 1"]


async def test_when_turn_calls_back_once_as_the_job_starts_is_cancelled_or_at_once() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    a, b, c = (queue.admit(user, n) for n, user in enumerate("ABC"))
    calls: list[tuple[int, JobState, int]] = []

    def note(ticket: Ticket) -> None:
        calls.append((ticket.job_id, ticket.state, queue.running))

    b.when_turn(note)
    c.when_turn(note)
    assert calls == []
    c.cancel()
    assert calls == [(2, JobState.CANCELLED, 1)]
    a.release()
    assert calls[1:] == [(1, JobState.RUNNING, 1)], "called with the slot already taken"
    b.release()
    a.when_turn(note)  # long gone: at once
    assert calls[2:] == [(0, JobState.DONE, 0)]
    assert len(calls) == 3


async def test_parked_jobs_keep_no_task_and_start_through_their_call_back() -> None:
    """The shape JobRunner uses: hundreds of jobs wait as data, each with a follower and a
    call-back, and not one task exists until a job leaves the queue."""
    queue = FairQueue(max_concurrent=2, max_per_user=1)
    started: list[int] = []
    shown: list[tuple[int, int]] = []
    runs: set[asyncio.Task[None]] = set()
    all_started = asyncio.Event()

    async def run(ticket: Ticket) -> None:
        async with ticket.slot():
            started.append(ticket.job_id)
            if len(started) == 200:
                all_started.set()
            await asyncio.sleep(0.001)

    def resume(ticket: Ticket) -> None:
        task = asyncio.create_task(run(ticket))
        runs.add(task)
        task.add_done_callback(runs.discard)

    tasks_before = len(asyncio.all_tasks())
    tickets = [queue.admit(f"user-{n}", n) for n in range(200)]
    for ticket in tickets:
        job_id = ticket.job_id

        async def show(position: int, job_id: int = job_id) -> None:
            shown.append((job_id, position))

        ticket.follow_position(show, 0.0, shown=ticket.position)
        ticket.when_turn(resume)
    assert len(runs) == 2, "the two that started at admission"
    assert len(asyncio.all_tasks()) == tasks_before + 2, "no task per waiting job"
    await asyncio.wait_for(all_started.wait(), 5)
    await asyncio.gather(*runs)
    assert started == list(range(200))
    assert queue.running == queue.depth == 0
    assert shown, "the waiting jobs were told of their moves"


async def test_shutdown_cancels_parked_jobs_through_their_call_back() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    tickets = [queue.admit(user, n) for n, user in enumerate("ABC")]
    errors: list[JobCancelledError] = []
    runs: list[asyncio.Task[None]] = []

    async def run(ticket: Ticket) -> None:
        try:
            async with ticket.slot():
                pass
        except JobCancelledError as exc:
            errors.append(exc)

    for ticket in tickets[1:]:
        ticket.when_turn(lambda t: runs.append(asyncio.create_task(run(t))))
    queue.close()
    assert queue.cancel_queued() == tickets[1:]
    assert len(runs) == 2, "the tasks exist as soon as cancel_queued returns"
    await asyncio.gather(*runs)
    assert [e.by_shutdown for e in errors] == [True, True]


# -- shutdown ------------------------------------------------------------------------------------


async def test_close_refuses_new_jobs_and_cancel_queued_returns_the_waiting_ones() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=2)
    a = queue.admit("A", 1)
    b = queue.admit("B", 2)
    c = queue.admit("C", 3)
    c2 = queue.admit("C", 4)
    waiters = [asyncio.create_task(t.wait_turn()) for t in (b, c, c2)]
    await asyncio.sleep(0)

    queue.close()
    assert queue.closed
    with pytest.raises(QueueClosedError) as refused:
        queue.admit("D", 5)
    assert isinstance(refused.value, ShuttingDownError)
    assert refused.value.error_class == "shutting_down"

    a.release()  # a freed slot starts nothing once closed
    assert (queue.running, queue.depth) == (0, 3)
    assert b.state is JobState.QUEUED

    assert queue.cancel_queued() == [b, c, c2]
    assert all(t.state is JobState.CANCELLED for t in (b, c, c2))
    assert (queue.depth, queue.in_flight_by_user) == (0, {})
    for waiter in waiters:
        with pytest.raises(JobCancelledError) as cancelled:
            await waiter
        assert cancelled.value.by_shutdown
        assert cancelled.value.error_class == "shutting_down"
    assert queue.cancel_queued() == []


async def test_drain_returns_true_when_running_jobs_finish_in_time() -> None:
    queue = FairQueue(max_concurrent=2, max_per_user=2)
    assert await queue.drain(0) is True  # nothing running
    started: list[int] = []
    tasks = [
        asyncio.create_task(run_job(queue.admit("A", 1), started, 0.02)),
        asyncio.create_task(run_job(queue.admit("B", 2), started, 0.04)),
    ]
    await asyncio.sleep(0)
    queue.close()
    assert await queue.drain(30.0) is True  # True: they finished, not the timeout
    assert queue.running == 0
    await asyncio.gather(*tasks)


async def test_drain_returns_false_when_a_job_outlives_the_timeout() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    ticket = queue.admit("A", 1)
    task = asyncio.create_task(run_job(ticket, [], 30.0))
    await asyncio.sleep(0)
    began = time.monotonic()
    assert await queue.drain(0.05) is False
    assert time.monotonic() - began >= 0.04
    assert ticket.state is JobState.RUNNING

    task.cancel()  # what shutdown does with the stragglers
    with pytest.raises(asyncio.CancelledError):
        await task
    assert state_of(ticket) is JobState.DONE
    assert await queue.drain(0) is True


# -- failures and cancellation of tasks -----------------------------------------------------------


async def test_a_job_raising_releases_its_slot() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    a = queue.admit("A", 1)
    b = queue.admit("B", 2)
    with pytest.raises(ValueError, match="boom"):
        async with a.slot():
            raise ValueError("boom")
    assert a.state is JobState.DONE
    assert b.state is JobState.RUNNING
    assert queue.in_flight_by_user == {"B": 1}


async def test_cancelling_a_queued_waiter_task_withdraws_its_job() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    a = queue.admit("A", 1)
    b = queue.admit("B", 2)
    task = asyncio.create_task(run_job(b, []))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert b.state is JobState.CANCELLED
    assert (queue.depth, queue.in_flight_by_user) == (0, {"A": 1})
    a.release()
    assert (queue.running, queue.in_flight_by_user) == (0, {})


async def test_cancelling_a_waiter_just_granted_its_slot_hands_the_slot_on() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    a = queue.admit("A", 1)
    b = queue.admit("B", 2)
    c = queue.admit("C", 3)
    task = asyncio.create_task(run_job(b, []))
    await asyncio.sleep(0)
    a.release()
    assert b.state is JobState.RUNNING  # granted, but its task has not resumed yet
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert state_of(b) is JobState.DONE
    assert c.state is JobState.RUNNING
    assert queue.in_flight_by_user == {"C": 1}


async def test_cancelling_a_running_task_releases_its_slot() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    a = queue.admit("A", 1)
    task = asyncio.create_task(run_job(a, [], 30.0))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert a.state is JobState.DONE
    assert (queue.running, queue.in_flight_by_user) == (0, {})


async def test_wait_turn_and_release_by_hand() -> None:
    queue = FairQueue(max_concurrent=1, max_per_user=1)
    a = queue.admit("A", 1)
    await a.wait_turn()
    assert a.state is JobState.RUNNING
    a.release()
    a.release()  # idempotent: the count goes down once
    assert (queue.running, queue.in_flight_by_user) == (0, {})
    with pytest.raises(RuntimeError):
        await a.wait_turn()


# -- misuse and introspection --------------------------------------------------------------------


async def test_bad_limits_and_duplicate_job_ids_are_rejected() -> None:
    with pytest.raises(ValueError):
        FairQueue(max_concurrent=0, max_per_user=1)
    with pytest.raises(ValueError):
        FairQueue(max_concurrent=1, max_per_user=0)
    queue = FairQueue(max_concurrent=1, max_per_user=2)
    queue.admit("A", 1)
    with pytest.raises(ValueError):
        queue.admit("B", 1)
    assert queue.in_flight_by_user == {"A": 1}


async def test_snapshot_and_counts() -> None:
    queue = FairQueue(max_concurrent=2, max_per_user=3)
    for n, user in enumerate("AAABB"):
        queue.admit(user, n)
    snap = queue.snapshot()
    assert (snap.running, snap.depth, queue.running, queue.depth) == (2, 3, 2, 3)
    assert snap.running_jobs == (0, 1)
    assert snap.queued_jobs == (3, 2, 4)  # B joins the current round ahead of A's third
    assert snap.in_flight_by_user == {"A": 3, "B": 2}
    assert (snap.max_concurrent, snap.max_per_user, snap.closed) == (2, 3, False)
    assert queue.get(2) is not None
    assert "running=2/2" in repr(queue)
    assert "state=queued position=2" in repr(queue.get(2))


# -- property: random admit / finish / cancel sequences ------------------------------------------


@settings(max_examples=80, stateful_step_count=30, deadline=None)
class QueueMachine(RuleBasedStateMachine):
    """Random admits, finishes, cancels, abandons and a shutdown, checked after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.queue = FairQueue(max_concurrent=1, max_per_user=1)
        self.tickets: list[Ticket] = []
        self.seen: dict[int, JobState] = {}
        self.ends: Counter[int] = Counter()
        self.next_id = 0

    @initialize(max_concurrent=st.integers(1, 3), max_per_user=st.integers(1, 3))
    def make_queue(self, max_concurrent: int, max_per_user: int) -> None:
        self.queue = FairQueue(max_concurrent=max_concurrent, max_per_user=max_per_user)

    def positions(self) -> dict[int, int]:
        return {t.job_id: t.position for t in self.tickets if t.position is not None}

    def pick(self, state: JobState | None, index: int) -> Ticket | None:
        pool = [t for t in self.tickets if state is None or t.state is state]
        return pool[index % len(pool)] if pool else None

    @rule(user=st.integers(0, 4))
    def admit(self, user: int) -> None:
        before = self.positions()
        in_flight = self.queue.in_flight(user)
        others_queued = {t.user_key for t in self.tickets if t.state is JobState.QUEUED} - {user}
        self.next_id += 1
        if self.queue.closed:
            with pytest.raises(QueueClosedError):
                self.queue.admit(user, self.next_id)
            return
        if in_flight >= self.queue.max_per_user:
            with pytest.raises(QueueFullError):
                self.queue.admit(user, self.next_id)
            assert self.positions() == before
            return
        ticket = self.queue.admit(user, self.next_id)
        self.tickets.append(ticket)
        after = self.positions()
        # One admission moves each queued job back by at most one place.
        assert all(after[job] - position in (0, 1) for job, position in before.items())
        if in_flight == 0 and ticket.position is not None:
            # Fairness bound: a user with nothing in flight waits behind at most two jobs of
            # each other user (one from the round being served, one from the next).
            assert ticket.position <= 1 + 2 * len(others_queued)

    @rule(index=st.integers(0, 100))
    def finish(self, index: int) -> None:
        ticket = self.pick(JobState.RUNNING, index)
        if ticket is None:
            return
        before = self.positions()
        next_up = next((t for t in self.tickets if t.position == 1), None)
        ticket.release()
        assert ticket.state is JobState.DONE
        if next_up is not None and not self.queue.closed:
            # Position 1 really is the job that starts next; everyone else moves up one.
            assert next_up.state is JobState.RUNNING
            assert self.positions() == {job: p - 1 for job, p in before.items() if p > 1}
        else:
            assert self.positions() == before

    @rule(index=st.integers(0, 100), abandon=st.booleans())
    def cancel(self, index: int, abandon: bool) -> None:
        ticket = self.pick(None, index)
        if ticket is None:
            return
        was = ticket.state
        before = self.positions()
        if abandon:
            ticket.release()  # a queued ticket is withdrawn, a running one finished
        else:
            assert ticket.cancel() is (was is JobState.QUEUED)
            if was is not JobState.QUEUED:
                assert ticket.state is was
        if was is JobState.QUEUED:
            assert ticket.state is JobState.CANCELLED
            gone = before[ticket.job_id]
            expected = {job: p - (p > gone) for job, p in before.items() if job != ticket.job_id}
            assert self.positions() == expected  # a cancel never moves anyone back

    @rule()
    def shut_down(self) -> None:
        if len(self.tickets) < 8 or self.queue.closed:
            return  # keep most runs open for longer
        queued = [t for t in self.tickets if t.state is JobState.QUEUED]
        self.queue.close()
        cancelled = self.queue.cancel_queued()
        assert sorted(t.job_id for t in cancelled) == sorted(t.job_id for t in queued)

    @invariant()
    def limits_and_counts_hold(self) -> None:
        queue = self.queue
        live = [t for t in self.tickets if t.state not in FINAL]
        expected: Counter[Hashable] = Counter(t.user_key for t in live)
        assert queue.in_flight_by_user == dict(expected)
        assert all(0 < n <= queue.max_per_user for n in queue.in_flight_by_user.values())
        assert queue.running <= queue.max_concurrent
        assert queue.running == sum(t.state is JobState.RUNNING for t in live)
        assert queue.depth == sum(t.state is JobState.QUEUED for t in live)
        if not queue.closed:
            assert queue.running == min(queue.max_concurrent, queue.running + queue.depth)
        assert_positions_consistent(queue, self.tickets)

    @invariant()
    def every_job_ends_exactly_once(self) -> None:
        allowed = {
            JobState.QUEUED: {JobState.QUEUED, JobState.RUNNING, JobState.CANCELLED},
            JobState.RUNNING: {JobState.RUNNING, JobState.DONE},
            JobState.DONE: {JobState.DONE},
            JobState.CANCELLED: {JobState.CANCELLED},
        }
        for ticket in self.tickets:
            was = self.seen.get(ticket.job_id, JobState.QUEUED)
            assert ticket.state in allowed[was]
            if ticket.state in FINAL and was not in FINAL:
                self.ends[ticket.job_id] += 1
                assert self.queue.get(ticket.job_id) is None
            self.seen[ticket.job_id] = ticket.state
        assert all(count == 1 for count in self.ends.values())

    def teardown(self) -> None:
        self.queue.close()
        self.queue.cancel_queued()
        for ticket in self.tickets:
            ticket.release()
        self.every_job_ends_exactly_once()
        assert set(self.ends) == {t.job_id for t in self.tickets}
        assert (self.queue.running, self.queue.depth, self.queue.in_flight_by_user) == (0, 0, {})


TestQueueMachine = QueueMachine.TestCase
