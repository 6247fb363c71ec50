"""The operations surface: /healthz, /metrics, JSON logs and the documented backup one-liners.

Real pieces throughout: a real SQLite file, a real HTTP server on 127.0.0.1, real requests.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import re
import shutil
import sqlite3
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.health import DATABASE_DOWN, GATEWAY_DOWN, HealthServer
from bot.logs import log_context, setup_logging
from bot.metrics import Metrics
from bot.storage import Database
from bot.storage.sqlite import SQLiteDatabase

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


class Gateway:
    """Stands in for the bot's ``is_ready() and not is_closed()``."""

    def __init__(self) -> None:
        self.connected = False

    def __call__(self) -> bool:
        return self.connected


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await SQLiteDatabase.open(tmp_path / "imagen-bot.sqlite3")
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def server(db: Database) -> AsyncIterator[tuple[HealthServer, Gateway, Metrics]]:
    gateway = Gateway()
    metrics = Metrics()
    health = HealthServer(
        0, host="127.0.0.1", is_gateway_connected=gateway, db_ping=db.ping, metrics=metrics
    )
    await health.start()
    try:
        yield health, gateway, metrics
    finally:
        await health.stop()


async def get(port: int, path: str) -> tuple[int, str, bytes]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, response.headers.get("Content-Type", ""), await response.read()


# -- /healthz ---------------------------------------------------------------------------------


