"""bench.run_all's table says when the run started and ended, and the load at both moments."""

from __future__ import annotations

from bench.common import Result, machine
from bench.run_all import markdown


def test_the_table_is_headed_by_the_load_at_the_start_and_at_the_end() -> None:
    result = Result("Example", "python -m bench.example")
    result.add("figure", "1 ms")
    result.target("figure < 2 ms", True)
    head = markdown([result], machine("start")).splitlines()[0]
    assert "at the start of the run" in head and "at the end of the run" in head
    assert "| Example | `python -m bench.example` | figure: 1 ms | figure < 2 ms | PASS |" in (
        markdown([result])
    )
