"""Storage faults: the SQLite file on a read-only or full disk, and writes failing mid-run.

Start-up problems give a clear one-line error naming DATABASE_PATH and a non-zero exit, no
traceback. At run time a job is refused before anything is reserved, and a charge never exists
without its job row: the counters live in the same statements as the rows (triggers).

Read-only and full disks are real filesystems where this runs as root and ``mount`` works (a
read-only tmpfs, and a tmpfs of a few KiB); elsewhere the read-only case uses a directory without
write permission and the full-disk start-up case is skipped. At run time the full database is
SQLite's own limit (``PRAGMA max_page_count``: "database or disk is full") and the failing writes
are ``PRAGMA query_only`` ("attempt to write a readonly database"), both on the live connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.client import ImagenBot
from bot.storage.sqlite import SQLiteDatabase
from tests.fakes.discord import FakeInteraction
from tests.harness import BotProcess, Stack, eventually, running_bot
from tests.reliability.conftest import BOT_ENV, FAST_RETRIES
from tests.reliability.support import (
    SecretScan,
    assert_user_text,
    budget,
    count,
    final_message,
    jobs,
    settled_job,
)
from tests.storage_sql import sqlite_of

pytestmark = pytest.mark.reliability


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[None]:
    """A tmpfs mounted at ``path`` (root only); skips the test where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def read_only_dir(path: Path) -> Iterator[None]:
    """A folder nobody may write to: a read-only tmpfs as root, else a mode-0500 directory."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        with tmpfs(path, "ro,size=64k"):
            yield
    else:
        path.chmod(0o500)
        try:
            yield
        finally:
            path.chmod(0o700)


async def run_cli(stack: Stack, db_path: Path, *args: str) -> tuple[int, str]:
    proc = BotProcess(stack, *args, DATABASE_PATH=str(db_path))
    try:
        proc.start()
        code = await proc.wait(30)
    finally:
        proc.close()
    return code, proc.log()


def assert_clear_start_up_error(code: int, output: str, what: str) -> None:
    assert code != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if "DATABASE_PATH" in line]
    assert len(lines) == 1, output
    assert what in lines[0], lines[0]
    scan = SecretScan()
    scan.add("start-up output", output)
    scan.assert_clean()


@pytest.mark.parametrize("command", [("check", "--offline"), ("run",)], ids=["check", "run"])
@pytest.mark.ci_required
async def test_database_in_a_read_only_folder_is_a_clear_start_up_error(
    stack: Stack, tmp_path: Path, command: tuple[str, ...]
) -> None:
    folder = tmp_path / "ro"
    with read_only_dir(folder):
        code, output = await run_cli(stack, folder / "bot.sqlite3", *command)
    assert_clear_start_up_error(code, output, str(folder / "bot.sqlite3"))
    count("storage faults tried")


@pytest.mark.parametrize("command", [("check", "--offline"), ("run",)], ids=["check", "run"])
@pytest.mark.ci_required
async def test_existing_database_on_a_read_only_disk_is_a_clear_start_up_error(
    stack: Stack, tmp_path: Path, command: tuple[str, ...]
) -> None:
    folder = tmp_path / "disk"
    with tmpfs(folder, "size=4m"):
        db = await SQLiteDatabase.open(folder / "bot.sqlite3")
        await db.close()
        remount = ["mount", "-o", "remount,ro", str(folder)]
        await asyncio.to_thread(subprocess.run, remount, check=True)
        code, output = await run_cli(stack, folder / "bot.sqlite3", *command)
    assert_clear_start_up_error(code, output, str(folder / "bot.sqlite3"))
    count("storage faults tried")


@pytest.mark.parametrize("command", [("check", "--offline"), ("run",)], ids=["check", "run"])
@pytest.mark.ci_required
async def test_full_disk_at_start_up_is_a_clear_start_up_error(
    stack: Stack, tmp_path: Path, command: tuple[str, ...]
) -> None:
    folder = tmp_path / "full"
    with tmpfs(folder, "size=8k"):
        code, output = await run_cli(stack, folder / "bot.sqlite3", *command)
    assert_clear_start_up_error(code, output, "")
    count("storage faults tried")


async def test_the_database_is_created_owner_only(stack: Stack, bot: ImagenBot) -> None:
    it = await stack.discord.slash("imagine", {"prompt": "a file only I can read"})
    await final_message(it)
    assert stack.db_path.exists()
    for path in stack.db_path.parent.iterdir():
        if path.name.startswith(stack.db_path.name):
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == 0o600, f"{path.name} is {mode:o}"
    count("storage faults tried")


async def on_every_connection(bot: ImagenBot, pragma: str) -> None:
    """A per-connection fault on the bot's one connection (bot/storage/sqlite/)."""
    # To the statement's end: a pragma's unread result row would keep a snapshot open.
    await sqlite_of(bot.db).conn.raw.execute_fetchall(pragma)


