"""Entry point: ``python -m bot [run|check [--offline]|invite|sync|migrate-to-postgres]``
(also ``imagen-bot``).

Resources are opened here with ``async with`` and handed to the bot, so their lifetime is the
process's and they close in the right order whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import logging
import signal
import sys
from collections.abc import Sequence

import aiohttp
import discord

from bot.client import ImagenBot, ShardedImagenBot, apply_discord_urls
from bot.config import ConfigError, Settings, load_settings
from bot.errors import ImagenError
from bot.logs import setup_logging
from bot.services import build_services
from bot.storage import Database, StorageError
from bot.storage.sqlite import SQLiteDatabase

log = logging.getLogger("bot")

INVITE_SCOPES = ("bot", "applications.commands")


def invite_permissions() -> discord.Permissions:
    """What the bot needs in a channel: see it, post, embed, attach, and read its own replies."""
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        embed_links=True,
        attach_files=True,
        read_message_history=True,
    )


async def open_database(settings: Settings) -> Database:
    """PostgreSQL when ``DATABASE_URL`` is set, else the SQLite file at ``DATABASE_PATH``."""
    if settings.database_url is None:
        return await SQLiteDatabase.open(settings.database_path)
    # Imported here: a bot on SQLite never loads the PostgreSQL driver.
    from bot.storage.postgres import PostgresDatabase

    return await PostgresDatabase.open(
        settings.database_url.reveal(), pool_size=settings.database_pool_size
    )


def database_name(settings: Settings) -> str:
    """The database as an operator may see it: the URL without its password, or the path."""
    if settings.database_url is None:
        return str(settings.database_path)
    from bot.storage.postgres import masked_url

    return masked_url(settings.database_url.reveal())


def http_session(settings: Settings) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=None, connect=15, sock_read=settings.generation_timeout_s)
    return aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "imagen-bot/0.1"})


async def run_bot(settings: Settings, *, force_sync: bool = False, sync_only: bool = False) -> int:
    apply_discord_urls(settings)
    async with http_session(settings) as session:
        db = await open_database(settings)
        async with db:
            services = build_services(settings, db, session)
            bot_class = ShardedImagenBot if settings.sharded else ImagenBot
            bot = bot_class(settings=settings, services=services, force_sync=force_sync)
            async with bot:
                if sync_only:
                    await bot.login(settings.discord_token.reveal())
                    print(f"synced: {', '.join(bot.synced) or 'nothing'}")
                    return 0
                _install_signal_handlers(bot)
                await bot.start(settings.discord_token.reveal())
    return 0


def _install_signal_handlers(bot: ImagenBot) -> None:
    """SIGTERM (docker stop) and SIGINT (Ctrl-C) start a graceful shutdown, once."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def on_signal(name: str) -> None:
        log.info("received %s", name)
        task = loop.create_task(bot.shutdown())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)


async def run_check(settings: Settings, *, offline: bool) -> int:
    failures = 0
    print("ok    configuration")
    if settings.bot_daily_usd_cap is None:
        # Anyone can add /imagine to their own account and use it wherever they are: the
        # bot-wide cap is the one limit on the whole bill.
        print(
            "warn  BOT_DAILY_USD_CAP is not set: nothing caps what the bot spends in a day. "
            "Set it in .env (see .env.example)"
        )
    try:
        db = await open_database(settings)
    except StorageError as exc:
        print(f"FAIL  database: {exc}")
        return 1
    async with db:
        version = await db.schema_version()
        print(f"ok    database {database_name(settings)} (schema version {version})")
    if offline:
        return 0
    apply_discord_urls(settings)
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(settings.discord_token.reveal())
        print(
            f"ok    Discord token (logged in as {client.user}, application {client.application_id})"
        )
    except discord.LoginFailure:
        print("FAIL  Discord token: rejected by Discord; check DISCORD_TOKEN")
        failures += 1
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        print(f"FAIL  Discord: cannot reach {settings.discord_api_base_url} ({type(exc).__name__})")
        failures += 1
    finally:
        await client.close()
    async with http_session(settings) as session:
        api = build_services(settings, db, session).api
        try:
            await api.verify_key()
            print(f"ok    AI/ML API key accepted by {settings.aimlapi_base_url}")
        except ImagenError as exc:
            print(f"FAIL  AI/ML API key: {exc.user_message}")
            failures += 1
    return 1 if failures else 0


async def run_migrate_to_postgres(settings: Settings) -> int:
    """Copy the SQLite file at DATABASE_PATH into the empty PostgreSQL database at
    DATABASE_URL, then say what was copied."""
    if settings.database_url is None:
        print(
            "imagen-bot: set DATABASE_URL to the new, empty PostgreSQL database to copy "
            f"{settings.database_path} into",
            file=sys.stderr,
        )
        return 2
    from bot.storage.postgres import PostgresDatabase
    from bot.storage.postgres.copy import copy_sqlite_to_postgres

    async with await PostgresDatabase.open(settings.database_url.reveal(), pool_size=1) as target:
        counts = await copy_sqlite_to_postgres(settings.database_path, target)
    for table, count in counts.items():
        print(f"ok    {table}: {count} rows")
    print(
        f"copied {settings.database_path} into {database_name(settings)}; keep DATABASE_URL "
        "set and start the bot"
    )
    return 0


def application_id_from_token(token: str) -> int | None:
    """A bot token's first part is its user id in base64; for bots it equals the application id."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(decoded) if decoded.isdigit() else None


def run_invite(settings: Settings) -> int:
    app_id = application_id_from_token(settings.discord_token.reveal())
    if app_id is None:
        print(
            "DISCORD_TOKEN does not look like a bot token; copy it again from the Developer Portal"
        )
        return 1
    print(discord.utils.oauth_url(app_id, permissions=invite_permissions(), scopes=INVITE_SCOPES))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="imagen-bot", description="Imagen Bot for Discord")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    check = sub.add_parser("check", help="validate configuration, database, token and API key")
    check.add_argument("--offline", action="store_true", help="skip the network checks")
    sub.add_parser("invite", help="print the invite URL")
    sub.add_parser("sync", help="force a slash-command sync and exit")
    sub.add_parser(
        "migrate-to-postgres",
        help="copy the SQLite database (DATABASE_PATH) into an empty PostgreSQL (DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    args.command = args.command or "run"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"imagen-bot: {exc}", file=sys.stderr)
        return 2
    setup_logging(level=settings.log_level, fmt=settings.log_format, secrets=settings.secrets())
    try:
        if args.command == "invite":
            return run_invite(settings)
        if args.command == "check":
            return asyncio.run(run_check(settings, offline=args.offline))
        if args.command == "migrate-to-postgres":
            return asyncio.run(run_migrate_to_postgres(settings))
        return asyncio.run(
            run_bot(settings, force_sync=args.command == "sync", sync_only=args.command == "sync")
        )
    except StorageError as exc:
        print(f"imagen-bot: {exc}", file=sys.stderr)
        return 3
    except ConfigError as exc:  # SHARD_IDS checked against Discord's count (SHARD_COUNT=auto)
        print(f"imagen-bot: {exc}", file=sys.stderr)
        return 2
    except discord.LoginFailure:
        print("imagen-bot: Discord rejected DISCORD_TOKEN; check it in .env", file=sys.stderr)
        return 4
    except aiohttp.ClientConnectionError as exc:
        # Only logging in can get here: once connected, discord.py reconnects by itself.
        print(
            f"imagen-bot: cannot reach Discord at {settings.discord_api_base_url} "
            f"({type(exc).__name__}); check the network and DISCORD_API_BASE_URL",
            file=sys.stderr,
        )
        return 5
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
