"""Scale: READY with thousands of guilds; resident memory and time to ready, bot vs bare discord.py.

The fake gateway announces N guilds in READY (unavailable) and then sends a GUILD_CREATE for each
(FakeDiscord(extra_guilds=N)). The real bot (``python -m bot``) and the bare bot
(bench/bare_bot.py, same intents: guilds only) run in turn as child processes; their memory is read
from /proc/<pid>/status one second after on_ready.

Times are from process launch and from the bot receiving READY to on_ready; both include the
``guild_ready_timeout`` (2 s) that discord.py waits after the last GUILD_CREATE.

The bot runs one full garbage collection at ready and then freezes what is alive
(bot/client.py ``freeze_heap``); the time it logs for that collection is the pause every later
full collection would cost without the freeze, and is reported here.

    python -m bench.scale [--size small]
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    Result,
    bench_main,
    bench_stack,
    mib,
    proc_status,
    start_bot,
)

SIZES = {"small": 100, "full": 2500}
RATIO_TARGET = 1.3
SETTLE_S = 1.0


async def boot(kind: str, guilds: int, tmp: Path) -> dict[str, Any]:
    async with bench_stack(tmp, extra_guilds=guilds) as stack:
        started = await start_bot(stack, kind)
        try:
            await asyncio.sleep(SETTLE_S)
            status = proc_status(started.pid)
            log = started.process.log()
        finally:
            started.process.close()
    ready_line = next(
        line for line in log.splitlines() if "ready" in line or "connected as" in line
    )
    # The bot times the full collection it runs before freezing what is alive at ready.
    collector = next((line for line in log.splitlines() if "collector:" in line), "")
    frozen = re.search(r"(\d+) objects alive at ready frozen .* took (\d+) ms", collector)
    return {
        "frozen_objects": int(frozen.group(1)) if frozen else None,
        "full_collection_ms": int(frozen.group(2)) if frozen else None,
        "rss_kib": status["VmRSS"],
        "hwm_kib": status["VmHWM"],
        "launch_to_ready_s": started.ready_at - started.launched,
        "gateway_to_ready_s": started.ready_at - started.gateway_at,
        "ready_line": ready_line.strip(),
    }


async def run(size: str) -> Result:
    guilds = SIZES[size]
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        bare = await boot("bare", guilds, Path(tmp) / "bare")
        real = await boot("bot", guilds, Path(tmp) / "bot")
    ratio = real["rss_kib"] / bare["rss_kib"]
    result = Result(f"Scale: READY with {guilds:,} guilds", "")
    for name, data in (("bare discord.py", bare), ("Imagen Bot", real)):
        result.add(
            f"{name}: RSS after ready (peak)", f"{mib(data['rss_kib'])} ({mib(data['hwm_kib'])})"
        )
        result.add(
            f"{name}: time to ready",
            f"{data['launch_to_ready_s']:.2f} s from launch, "
            f"{data['gateway_to_ready_s']:.2f} s from READY",
        )
    result.add("RSS ratio (bot / bare)", f"{ratio:.2f}x")
    frozen = real["frozen_objects"]
    result.add(
        "Imagen Bot: one full garbage collection at ready (then frozen)",
        "not in the log"
        if frozen is None
        else f"{real['full_collection_ms']} ms over {frozen:,} objects",
    )
    result.target(f"bot RSS <= {RATIO_TARGET}x bare", ratio <= RATIO_TARGET)
    result.raw = {"bare": bare, "bot": real, "ratio": ratio, "guilds": guilds}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(
        "bench.scale",
        "READY with many guilds: memory and time to ready.",
        lambda a: run(a.size),
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
