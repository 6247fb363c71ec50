"""This process's part in a cluster of bot processes (shards) sharing one database.

Each process picks an id at start and keeps a lease on it alive; every job it takes names it as
owner (:meth:`Cluster.enrol`, which also counts the user's open jobs in every process). The
generation slots and the line are bot-wide (``ClusterRepository.claim_slots``): the local
:class:`~bot.queue.FairQueue` starts a job only when a claim gives it a slot. A waiting job holds
no connection: the claim loop polls with backoff while this process has jobs waiting, and local
events (a job admitted, a slot released) wake it at once. A process whose lease renewal fails
stops taking jobs until it succeeds again; another process refunds the jobs of a process whose
lease expired (:meth:`Cluster.orphaned_jobs`), and a restart refunds those of its previous life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Final

from bot import texts
from bot.errors import RefusedError
from bot.queue import FairQueue, QueueFullError, Ticket
from bot.storage import ClusterRepository, JobRow

log = logging.getLogger(__name__)

IDENTIFY_WINDOW_S: Final = 5.0  # Discord: one IDENTIFY per bucket per 5 seconds
CLAIM_POLL_MIN_S: Final = 0.1
CLAIM_POLL_MAX_S: Final = 2.0


class ClusterUnavailableError(RefusedError):
    """This process cannot keep its lease on the shared database: it takes no jobs."""

    error_class = "cluster_cut_off"
    default_message = texts.CLUSTER_CUT_OFF


def new_process_id() -> str:
    """Unique among live and past processes: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def member_name(shard_ids: tuple[int, ...] | None) -> str:
    """What a process runs, the same across its restarts (``shards:0-1`` style)."""
    return "shards:all" if shard_ids is None else "shards:" + ",".join(map(str, shard_ids))


class Cluster:
    """Leases, bot-wide slots and the IDENTIFY turns of one process; the queue's coordinator."""

    def __init__(
        self,
        store: ClusterRepository,
        *,
        member: str,
        max_slots: int,
        max_per_user: int,
        lease_s: float,
        process_id: str | None = None,
    ) -> None:
        self.store = store
        self.member = member
        self.process_id = process_id or new_process_id()
        self.max_slots = max_slots
        self.max_per_user = max_per_user
        self.lease_s = lease_s
        self.queue: FairQueue | None = None
        self._renewed_at: float | None = None  # monotonic time of the last renewal
        self._released: set[int] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def attach(self, queue: FairQueue) -> None:
        self.queue = queue

    # -- lease ----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while this process's lease is known to be alive."""
        return self._renewed_at is not None and time.monotonic() - self._renewed_at < self.lease_s

    def check_connected(self) -> None:
        """Refuse a new job while cut off from the database (before anything is reserved)."""
        if not self.connected:
            raise ClusterUnavailableError()

    async def register(self) -> None:
        await self.store.register(self.process_id, self.member, self.lease_s)
        self._renewed_at = time.monotonic()
        log.info("cluster: process %s (%s) registered", self.process_id, self.member)

    async def renew(self) -> None:
        """Renew the lease; a process others took for dead registers again (its old jobs were
        refunded by them, so it only takes new ones)."""
        started = time.monotonic()
        try:
            if not await self.store.renew(self.process_id, self.lease_s):
                log.warning("cluster: lease of %s had lapsed; registering again", self.process_id)
                await self.store.register(self.process_id, self.member, self.lease_s)
        except Exception as exc:
            if self.connected:
                log.warning("cluster: cannot renew the lease (%s); taking no new jobs", exc)
            return
        if not self.connected:
            log.info("cluster: lease renewed; taking jobs again")
        self._renewed_at = started

    def start(self, housekeeping: Callable[[], Awaitable[object]]) -> None:
        """Run the lease loop (renew, then ``housekeeping``: refund orphaned jobs) and the
        slot loop until :meth:`stop`."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._lease_loop(housekeeping), name="cluster-lease"),
            loop.create_task(self._slot_loop(), name="cluster-slots"),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self._round()  # give back the slots of jobs that ended meanwhile
        except Exception as exc:
            log.warning("cluster: could not give back slots at stop: %s", exc)

    async def _lease_loop(self, housekeeping: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            await self.renew()
            if not self.connected:
                continue
            try:
                await housekeeping()
            except Exception:
                log.exception("cluster: refunding orphaned jobs failed; trying again later")

    # -- jobs -----------------------------------------------------------------------------------

    async def enrol(self, ticket: Ticket, user_id: int) -> None:
        """Make this process the job's owner if its user has room bot-wide, then claim at once
        so the job's first answer shows its bot-wide position (or that it started).

        On refusal the ticket is released and an error raised; the caller refunds the job."""
        try:
            taken = await self.store.enrol(
                ticket.job_id, user_id, self.process_id, self.max_per_user
            )
        except Exception as exc:
            ticket.release()
            log.warning("cluster: could not take job %d: %s", ticket.job_id, exc)
            raise ClusterUnavailableError(detail=str(exc)) from exc
        if not taken:
            ticket.release()
            raise QueueFullError(self.max_per_user)
        await self._round()

    async def orphaned_jobs(self) -> list[JobRow]:
        """Open jobs no live process answers for: the caller refunds them (exactly once, by
        the settling statement) and tells their users."""
        rows = await self.store.orphaned_jobs(self.process_id, self.member, self.lease_s)
        await self.store.forget_dead(self.process_id, self.member)
        return rows

    # -- the queue's coordinator ----------------------------------------------------------------

    def changed(self) -> None:
        self._wake.set()

    def released(self, job_id: int) -> None:
        self._released.add(job_id)
        self._wake.set()

    async def _round(self) -> None:
        """Give back released slots, claim free ones for this process, show the positions."""
        queue = self.queue
        if queue is None:
            return
        released, self._released = sorted(self._released), set()
        try:
            if released:
                await self.store.release_slots(released)
            if queue.depth:
                granted = await self.store.claim_slots(self.process_id, self.max_slots)
                refused = queue.grant(granted)
                if refused:
                    await self.store.release_slots(refused)
                queue.place(await self.store.queue_positions(self.process_id))
        except BaseException:
            self._released.update(released)
            raise

    async def _slot_loop(self) -> None:
        delay = CLAIM_POLL_MIN_S
        while True:
            waiting = self.queue is not None and self.queue.depth > 0
            try:
                async with asyncio.timeout(delay if waiting else None):
                    await self._wake.wait()
                delay = CLAIM_POLL_MIN_S
            except TimeoutError:
                delay = min(delay * 2, CLAIM_POLL_MAX_S)
            self._wake.clear()
            try:
                await self._round()
            except Exception as exc:
                log.warning("cluster: claiming slots failed (%s); retrying", exc)
                delay = CLAIM_POLL_MAX_S

    # -- IDENTIFY turns -------------------------------------------------------------------------

    async def identify_turn(self, bucket: int) -> None:
        """Wait for this process's turn to IDENTIFY in ``bucket`` (shard id % max_concurrency):
        one IDENTIFY per bucket per window, across every process of the bot."""
        holder = self.process_id
        while True:
            try:
                wait = await self.store.identify_turn(bucket, holder, IDENTIFY_WINDOW_S)
            except Exception as exc:
                log.warning("cluster: cannot take an IDENTIFY turn (%s); waiting a window", exc)
                wait = IDENTIFY_WINDOW_S
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, IDENTIFY_WINDOW_S) + 0.05)