async def cap_database(bot: ImagenBot) -> None:
    """Cap the file at its current size and fill the free pages: SQLITE_FULL for anything that
    needs a new page (a job row with a long prompt does)."""
    rows = list(await sqlite_of(bot.db).conn.raw.execute_fetchall("PRAGMA page_count"))
    await on_every_connection(bot, f"PRAGMA max_page_count = {int(rows[0][0])}")
    for n in range(100_000):
        try:
            await bot.db.set_meta(f"filler-{n}", "x" * 500)
        except Exception as exc:
            assert "full" in str(exc), exc
            return
    raise AssertionError("the database never filled up")


async def refused_for_a_full_disk(stack: Stack, bot: ImagenBot, options: dict[str, str]) -> None:
    it = await stack.discord.slash("imagine", options)
    response = await it.wait_response()
    assert response.type == 4 and response.data["flags"] & 64
    assert_user_text(response.data["content"])
    assert "not charged" in response.data["content"]
    assert stack.api.requests == []
    assert await jobs(bot) == []
    assert await budget(bot) == (0, 0)


LONG = {"prompt": "a very long prompt " * 200, "model": "google/imagen4/preview"}


async def test_a_full_database_refuses_the_job_and_charges_nothing(
    stack: Stack, bot: ImagenBot
) -> None:
    await cap_database(bot)
    await refused_for_a_full_disk(stack, bot, LONG)
    await on_every_connection(bot, "PRAGMA max_page_count = 1073741823")
    message = await final_message(await stack.discord.slash("imagine", LONG))
    assert len(message["attachments"]) == 1
    count("storage faults tried")


@pytest.mark.ci_required
async def test_a_full_disk_refuses_the_job_and_charges_nothing(stack: Stack) -> None:
    """The real thing: the database on a small tmpfs, the rest of it filled with a file."""
    with tmpfs(stack.db_path.parent, "size=1m"):
        async with running_bot(stack, pacing=FAST_RETRIES, **BOT_ENV) as bot:
            junk = stack.db_path.parent / "junk"
            with contextlib.suppress(OSError), junk.open("wb", buffering=0) as f:
                while True:
                    f.write(b"\0" * 4096)
            await refused_for_a_full_disk(stack, bot, {"prompt": "no room on the disk"})
            junk.unlink()
            message = await final_message(await stack.discord.slash("imagine", {"prompt": "ok"}))
            assert len(message["attachments"]) == 1
            row = await settled_job(bot, 1)
            assert (row["state"], row["credits_charged"]) == ("done", 1)
    count("storage faults tried")


async def test_writes_failing_mid_job_never_leave_a_charge_without_its_job(stack: Stack) -> None:
    """The database turns read-only while a job runs: the user is told, nothing is charged, and
    the reservation (held by the job row, still open) is refunded when the bot starts again."""
    stack.api.latency = 0.5
    async with running_bot(stack, pacing=FAST_RETRIES, **BOT_ENV) as bot:
        it = await stack.discord.slash("imagine", {"prompt": "the disk fails"})
        await it.wait_response()
        await eventually(lambda: stack.api.in_flight == 1, 30, "the API call")
        await on_every_connection(bot, "PRAGMA query_only = ON")
        # The user hears about it (the apology, whichever way it reaches them).
        await eventually(lambda: told(stack, it), 30, "the user to be told")
        rows = await jobs(bot)
        assert len(rows) == 1
        assert rows[0]["credits_charged"] == 0
        await on_every_connection(bot, "PRAGMA query_only = OFF")
    stack.api.latency = 0.0
    async with running_bot(stack, pacing=FAST_RETRIES, **BOT_ENV) as bot:
        row = await settled_job(bot, 1)
        assert (row["state"], row["credits_charged"]) == ("interrupted", 0)
        assert await budget(bot) == (0, 0)
        message = await final_message(await stack.discord.slash("imagine", {"prompt": "ok"}))
        assert len(message["attachments"]) == 1
    count("storage faults tried")


def told(stack: Stack, it: FakeInteraction) -> bool:
    """A short message to the user after the deferral: an edit or a followup with text."""
    for call in stack.discord.calls:
        if it.token in call.path and call.method in ("PATCH", "POST"):
            content = call.json.get("content") if isinstance(call.json, dict) else None
            if content:
                assert_user_text(content)
                return True
    return False
