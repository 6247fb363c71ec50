"""Memory under load: N concurrent 4-image jobs; peak resident growth against the image bytes.

The real bot runs as a child process (``python -m bot``) with MAX_CONCURRENT_GENERATIONS=N so
every job is in flight at once. After a warm-up job, its peak RSS is reset
(``/proc/<pid>/clear_refs``) and N users each ask for 4 images at 16:9 (1408x768 PNGs of a real
image's weight) at the same moment. Growth is the peak (VmHWM, and the highest VmRSS sampled
every 5 ms) minus the RSS before the burst; "image bytes in flight" is the bytes of every image
of the burst (N x 4 images), all of which the bot holds at the same time.

    python -m bench.memory [--size small]
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.common import (
    Result,
    RssSampler,
    bench_main,
    bench_stack,
    mib,
    proc_status,
    profiled,
    realistic_png,
    reset_peak,
    start_bot,
)
from tests.fakes.discord import FakeInteraction, FakeUser

SIZES = {"small": 4, "full": 16}  # concurrent 4-image jobs
COUNT = 4
ASPECT = "16:9"
API_LATENCY_S = 0.5
RATIO_TARGET = 3.0
USER_ID = 1_700_000_000_000_000_000


async def run(size: str, profile: str | None = None) -> Result:
    jobs = SIZES[size]
    for variant in range(4):
        realistic_png(ASPECT, variant)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        async with bench_stack(Path(tmp), api_latency=API_LATENCY_S) as stack:
            started = await start_bot(
                stack,
                "bot",
                DEFAULT_DAILY_CREDITS="1000",
                MAX_CONCURRENT_GENERATIONS=str(jobs),
            )
            pid = started.pid
            try:

                async def job(n: int) -> FakeInteraction:
                    options = {
                        "prompt": f"a market, take {n}",
                        "aspect_ratio": ASPECT,
                        "count": COUNT,
                    }
                    it = await stack.discord.slash(
                        "imagine", options, user=FakeUser(USER_ID + n, f"u{n}")
                    )
                    return it

                warm = await job(-1)
                await warm.wait_original_message(60)
                await asyncio.sleep(0.5)
                before = proc_status(pid)
                peak_reset = reset_peak(pid)
                sampler = RssSampler(pid)
                sampler.start()
                async with profiled(pid, profile, "memory"):
                    burst = [await job(n) for n in range(jobs)]
                    messages = [await it.wait_original_message(120) for it in burst]
                await sampler.stop()
                after = proc_status(pid)
                await asyncio.sleep(2.0)
                settled = proc_status(pid)
            finally:
                started.process.close()
    delivered = [a for m in messages for a in m["attachments"]]
    image_bytes = sum(int(a["size"]) for a in delivered)
    base = before["VmRSS"]
    peak = max(sampler.peak, after["VmHWM"] if peak_reset else 0)
    growth_kib = peak - base
    ratio = growth_kib * 1024 / image_bytes
    result = Result(f"Memory under load: {jobs} concurrent {COUNT}-image jobs", "")
    result.add(
        "images in flight",
        f"{len(delivered)} PNGs (1408x768), {image_bytes / 2**20:.1f} MiB",
    )
    result.add("RSS before the burst", mib(base))
    result.add(
        "peak RSS during the burst",
        f"{mib(peak)} (VmHWM {mib(after['VmHWM'])}{'' if peak_reset else ', not reset'}, "
        f"sampled {mib(sampler.peak)})",
    )
    result.add(
        "RSS after the burst (2 s later)", f"{mib(after['VmRSS'])} ({mib(settled['VmRSS'])})"
    )
    result.add("peak growth / image bytes in flight", f"{ratio:.2f}x")
    result.target(f"all {jobs * COUNT} images delivered", len(delivered) == jobs * COUNT)
    result.target(f"peak growth <= {RATIO_TARGET}x image bytes", ratio <= RATIO_TARGET)
    result.raw = {
        "before_kib": before,
        "after_kib": after,
        "sampled_peak_kib": sampler.peak,
        "image_bytes": image_bytes,
        "ratio": ratio,
    }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(
        "bench.memory",
        "Peak memory of concurrent 4-image jobs.",
        lambda a: run(a.size, a.profile),
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
