"""bench.ledger's per-statement figure on PostgreSQL: the server's CPU time of one backend for
each kind of statement the ledger sends, steadier on a shared machine than a throughput run."""

from __future__ import annotations

from bench.ledger import pg_statement_cpu
from tests.postgres import requires_postgres

pytestmark = requires_postgres


async def test_the_server_cpu_of_each_ledger_statement_is_measured(pg_url: str) -> None:
    figures = await pg_statement_cpu(pg_url, 500)
    assert set(figures) == {"SELECT 1", "reservation", "settlement"}
    # A reservation and a settlement each write and commit: neither is free.
    assert figures["reservation"] > 0 and figures["settlement"] > 0
    assert all(us >= 0 for us in figures.values())
