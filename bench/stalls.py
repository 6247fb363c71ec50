"""A witness for the machine's own hiccups: ``python -m bench.stalls``.

It sleeps 1 ms at a time and notes every wake-up that came more than ``THRESHOLD_S`` late: the
process was ready to run and the machine did not run it (both CPUs busy, or on a VM a vCPU the
host did not schedule). It runs at the lowest priority there is (``SCHED_IDLE``) so that its
thousand wake-ups a second take no CPU from the processes measured: at normal priority it
preempted them, and on 2 cores the busier bot lost more to it. On SIGTERM it prints the stalls
as JSON lines of ``[start, seconds]`` (``time.perf_counter``) and exits. A latency benchmark
runs it beside each measured burst, so a slow round can be told apart from a slow bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from types import FrameType

THRESHOLD_S = 0.002
TICK_S = 0.001


@contextlib.asynccontextmanager
async def witness() -> AsyncIterator[list[tuple[float, float]]]:
    """Run ``python -m bench.stalls`` for the duration of the block; the list it yields holds
    the stalls, as (start, seconds), once the block has ended."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.stalls", stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    await proc.stdout.readline()  # "ready"
    found: list[tuple[float, float]] = []
    try:
        yield found
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await proc.communicate()
        for line in out.decode().splitlines():
            if line.strip():
                at, length = json.loads(line)
                found.append((float(at), float(length)))


def main() -> None:
    stalls: list[tuple[float, float]] = []
    running = True

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(AttributeError, OSError):  # Linux only; elsewhere, as it is
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    print("ready", flush=True)
    clock = time.perf_counter
    while running:
        before = clock()
        time.sleep(TICK_S)
        late = clock() - before - TICK_S
        if late > THRESHOLD_S:
            stalls.append((before + TICK_S, late))
    sys.stdout.write("".join(json.dumps(s) + "\n" for s in stalls))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
