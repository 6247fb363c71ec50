"""Every benchmark in turn, then one Markdown table of the results (for the README).

python -m bench.run_all [--size small] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bench import ack, delivery, ledger, memory, scale, shards
from bench.common import SIZES_CHOICES, Result, command_line, machine, report

BENCHMARKS: tuple[tuple[str, Callable[[str], Coroutine[Any, Any, Result]]], ...] = (
    ("bench.ack", ack.run),
    ("bench.delivery", delivery.run),
    ("bench.ledger", ledger.run),
    ("bench.scale", scale.run),
    ("bench.shards", shards.run),
    ("bench.memory", memory.run),
)


def markdown(results: Sequence[Result], started: dict[str, str] | None = None) -> str:
    """The table, headed by the machine, when the run started and ended, and the load then."""
    info = machine()
    since = f"from {started['date']} ({started['load']}) to " if started else ""
    lines = [
        f"Measured on {info['cpu']}, {info['ram']} RAM, {info['os']}; Python {info['python']}, "
        f"discord.py {info['discord.py']}, aiohttp {info['aiohttp']}; {since}{info['date']} "
        f"({info['load']}).",
        "",
        "| benchmark | command | figures | target | met |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        figures = "<br>".join(f"{w}: {v}" for w, v in r.rows)
        for i, (target, ok) in enumerate(r.targets):
            first = i == 0
            lines.append(
                f"| {r.name if first else ''} | {'`' + r.command + '`' if first else ''} "
                f"| {figures if first else ''} | {target} | {'PASS' if ok else '**FAIL**'} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every benchmark.")
    parser.add_argument("--size", choices=SIZES_CHOICES, default="full")
    parser.add_argument("--markdown", metavar="PATH", help="write the results table here")
    args = parser.parse_args(argv)
    results: list[Result] = []
    started = machine("start")
    for module, run in BENCHMARKS:
        result = asyncio.run(run(args.size))
        result.command = command_line(module, args)
        report(result, argparse.Namespace(json=None))
        results.append(result)
    table = markdown(results, started)
    print("\n" + table)
    if args.markdown:
        Path(args.markdown).write_text(table)
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