async def test_healthz_follows_gateway_and_database(
    server: tuple[HealthServer, Gateway, Metrics], db: Database
) -> None:
    health, gateway, _ = server
    assert health.port > 0

    status, ctype, body = await get(health.port, "/healthz")
    assert status == 503
    assert ctype.startswith("application/json")
    payload = json.loads(body)
    assert payload["status"] == "unavailable"
    assert payload["reason"] == GATEWAY_DOWN == "gateway not connected"

    gateway.connected = True
    status, _, body = await get(health.port, "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}

    await db.close()
    status, _, body = await get(health.port, "/healthz")
    assert status == 503
    assert json.loads(body)["reason"] == DATABASE_DOWN == "database not answering"

    gateway.connected = False
    status, _, body = await get(health.port, "/healthz")
    assert status == 503
    assert json.loads(body)["reasons"] == [GATEWAY_DOWN, DATABASE_DOWN]


async def test_healthz_survives_a_raising_or_hanging_check(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_gateway() -> bool:
        raise RuntimeError("boom")

    async def hanging_ping() -> bool:
        await asyncio.sleep(60)
        return True

    monkeypatch.setattr("bot.health.DB_PING_TIMEOUT_S", 0.2)
    async with HealthServer(
        0,
        host="127.0.0.1",
        is_gateway_connected=broken_gateway,
        db_ping=hanging_ping,
        metrics=Metrics(),
    ) as health:
        status, _, body = await get(health.port, "/healthz")
    assert status == 503
    assert json.loads(body)["reasons"] == [GATEWAY_DOWN, DATABASE_DOWN]


async def test_health_requests_are_not_logged_at_info(
    server: tuple[HealthServer, Gateway, Metrics], caplog: pytest.LogCaptureFixture
) -> None:
    health, gateway, _ = server
    gateway.connected = True
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert (await get(health.port, "/healthz"))[0] == 200
            assert (await get(health.port, "/metrics"))[0] == 200
    assert [r for r in caplog.records if r.name.startswith("aiohttp")] == []
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


async def test_port_before_start_and_double_start(db: Database) -> None:
    health = HealthServer(
        0, host="127.0.0.1", is_gateway_connected=lambda: True, db_ping=db.ping, metrics=Metrics()
    )
    with pytest.raises(RuntimeError):
        _ = health.port
    async with health:
        with pytest.raises(RuntimeError):
            await health.start()
    with pytest.raises(RuntimeError):
        _ = health.port
    await health.stop()  # stopping twice is harmless


# -- /metrics ---------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_endpoint_counts_generations(
    server: tuple[HealthServer, Gateway, Metrics],
) -> None:
    health, _, metrics = server
    status, ctype, body = await get(health.port, "/metrics")
    assert status == 200
    assert ctype.startswith("text/plain")
    before = samples(body.decode())
    model = ("model", "google/imagen-4.0-generate-001")
    key = ("imagen_generations_total", (model, ("outcome", "ok")))
    assert key not in before
    assert before[("imagen_queue_depth", ())] == 0

    metrics.observe_generation("google/imagen-4.0-generate-001", "ok", 6.5)
    metrics.observe_generation("google/imagen-4.0-generate-001", "ok", 8.0)
    metrics.observe_generation("google/imagen-4.0-generate-001", "failed")
    metrics.add_spend(credits=4, api_credits=168_000, usd=0.084)
    metrics.set_queue(depth=3, running=2)
    metrics.watch_gateway_latency(lambda: 0.042)

    status, _, body = await get(health.port, "/metrics")
    after = samples(body.decode())
    assert after[key] == 2
    assert after[("imagen_generations_total", (model, ("outcome", "failed")))] == 1
    latency = (model,)
    assert after[("imagen_generation_duration_seconds_count", latency)] == 2
    assert after[("imagen_generation_duration_seconds_sum", latency)] == pytest.approx(14.5)
    assert after[("imagen_generation_duration_seconds_bucket", (("le", "7.5"), *latency))] == 1
    assert after[("imagen_generation_duration_seconds_bucket", (("le", "120.0"), *latency))] == 2
    assert after[("imagen_credits_charged_total", ())] == 4
    assert after[("imagen_api_credits_total", ())] == 168_000
    assert after[("imagen_usd_spent_total", ())] == pytest.approx(0.084)
    assert after[("imagen_queue_depth", ())] == 3
    assert after[("imagen_jobs_running", ())] == 2
    assert after[("imagen_discord_gateway_latency_seconds", ())] == pytest.approx(0.042)


def test_metrics_registries_are_independent_and_callbacks_are_read_at_scrape() -> None:
    first, second = Metrics(), Metrics()  # no "Duplicated timeseries" from a shared registry
    first.observe_generation("m", "ok", 1.0)
    key = ("imagen_generations_total", (("model", "m"), ("outcome", "ok")))
    assert samples(first.render().decode())[key] == 1
    assert key not in samples(second.render().decode())

    depth = [5]
    first.watch_queue(lambda: depth[0], lambda: 1)
    assert samples(first.render().decode())[("imagen_queue_depth", ())] == 5
    depth[0] = 0
    assert samples(first.render().decode())[("imagen_queue_depth", ())] == 0

    gateway = ("imagen_discord_gateway_latency_seconds", ())
    assert math.isnan(samples(second.render().decode())[gateway])

    def broken() -> float:
        raise RuntimeError("not connected")

    second.watch_gateway_latency(broken)
    assert math.isnan(samples(second.render().decode())[gateway])


def test_add_spend_ignores_negative_amounts(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    metrics.add_spend(credits=-2, api_credits=10, usd=math.nan)
    found = samples(metrics.render().decode())
    assert found[("imagen_credits_charged_total", ())] == 0
    assert found[("imagen_api_credits_total", ())] == 10
    assert found[("imagen_usd_spent_total", ())] == 0
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


# -- JSON logs --------------------------------------------------------------------------------


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_json_logs_carry_ids_and_never_secrets() -> None:
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.secret-token-part-xyz"
    key = "aiml-key-0123456789abcdef"
    stream = io.StringIO()
    setup_logging(level="INFO", fmt="json", secrets=[token, key], stream=stream)
    log = logging.getLogger("bot.test_ops")

    with log_context(job_id=42, guild_id=111, user_id=222):
        log.info("calling the API with key %s", key)
        log.warning(f"token in the message itself: {token}")
        try:
            raise RuntimeError(f"upstream said: bad token {token} and key {key}")
        except RuntimeError:
            log.exception("job failed for key=%s", key)
        log.error("explicit exc_info", exc_info=ValueError(f"wrapped {key}"))
    log.info("outside any job, token %s", token)
    log.debug("debug is below the level %s", key)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 5
    records = [json.loads(line) for line in lines]
    for record in records[:4]:
        assert (record["job_id"], record["guild_id"], record["user_id"]) == (42, 111, 222)
        assert record["logger"] == "bot.test_ops"
    assert "job_id" not in records[4]
    assert "Traceback" in records[2]["exception"]
    assert "RuntimeError" in records[2]["exception"]
    assert "ValueError" in records[3]["exception"]
    assert records[0]["level"] == "INFO" and records[2]["level"] == "ERROR"
    output = stream.getvalue()
    assert token not in output
    assert key not in output
    assert "secret-token-part" not in output
    assert "********" in records[0]["message"]


# -- the backup one-liners in the README's operations section -------------------------------


def doc_snippet(marker: str) -> str:
    """The Python code of the documented ``python -c "..."`` command containing ``marker``."""
    text = README.read_text("utf-8")
    operations = text[text.index("## Operate it") :]
    operations = operations[: operations.index("\n## ", 1)]
    snippets: list[str] = re.findall(r'-c "([^"]+)"', operations)
    matching = [s for s in snippets if marker in s]
    assert len(matching) == 1, f"expected one documented python -c command with {marker!r}"
    return matching[0]


def read_meta(path: Path) -> dict[str, str]:
    """The meta table of a database file as it is on disk alone (no -wal read), {} if none."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    except sqlite3.OperationalError:  # no such table: the schema is still in the WAL file
        return {}
    finally:
        conn.close()


async def run_python(code: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_documented_backup_and_restore_work_on_a_live_wal_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    live_path = data / "imagen-bot.sqlite3"
    db = await SQLiteDatabase.open(live_path)
    writer: sqlite3.Connection | None = None
    try:
        version = await db.schema_version()
        assert version >= 1
        await db.set_meta("committed-in-wal", "yes")
        wal = live_path.with_name(live_path.name + "-wal")
        assert wal.stat().st_size > 0, "the committed row should still be in the WAL file"

        # Copying the main file alone (what a naive `cp` of just that file gets) misses it.
        naive = tmp_path / "naive.sqlite3"
        shutil.copyfile(live_path, naive)
        assert read_meta(naive).get("committed-in-wal") is None

        # A second writer in the middle of a transaction while the backup runs.
        writer = sqlite3.connect(live_path, isolation_level=None, timeout=10)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO meta (key, value) VALUES ('uncommitted', 'no')")

        backup_code = doc_snippet("/data/backup.sqlite3").replace("/data/", f"{data}/")
        rc, out = await run_python(backup_code)
        assert rc == 0, out
        assert "backup written" in out
        assert await db.ping()  # the bot's connection is undisturbed
        writer.execute("ROLLBACK")
    finally:
        if writer is not None:
            writer.close()
        await db.close()

    backup = data / "backup.sqlite3"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    rc, out = await run_python(doc_snippet("integrity_check"), str(backup))
    assert (rc, out.strip()) == (0, "ok")
    conn = sqlite3.connect(backup)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    finally:
        conn.close()
    rows = read_meta(backup)
    assert rows.get("committed-in-wal") == "yes"
    assert "uncommitted" not in rows

    # A typo in the path fails instead of backing up a fresh empty file.
    typo = doc_snippet("/data/backup.sqlite3").replace("/data/", f"{tmp_path}/nowhere/")
    rc, out = await run_python(typo)
    assert rc != 0
    assert not (tmp_path / "nowhere").exists()

    # Restore into a fresh volume, reading the backup the way the docs do (immutable=1).
    restore_dir = tmp_path / "restore"
    restore_dir.mkdir()
    shutil.copyfile(backup, restore_dir / "imagen-bot-2025-01-01.sqlite3")
    new_data = tmp_path / "new-data"
    new_data.mkdir()
    restore_code = (
        doc_snippet("print('restored')")
        .replace("/restore/", f"{restore_dir}/")
        .replace("/data/", f"{new_data}/")
    )
    rc, out = await run_python(restore_code)
    assert rc == 0, out
    assert "restored" in out
    restored = await SQLiteDatabase.open(new_data / "imagen-bot.sqlite3")
    async with restored:
        assert await restored.schema_version() == version
        assert await restored.get_meta("committed-in-wal") == "yes"
