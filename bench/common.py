"""What every benchmark shares: the machine report, the fakes with realistic images, the bot and a
bare discord.py bot as child processes, resident memory from /proc, and the result table.

Benchmarks measure the real bot against the project's fakes on 127.0.0.1 (tests/fakes) through
the end-to-end harness (tests/harness.py); they are not tests and assert nothing but sanity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import gc
import io
import json
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
from aiohttp import web
from PIL import Image, ImageChops

from bench.legs import LEGS_ENV, PROFILE_ENV
from tests.fakes.aimlapi import SIZES, FakeAimlApi
from tests.fakes.discord import FakeDiscord
from tests.harness import AIMLAPI_KEY, DISCORD_TOKEN, BotProcess, Stack, eventually

SIZES_CHOICES = ("small", "full")


# -- command line and report -------------------------------------------------------------------


def bench_main(
    module: str,
    description: str,
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, Result]],
    argv: Sequence[str] | None = None,
) -> int:
    """A benchmark's command line: parse the options, run it, print (and save) its report."""
    args = parse_args(description, argv)
    result = asyncio.run(run(args))
    result.command = command_line(module, args)
    report(result, args)
    return 0


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--size",
        choices=SIZES_CHOICES,
        default="full",
        help="full: the figures the issue asks for; small: a quick run (CI checks it runs)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="profile the bot during the measured part into this directory (bench.ack: cProfile "
        "stats per round, read them with bench.profile_ack; the others: py-spy stacks)",
    )
    return parser.parse_args(argv)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_gib() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def machine(moment: str = "end") -> dict[str, str]:
    """What the figures were measured on, and the load at this ``moment`` of the run."""
    return {
        "cpu": f"{_cpu_model()}, {os.cpu_count()} cores",
        "ram": f"{_ram_gib():.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "discord.py": discord.__version__,
        "aiohttp": aiohttp.__version__,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": f"1-min load average {os.getloadavg()[0]:.2f} at the {moment} of the run",
    }


