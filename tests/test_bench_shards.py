"""bench.shards runs at its small size: two bare sharded processes and two bots, each running two
of four shards, report finite positive figures, and between them see every guild once (the
fake spreads its generated guilds over the shards as Discord does). The memory target is only
reported: it depends on the machine (figures in docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_bench_smoke import ROOT, measured


def test_shards_benchmark_runs_at_small_size(tmp_path: Path) -> None:
    out = tmp_path / "shards.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.shards", "--size", "small", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["command"] == "python -m bench.shards --size small"
    raw = result["raw"]
    guilds = raw["guilds"]
    assert guilds == 400
    for kind in ("bare", "bot"):
        processes = raw[kind]
        assert [p["shards"] for p in processes] == ["0-1", "2-3"]
        # Half of the shards each: half of the guilds each, none seen twice or missed.
        assert [p["guilds"] for p in processes] == [guilds // 2, guilds // 2], processes
        for p in processes:
            keys = ("rss_kib", "hwm_kib", "launch_to_ready_s", "gateway_to_ready_s")
            assert all(measured(p[k]) for k in keys), p
    assert len(raw["ratios"]) == 2 and all(measured(r) for r in raw["ratios"])
    seen = [t for t in result["targets"] if "every guild seen" in t["target"]]
    assert seen and all(t["met"] for t in seen), result["targets"]
