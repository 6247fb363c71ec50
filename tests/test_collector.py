"""The collector is held while an interaction is checked and answered (bot/collector.py)."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from bot import collector
from bot.collector import OVERDUE_FACTOR, CollectorHold, due_generation
from tests.fakes.discord import FakeUser
from tests.harness import Stack, eventually, running_bot

# Under any of these, a collection would stop the loop inside a member's wait for the answer.
BEFORE_THE_ANSWER = {"GenerationService.prepare", "Ledger.reserve", "JobStore.reserve_job"}
ANSWERING = {"InteractionResponse.defer", "InteractionResponse.send_message"}


@pytest.fixture
def collector_state() -> Iterator[None]:
    """Restore the thresholds and the collector's on/off state a test changes."""
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        (gc.enable if enabled else gc.disable)()


@pytest.mark.usefixtures("collector_state")
def test_hold_turns_the_collector_off_until_the_last_release() -> None:
    gc.enable()
    hold = CollectorHold()
    first = hold.hold()
    second = hold.hold()
    assert not gc.isenabled() and hold.holders == 2
    first()
    first()  # twice: the second call does nothing
    assert not gc.isenabled() and hold.holders == 1
    second()
    assert gc.isenabled() and hold.holders == 0


@pytest.mark.usefixtures("collector_state")
def test_hold_leaves_a_collector_someone_else_turned_off_off() -> None:
    gc.disable()
    hold = CollectorHold()
    release = hold.hold()
    release()
    assert not gc.isenabled()


@pytest.mark.usefixtures("collector_state")
def test_a_collection_held_too_long_runs_at_the_next_hold() -> None:
    gc.enable()
    gc.set_threshold(100, 10, 10)
    hold = CollectorHold()
    first = hold.hold()
    kept = [[n] for n in range(100 * OVERDUE_FACTOR + 500)]  # young objects, all alive
    assert gc.get_count()[0] >= 100 * OVERDUE_FACTOR
    second = hold.hold()
    assert hold.overdue_collections == 1
    assert gc.get_count()[0] < 100  # the young generation was collected
    third = hold.hold()  # not overdue any more: no second collection
    assert hold.overdue_collections == 1
    for release in (first, second, third):
        release()
    assert gc.isenabled() and len(kept) > 0


@pytest.mark.usefixtures("collector_state")
def test_due_generation_follows_the_counts() -> None:
    gc.disable()
    gc.set_threshold(700, 10, 10)
    gc.collect()  # all counts back to zero (generation 2's: a full collection resets them)
    assert due_generation() == 0
    for _ in range(11):
        gc.collect(0)  # each raises generation 1's count by one
    assert due_generation() == 1


@pytest.fixture
def generations() -> Iterator[list[int]]:
    """The generation of every collection that starts while the test runs."""
    seen: list[int] = []

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(on_collection)
    try:
        yield seen
    finally:
        gc.callbacks.remove(on_collection)


@pytest.mark.usefixtures("collector_state")
async def test_a_burst_defers_the_older_collections_until_it_is_over(
    generations: list[int],
) -> None:
    """Answers coming closer than ``idle_s`` apart make a busy period: young collections run
    as usual, the middle generation's is put off past its usual threshold, and runs once no
    answer has been in progress for ``idle_s``; then the thresholds are back."""
    gc.enable()
    gc.set_threshold(100, 10, 10)
    gc.collect()
    generations.clear()
    hold = CollectorHold(idle_s=0.05, busy_factor=4)
    kept: list[list[int]] = []
    for n in range(12):  # ~0.12 s of answers 10 ms apart, each leaving ~120 objects alive
        release = hold.hold()
        assert gc.get_threshold() == (100, 40, 40)
        kept.extend([n] for _ in range(120))
        release()
        kept.append([n])  # the first allocation after the answer: a due collection runs here
        await asyncio.sleep(0.01)
    assert hold.busy
    assert gc.get_count()[1] > 10  # past the usual threshold: CPython would have run one
    assert 0 in generations and 1 not in generations and 2 not in generations
    await asyncio.sleep(0.15)
    assert not hold.busy and gc.get_threshold() == (100, 10, 10)
    assert generations.count(1) == 1 and hold.caught_up == 1
    assert gc.get_count()[1] == 0 and len(kept) > 0


@pytest.mark.usefixtures("collector_state")
async def test_thresholds_someone_else_set_during_a_busy_period_are_kept(
    generations: list[int],
) -> None:
    gc.enable()
    gc.set_threshold(100, 10, 10)
    hold = CollectorHold(idle_s=0.02)
    hold.hold()()
    gc.set_threshold(500, 5, 5)
    await asyncio.sleep(0.1)
    assert not hold.busy and gc.get_threshold() == (500, 5, 5)
    assert hold.caught_up == 0


