"""bench.profile_ack profiles the bot over bench.ack's burst and names the command's own code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_bench_smoke import ROOT


def test_the_profile_of_a_burst_shows_the_command_per_interaction(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.profile_ack",
            "--size",
            "small",
            "--top",
            "400",
            "--keep",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Top by cumulative time" in out and "Top by own time" in out
    # The slash command's own code was running while the profiler was on, and is named.
    assert "cogs/imagine.py" in out and "bot/generation.py" in out and "(prepare)" in out
    assert "event loop" in out
    assert list(tmp_path.glob("bot0.pstats"))