@dataclass
class Result:
    """One benchmark's figures: rows of (what, value) and whether its targets were met."""

    name: str
    command: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    targets: list[tuple[str, bool]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def add(self, what: str, value: str) -> None:
        self.rows.append((what, value))

    def target(self, what: str, met: bool) -> None:
        self.targets.append((what, met))

    @property
    def met(self) -> bool:
        return all(ok for _, ok in self.targets)


def report(result: Result, args: argparse.Namespace) -> None:
    """Print the machine, the command, the figures and the targets; optionally write JSON."""
    info = machine()
    print(f"\n== {result.name} ==")
    print(f"command: {result.command}")
    for key, value in info.items():
        print(f"{key:>11}: {value}")
    width = max((len(w) for w, _ in result.rows), default=0)
    for what, value in result.rows:
        print(f"  {what:<{width}}  {value}")
    for what, ok in result.targets:
        print(f"  target {what}: {'PASS' if ok else 'FAIL'}")
    sys.stdout.flush()
    if args.json:
        payload = {
            "name": result.name,
            "command": result.command,
            "machine": info,
            "rows": result.rows,
            "targets": [{"target": w, "met": ok} for w, ok in result.targets],
            "raw": result.raw,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n")


def command_line(module: str, args: argparse.Namespace) -> str:
    size = " --size small" if args.size == "small" else ""
    return f"python -m {module}{size}"


# -- numbers -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the value below which ``pct`` % of the samples fall)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


# -- resident memory ---------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (and friends) of a process, in KiB, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key.startswith("Vm") or key.startswith("Rss"):
            parts = rest.split()
            if parts and parts[0].isdigit():
                out[key] = int(parts[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """User + system CPU time so far of a process's main thread (its event loop) and of its
    other threads together (aiosqlite's, the executors'), from /proc/<pid>/task/*/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {"event loop": 0.0, "other threads": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended since the listing
            fields = (task / "stat").read_text().rpartition(")")[2].split()
            which = "event loop" if task.name == str(pid) else "other threads"
            out[which] += (int(fields[11]) + int(fields[12])) / ticks
    return out


def reset_peak(pid: int) -> bool:
    """Reset a process's VmHWM to its current RSS (Linux: ``echo 5 > /proc/<pid>/clear_refs``)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Samples a process's VmRSS every ``interval`` seconds; ``peak`` is the highest seen."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, proc_status(self.pid).get("VmRSS", 0))
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# -- the fakes ---------------------------------------------------------------------------------


@functools.cache
def realistic_png(aspect_ratio: str, variant: int) -> bytes:
    """A PNG the size and weight of a real Imagen 4 one (~2 MB at 1408x768), not a flat colour.

    The fake's own PNGs are single-colour and compress to a few KB, which would make delivery
    look free; real photographs do not compress like that.
    """
    width, height = SIZES[aspect_ratio]
    side = max(width, height)
    base = Image.linear_gradient("L").resize((side, side))
    channels = []
    for i in range(3):
        gradient = base.rotate(90 * ((i + variant) % 4)).resize((width, height))
        noise = Image.effect_noise((width, height), 6)
        scaled = ImageChops.multiply(gradient, Image.new("L", (width, height), 200))
        channels.append(ImageChops.add(scaled, noise, scale=1.0, offset=-100))
    buf = io.BytesIO()
    Image.merge("RGB", channels).save(buf, "PNG", compress_level=6)
    return buf.getvalue()


class BenchAimlApi(FakeAimlApi):
    """The fake API with realistic image weights and the time each generation was answered."""

    variants = 4

    def __init__(self, key: str, **options: Any) -> None:
        super().__init__(key, **options)
        self.answered: list[float] = []
        """``time.perf_counter()`` as each successful generation answer leaves the handler."""

    def png(self, aspect_ratio: str = "1:1", colour_index: int = 0) -> bytes:
        return realistic_png(aspect_ratio, colour_index % self.variants)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        response = await super()._generate(request)
        if 200 <= response.status < 300:
            self.answered.append(time.perf_counter())
        return response


@contextlib.asynccontextmanager
async def bench_stack(
    tmp: Path, *, api_latency: float = 0.0, **discord_options: Any
) -> AsyncIterator[Stack]:
    """tests.harness.fake_stack with the benchmark's API fake (same keys, same URL handling)."""
    await asyncio.to_thread(tmp.mkdir, parents=True, exist_ok=True)
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with (
        FakeDiscord(token=DISCORD_TOKEN, **discord_options) as fake_discord,
        BenchAimlApi(AIMLAPI_KEY, latency=api_latency) as fake_api,
    ):
        try:
            yield Stack(fake_discord, fake_api, tmp)
        finally:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def bench_api(stack: Stack) -> BenchAimlApi:
    assert isinstance(stack.api, BenchAimlApi)
    return stack.api


# -- processes ---------------------------------------------------------------------------------

READY_LINES = {"bot": "connected as", "bare": "bare bot ready"}
GATEWAY_LINE = "has connected to Gateway"


class BenchBotProcess(BotProcess):
    """The real bot (``python -m bot run``) or the bare one (``python -m bench.bare_bot``:
    discord.py alone, same intents, /imagine only defers). With ``legs``, either is started
    through ``python -m bench.legs``, which times each interaction's way through the process
    and writes the times there (see bench/legs.py); with ``profile`` as well, that wrapper
    also runs cProfile between two SIGUSR2 and writes the stats there."""

    def __init__(
        self,
        stack: Stack,
        kind: str,
        legs: Path | None,
        profile: Path | None = None,
        **overrides: str,
    ) -> None:
        super().__init__(stack, **overrides)
        self.kind = kind
        self.legs = legs
        if legs is not None:
            self.env[LEGS_ENV] = str(legs)
        if profile is not None:
            assert legs is not None, "the profiler is installed by the legs wrapper"
            self.env[PROFILE_ENV] = str(profile)

    def command(self) -> list[str]:
        target = ["bench.bare_bot"] if self.kind == "bare" else ["bot", *self.args]
        probe = ["bench.legs"] if self.legs is not None else []
        return [sys.executable, "-m", *probe, *target]


@dataclass
class Started:
    """A child bot that is READY, with the times (perf_counter) it got there."""

    process: BotProcess
    kind: str
    launched: float
    gateway_at: float
    ready_at: float

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid


async def wait_log(process: BotProcess, needle: str, timeout: float, poll: float = 0.005) -> float:
    """Poll the child's log for ``needle``; the perf_counter when it was first seen."""
    deadline = time.perf_counter() + timeout
    while True:
        if needle in process.log():
            return time.perf_counter()
        if process.proc is not None and process.proc.poll() is not None:
            raise RuntimeError(f"{process.args} exited early:\n{process.log()[-3000:]}")
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no {needle!r} in the log within {timeout} s:\n{process.log()}")
        await asyncio.sleep(poll)


async def start_bot(
    stack: Stack,
    kind: str,
    *,
    timeout: float = 120.0,
    legs: Path | None = None,
    profile: Path | None = None,
    **overrides: str,
) -> Started:
    """Launch the real bot (``kind="bot"``) or the bare one (``"bare"``) and wait for on_ready."""
    process = BenchBotProcess(stack, kind, legs, profile, LOG_LEVEL="INFO", **overrides)
    launched = time.perf_counter()
    process.start()
    try:
        gateway_at = await wait_log(process, GATEWAY_LINE, timeout)
        ready_at = await wait_log(process, READY_LINES[kind], timeout)
    except BaseException:
        process.close()
        raise
    return Started(process, kind, launched, gateway_at, ready_at)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in this (the measuring) process for the block.

    The fakes run here and timestamp every request: a full collection of the objects they hold
    (seen at 111 ms during a 1-second burst) would be counted as the bot's latency. Collected
    before, so the block starts with no garbage; enabled again after.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextlib.asynccontextmanager
async def cprofiled(pid: int, path: Path | None, timeout: float = 30.0) -> AsyncIterator[None]:
    """cProfile a child started with ``profile=path`` (see BenchBotProcess) over the block; the
    stats are in ``path`` when it ends. Nothing without a path."""
    if path is None:
        yield
        return
    await asyncio.to_thread(path.unlink, missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGUSR2)
        await eventually(path.exists, timeout, f"the profile in {path}")


@contextlib.asynccontextmanager
async def profiled(pid: int, out_dir: str | None, name: str) -> AsyncIterator[None]:
    """py-spy the process ``pid`` for the duration of the block (if ``out_dir`` is given).

    py-spy is not a project dependency: ``pip install py-spy`` to use ``--profile``.
    """
    if out_dir is None:
        yield
        return
    import shutil
    import subprocess

    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = Path(out_dir) / f"{name}.txt"
    await asyncio.to_thread(out.parent.mkdir, parents=True, exist_ok=True)
    spy = await asyncio.create_subprocess_exec(
        *(
            exe,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "250",
            "--threads",
            "--format",
            "raw",
            "-o",
            str(out),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await asyncio.sleep(0.5)  # py-spy attaches
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        await asyncio.wait_for(spy.wait(), 30)
        print(f"profile of {name}: {out}")
