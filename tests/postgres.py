"""A throwaway PostgreSQL server for the tests, and the two backends behind one fixture.

The server is started once per test session from PostgreSQL's own binaries (``pg_config
--bindir``, else Debian's ``/usr/lib/postgresql/*/bin``): ``initdb`` into a temporary folder,
``postgres`` on a unix socket there and on a free 127.0.0.1 port, as an unprivileged user when
the tests run as root. Each test gets a fresh database, copied from a migrated template.
Without the binaries the PostgreSQL tests are skipped with one line saying how to get them
(under CI, tests/conftest.py turns that skip into a failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import ipaddress
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from bot.storage import Database
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite import SQLiteDatabase

T = TypeVar("T")

HOW_TO_GET = (
    "PostgreSQL's server binaries not found (initdb, postgres): install Debian's `postgresql` "
    "package (apt-get install postgresql) or put its pg_config on PATH"
)
TEMPLATE = "imagen_template"
STARTUP_TIMEOUT_S = 60.0

# Marks a test that needs the server: CI may not skip it.
requires_postgres = pytest.mark.ci_required


def find_bindir() -> Path | None:
    """Where initdb and postgres are, or None."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2] or 0)
    )
    candidates.extend(Path(p) for p in reversed(versions))
    for path in candidates:
        if (path / "initdb").is_file() and (path / "postgres").is_file():
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to its end on a loop of its own (safe from sync code in any context)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result(timeout=120)  # type: ignore[arg-type]


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int = field(default_factory=lambda: _free_port())
    durable: bool = False  # fsync and synchronous commits, as a real server (benchmarks)
    # Also listen on this address, trusting its network's clients (a test's own network).
    also_on: ipaddress.IPv4Interface | None = None
    proc: subprocess.Popen[bytes] | None = None
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def _as_owner(self) -> dict[str, Any]:
        """Run PostgreSQL as an unprivileged user when we are root (it refuses to run as root)."""
        if os.geteuid() != 0:
            return {}
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                return {"user": entry.pw_uid, "group": entry.pw_gid}
        raise RuntimeError("running as root and no unprivileged user to run PostgreSQL as")

    def start(self) -> None:
        owner = self._as_owner()
        self.socket_dir.mkdir()
        if owner:
            for path in (self.root, self.socket_dir):
                os.chown(path, owner["user"], owner["group"])
        log = (self.root / "server.log").open("ab")
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "--pgdata", str(self.root / "data"),
                "--username", "postgres",
                "--auth", "trust",
                "--encoding", "UTF8",
                "--no-sync",
            ],
            stdout=log, stderr=subprocess.STDOUT, check=True, timeout=180, **owner,
        )  # fmt: skip
        hosts = ["127.0.0.1"]
        if self.also_on is not None:
            hosts.append(str(self.also_on.ip))
            with (self.root / "data" / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.also_on.network} trust\n")
        self.proc = subprocess.Popen(
            [
                str(self.bindir / "postgres"),
                "-D", str(self.root / "data"),
                "-k", str(self.socket_dir),
                "-h", ",".join(hosts),
                "-p", str(self.port),
                "-c", "max_connections=300",
                # A throwaway server: durability buys the tests nothing.
                *([] if self.durable else [
                    "-c", "fsync=off",
                    "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off",
                ]),
            ],
            stdout=log, stderr=subprocess.STDOUT, **owner,
        )  # fmt: skip
        _run_in_thread(self._wait_ready)
        _run_in_thread(self._make_template)

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{self.log()}")
            try:
                conn = await asyncpg.connect(self.url())
            except (OSError, asyncpg.PostgresError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
                continue
            await conn.close()
            return

    async def _make_template(self) -> None:
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f"CREATE DATABASE {TEMPLATE}")
        finally:
            await conn.close()
        async with await PostgresDatabase.open(self.url(TEMPLATE)):
            pass

    async def create_database(self, *, migrated: bool = True) -> str:
        """A new database (migrated, from the template, or empty); returns its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        conn = await asyncpg.connect(self.url())
        try:
            template = TEMPLATE if migrated else "template0"
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        finally:
            await conn.close()
        return self.url(name)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@contextlib.contextmanager
def postgres_server(
    bindir: Path, *, durable: bool = False, also_on: ipaddress.IPv4Interface | None = None
) -> Iterator[PostgresServer]:
    """A started server in a folder of its own, stopped and removed at the end."""
    # Not under pytest's tmp folders: those are private to root, and the server runs as another
    # user when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="imagen-pg-"))
    server = PostgresServer(bindir, root, durable=durable, also_on=also_on)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (skipped, with how to get it, without the binaries)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(HOW_TO_GET)
    with postgres_server(bindir) as server:
        yield server


@pytest.fixture
async def pg_url(pg_server: PostgresServer) -> str:
    """A fresh, migrated database of its own for one test."""
    return await pg_server.create_database()


# -- one fixture, both backends ------------------------------------------------------------------

BACKENDS = ["sqlite", pytest.param("postgres", marks=requires_postgres)]


@dataclass
class Backend:
    """Where one test's database is: more handles on the same database open with ``open()``
    (another connection to the file, or another pool on the server)."""

    name: str
    tmp_path: Path
    url: str | None = None

    async def open(self) -> Database:
        if self.url is not None:
            return await PostgresDatabase.open(self.url)
        return await SQLiteDatabase.open(self.tmp_path / "bot.sqlite3")

    def env(self) -> dict[str, str]:
        """The settings a bot process needs to use this database."""
        if self.url is not None:
            return {"DATABASE_URL": self.url}
        return {"DATABASE_PATH": str(self.tmp_path / "bot.sqlite3")}


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each test that takes it runs once on SQLite and once on PostgreSQL."""
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("pg_server")
        return Backend("postgres", tmp_path, await server.create_database())
    return Backend("sqlite", tmp_path)


@pytest.fixture
async def any_db(backend: Backend) -> AsyncIterator[Database]:
    """An open database on each backend in turn."""
    async with await backend.open() as database:
        yield database
