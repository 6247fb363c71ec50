"""Where the bot's CPU goes during bench.ack's burst: cProfile of its event loop, per interaction.

Runs bench.ack's burst (same warm-up, same users, same spread) against the real bot, or the
bare one with ``--bare``, with cProfile switched on in the child over the measured part only
(bench/legs.py, between two SIGUSR2), then prints the top functions by cumulative and by own
time in microseconds per interaction, with calls per interaction, over every round pooled.

Times are the main thread's CPU time (not wall time: waiting in epoll or for the GIL is left
out). The profiler slows every Python call, so its figures are larger than bench.ack's: read
them for where the time goes, and judge a change with bench.ack. cProfile sees the main thread
only; the CPU of the other threads (aiosqlite's, the executors') is printed apart from /proc.

    python -m bench.profile_ack [--size small] [--rounds N] [--top N] [--bare] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import pstats
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.ack import SIZES, burst, thread_split
from bench.common import SIZES_CHOICES, machine

ROOT = str(Path(__file__).resolve().parent.parent) + "/"

Row = tuple[str, float, float, float]  # function, calls, own s, cumulative s (all rounds)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", choices=SIZES_CHOICES, default="full")
    parser.add_argument("--rounds", type=int, help="rounds to profile (default: the size's)")
    parser.add_argument("--top", type=int, default=30, help="functions to list per table")
    parser.add_argument("--bare", action="store_true", help="profile the bare discord.py bot")
    parser.add_argument("--keep", metavar="DIR", help="keep each round's .pstats file here")
    return parser.parse_args(argv)


def where(func: tuple[str, int, str]) -> str:
    """``package/file.py:line(name)``: site-packages, the standard library's directory and
    the project's root cut off (the standard library's modules show as ``stdlib/...``)."""
    filename, line, name = func
    if filename == "~":  # a C function
        return name
    if "site-packages/" in filename:
        filename = filename.split("site-packages/", 1)[1]
    elif filename.startswith(ROOT):
        filename = filename[len(ROOT) :]
    elif "/lib/python3" in filename:
        filename = "stdlib/" + filename.split("/lib/python3", 1)[1].split("/", 1)[1]
    return f"{filename}:{line}({name})"


def rows(stats: pstats.Stats) -> list[Row]:
    """Every profiled function, with primitive-call counts (recursion counted once)."""
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return [(where(func), float(cc), tt, ct) for func, (cc, _, tt, ct, _) in table.items()]


def render(title: str, ranked: Sequence[Row], interactions: int) -> list[str]:
    lines = [f"\n{title} (µs per interaction; calls per interaction)"]
    lines.append(f"{'cumulative':>11} {'own':>8} {'calls':>7}  function")
    for func, calls, own, cumulative in ranked:
        per = 1e6 / interactions
        lines.append(
            f"{cumulative * per:>11.1f} {own * per:>8.1f} {calls / interactions:>7.2f}  {func}"
        )
    return lines


async def profile(args: argparse.Namespace, out_dir: Path) -> list[str]:
    users, spread, default_rounds = SIZES[args.size]
    rounds = args.rounds or default_rounds
    kind = "bare" if args.bare else "bot"
    results: list[dict[str, Any]] = []
    files: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        for n in range(rounds):
            path = out_dir / f"{kind}{n}.pstats"
            results.append(await burst(kind, users, spread, Path(tmp) / f"{kind}{n}", path))
            files.append(path)
    interactions = sum(r["interactions"] for r in results)
    cpu = sum(r["cpu_seconds"] for r in results) / interactions
    stats = pstats.Stats(*(str(f) for f in files))
    every = rows(stats)
    info = machine()
    split = thread_split(results, interactions)
    lines = [
        f"== cProfile of {kind} during bench.ack's burst ==",
        *(f"{key:>11}: {value}" for key, value in info.items()),
        f"{users} /imagine in {spread:.1f} s, {rounds} round(s); {interactions} interactions",
        f"process CPU per interaction under the profiler (/proc): {cpu * 1e6:.0f} µs",
        "  by thread: " + ", ".join(f"{t} {s * 1e6:.0f} µs" for t, s in split.items()),
        f"profiled main thread, total own time per interaction: "
        f"{sum(r[2] for r in every) * 1e6 / interactions:.0f} µs",
    ]
    by_cumulative = sorted(every, key=lambda r: r[3], reverse=True)[: args.top]
    by_own = sorted(every, key=lambda r: r[2], reverse=True)[: args.top]
    lines += render("Top by cumulative time", by_cumulative, interactions)
    lines += render("Top by own time", by_own, interactions)
    lines += render_modules(every, interactions)
    return lines


def render_modules(every: Sequence[Row], interactions: int) -> list[str]:
    """Own time summed by top-level package: how much is ours, discord.py's, asyncio's..."""
    owners: dict[str, float] = collections.defaultdict(float)
    for func, _, own, _ in every:
        owners[func.split("/", 1)[0].split(":", 1)[0] if "/" in func else "(C functions)"] += own
    lines = ["\nOwn time by package (µs per interaction)"]
    ranked = sorted(owners.items(), key=lambda item: item[1], reverse=True)[:12]
    lines += [f"{own * 1e6 / interactions:>11.1f}  {name}" for name, own in ranked]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.keep:
        out = Path(args.keep)
        out.mkdir(parents=True, exist_ok=True)
        lines = asyncio.run(profile(args, out))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-pstats-") as kept:
            lines = asyncio.run(profile(args, Path(kept)))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