@pytest.mark.usefixtures("collector_state")
def test_a_busy_period_left_by_a_closed_loop_ends_at_the_next_hold() -> None:
    """A loop that closes inside a busy period never fires its idle timer; the next hold, on
    another loop, puts the thresholds back before starting its own (no compounding)."""
    gc.set_threshold(100, 10, 10)
    hold = CollectorHold(idle_s=60)

    async def answer() -> None:
        hold.hold()()

    asyncio.run(answer())
    assert hold.busy and gc.get_threshold() == (100, 40, 40)
    asyncio.run(answer())
    assert gc.get_threshold() == (100, 40, 40)
    hold.end_busy(collect=False)
    assert not hold.busy and gc.get_threshold() == (100, 10, 10)


@pytest.mark.usefixtures("collector_state")
async def test_work_put_off_until_a_busy_period_ends_runs_once_it_has(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hold = CollectorHold(idle_s=0.03)
    ran: list[str] = []
    hold.after_busy(lambda: ran.append("at once"))  # no busy period: runs now
    assert ran == ["at once"]
    release = hold.hold()
    hold.after_busy(lambda: ran.append("first"))

    def fails() -> None:
        raise RuntimeError("boom")

    hold.after_busy(fails)
    hold.after_busy(lambda: ran.append("third"))
    await asyncio.sleep(0.1)
    assert ran == ["at once"]  # the answer is still in progress: still busy
    release()
    await asyncio.sleep(0.1)
    assert ran == ["at once", "first", "third"] and not hold.busy
    assert "work put off until the end of a busy period failed" in caplog.text
    hold.hold()()
    hold.after_busy(lambda: ran.append("dropped"))
    hold.end_busy(collect=False)  # the loop is closing
    await asyncio.sleep(0.1)
    assert ran[-1] == "third"


def test_without_a_running_loop_a_hold_changes_no_threshold() -> None:
    before = gc.get_threshold()
    hold = CollectorHold()
    hold.hold()()
    assert not hold.busy and gc.get_threshold() == before


def _frames() -> set[str]:
    """The functions on the stack of the allocation that started a collection (called from the
    collector's callback: the frame two up is that allocation's)."""
    names = set()
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        names.add(frame.f_code.co_qualname)
        frame = frame.f_back
    return names


@pytest.mark.usefixtures("collector_state")
async def test_no_collection_starts_while_an_imagine_is_checked_or_answered(stack: Stack) -> None:
    """With a threshold so low that the checks alone would cross it many times over, every
    collection starts outside the checks and the answer: deferred, queued (position and
    Cancel), refused, and an answer Discord fails. Afterwards the collector is on again."""
    inside: list[set[str]] = []
    outside = [0]

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if phase != "start":
            return
        names = _frames()
        if names & BEFORE_THE_ANSWER or ("JobRunner._run" in names and names & ANSWERING):
            inside.append(names & (BEFORE_THE_ANSWER | ANSWERING))
        else:
            outside[0] += 1

    async with running_bot(
        stack, DEFAULT_DAILY_CREDITS="1000", MAX_CONCURRENT_GENERATIONS="1"
    ) as bot:
        await eventually(lambda: gc.get_freeze_count() > 0, 5, "the heap to be frozen")
        gc.set_threshold(20, 10, 10)
        gc.callbacks.append(on_collection)
        try:
            fake = stack.discord
            its = [
                await fake.slash(
                    "imagine", {"prompt": f"a fox {n}"}, user=FakeUser(700 + n, f"fox{n}")
                )
                for n in range(4)
            ]
            types = [(await it.wait_response(10)).type for it in its]
            assert types[0] == 5 and 4 in types[1:]  # deferred, then queued with a position
            refused = await fake.slash(
                "imagine",
                {"prompt": "a fox", "negative_prompt": "rain"},
                user=FakeUser(800, "rainy"),
            )
            assert (await refused.wait_response(10)).data["flags"] & 64
            # Only now, so that no other answer meets it: Discord refuses this one's answer (403
            # is not retried by discord.py; a 5xx would be, and then succeed).
            fault = fake.inject("POST", r"^/interactions/\d+/[^/]+/callback$", 403)
            failed = await fake.slash("imagine", {"prompt": "a fox"}, user=FakeUser(801, "unlucky"))
            await eventually(lambda: fault.hits == 1, 10, "the failing answer")
            await eventually(lambda: collector.HOLD.holders == 0, 10, "every hold released")
            await eventually(
                lambda: all((m := it.original_message()) and m.get("attachments") for it in its),
                30,
                "the jobs to be delivered",
            )
            assert failed.response is None  # its only answer was the one Discord refused
        finally:
            gc.callbacks.remove(on_collection)
        assert not bot.is_closed()
    assert inside == []
    assert outside[0] > 0  # the callback saw the collections that did run
    assert collector.HOLD.holders == 0 and gc.isenabled()
    # Closing the client ended the busy period and gave back the thresholds it found.
    assert not collector.HOLD.busy and gc.get_threshold() == (20, 10, 10)
