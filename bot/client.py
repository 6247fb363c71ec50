"""The Discord side of the bot: the ``commands.Bot`` subclass and its command tree.

Everything the bot needs (settings, database, HTTP session, core services) is made by the entry
point and passed in; nothing here opens a resource of its own.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import math
import time
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.config import Settings, check_shard_ids
from bot.generation import LeftOpen
from bot.health import HealthServer
from bot.jobs import BUTTONS, JobRunner
from bot.jobs.recovery import settle_maybe_posted, sweep_tokens, tell_interrupted
from bot.replies import report_error
from bot.services import Services
from bot.translator import CatalogueTranslator

log = logging.getLogger(__name__)

# Loaded in this order by setup_hook; a failure stops start-up.
EXTENSIONS: tuple[str, ...] = (
    "cogs.help",
    "cogs.imagine",
    "cogs.quota",
    "cogs.admin",
    "cogs.history",
    "cogs.settings",
)

SYNC_HASH_KEY = "command_sync_hash"


def apply_discord_urls(settings: Settings) -> None:
    """Point discord.py's REST and gateway at the configured URLs (the one place this is done)."""
    discord.http.Route.BASE = settings.discord_api_base_url
    if settings.discord_gateway_url is not None:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def bot_intents() -> discord.Intents:
    """Only the guilds intent: slash commands arrive as interactions and need no message content
    or member list, so the bot asks for no privileged intent."""
    return discord.Intents(guilds=True)


def freeze_heap() -> None:
    """Collect once at READY and freeze what is alive (modules, the guild and channel cache):
    it lives as long as the process, and later full collections then do not walk it. A
    reconnect rebuilds the cache, so this runs on every READY."""
    started = time.perf_counter()
    gc.collect()
    pause = time.perf_counter() - started
    gc.freeze()
    log.info(
        "collector: %d objects alive at ready frozen (a full collection over them took %.0f ms)",
        gc.get_freeze_count(),
        pause * 1000,
    )


class ImagenTree(app_commands.CommandTree["ImagenBot"]):
    """The one place slash-command errors become user messages."""

    async def on_error(
        self, interaction: discord.Interaction[ImagenBot], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)

    async def interaction_check(self, interaction: discord.Interaction[ImagenBot], /) -> bool:
        """Where a command enters the bot: everything said from here on is in its reader's
        language."""
        await interaction.client.enter(interaction)
        return True


class ImagenBot(commands.Bot):
    def __init__(
        self,
        *,
        settings: Settings,
        services: Services,
        extensions: tuple[str, ...] = EXTENSIONS,
        force_sync: bool = False,
        **options: Any,
    ) -> None:
        options.setdefault("guild_ready_timeout", 2.0)
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=bot_intents(),
            tree_cls=ImagenTree,
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            max_messages=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.services = services
        self.db = services.db
        self._extensions = extensions
        self.force_sync = force_sync
        self.synced: list[str] = []
        self.runner = JobRunner(
            services.generation,
            services.metrics,
            retry_delays=services.pacing.discord_retry_delays_s,
            dispatch=self.dispatch,
        )
        self.health: HealthServer | None = None
        self._interrupted: list[LeftOpen] = []
        self._token_sweeper: asyncio.Task[None] | None = None
        self._closing = False

    async def setup_hook(self) -> None:
        cluster = self.services.cluster
        if cluster is not None:
            await cluster.register()
        # Jobs a previous process left open are settled before anything new can start: refunded,
        # or charged if it had posted their result (REST works here; the gateway is not up).
        # In a cluster, only those no live process answers for.
        self._interrupted = await self.settle_left_open()
        self._token_sweeper = asyncio.create_task(sweep_tokens(self.services.generation))
        self.add_dynamic_items(*BUTTONS)
        await self.tree.set_translator(CatalogueTranslator())
        for name in self._extensions:
            # No try/except: a command that silently disappears is worse than a failed start.
            await self.load_extension(name)
        if self.syncs_commands:
            self.synced = await self.sync_commands(force=self.force_sync)
        else:
            log.info("commands are synced by the process that runs shard 0")
        self.services.metrics.watch_gateway_latency(lambda: self.latency)
        if cluster is not None:
            cluster.start(self.refund_orphans)
        if self.settings.health_port is not None:
            self.health = HealthServer(
                self.settings.health_port,
                host=self.settings.health_host,
                is_gateway_connected=self.gateway_connected,
                db_ping=self.db.ping,
                metrics=self.services.metrics,
                shards=self.shard_health if cluster is not None else None,
                is_cluster_connected=(lambda: cluster.connected) if cluster is not None else None,
            )
            await self.health.start()

    async def forced_language(self, guild_id: int | None) -> str | None:
        """The language an admin set for the whole server, if any."""
        if guild_id is None:
            return None
        return (await self.db.guilds.guild_settings(guild_id)).language

    async def enter(self, interaction: discord.Interaction[Any]) -> None:
        """Set the reader's language for this interaction (and the tasks it starts); without
        the database, the reader's own, so the command can still say what went wrong. Cut off
        from a cluster's database, a read may hang until it times out: none is tried."""
        cluster = self.services.cluster
        forced = None
        try:
            if cluster is None or cluster.connected:
                forced = await self.forced_language(interaction.guild_id)
        except Exception as exc:
            log.warning("cannot read the server's language (%s); using the reader's", exc)
        i18n.use(i18n.reader_language(interaction.locale, forced))

    async def server_language(self, guild_id: int | None) -> str:
        """What the log channel and public posts are in: forced, else the server's locale."""
        guild = self.get_guild(guild_id) if guild_id is not None else None
        locale = guild.preferred_locale if guild is not None else None
        return i18n.reader_language(locale, await self.forced_language(guild_id))

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        self.services.metrics.count_interaction(self.shard_of(interaction.guild_id))

    def shard_of(self, guild_id: int | None) -> int:
        """The shard a server's events come on (Discord's formula); DMs come on shard 0."""
        count = self.shard_count or 1
        return 0 if guild_id is None else (guild_id >> 22) % count

    @property
    def syncs_commands(self) -> bool:
        """One process syncs the command tree: the one running shard 0 (or the only one)."""
        return True

    def shard_health(self) -> list[dict[str, object]]:
        """Each of this process's shards for /healthz: id, latency (None unknown), connected."""
        return [{"id": 0, "latency": _seconds(self.latency), "connected": self.gateway_connected()}]

    async def settle_left_open(self) -> list[LeftOpen]:
        """Settle the jobs no live process answers for; returns those refunded, to be told."""
        recovery = await self.services.generation.recover_interrupted()
        await settle_maybe_posted(self, self.services.generation, recovery)
        return recovery.refunded

    async def refund_orphans(self) -> None:
        """Settle the jobs of processes whose lease expired and tell their users (the settling
        statement makes each refund, and so each notice, happen once bot-wide)."""
        for left in await self.settle_left_open():
            await tell_interrupted(self, left, await self.server_language(left.row.guild_id))

    def gateway_connected(self) -> bool:
        return self.is_ready() and not self.is_closed() and self.ws is not None and self.ws.open

    def _sync_targets(self) -> list[discord.Object | None]:
        targets: list[discord.Object | None] = [None]
        if self.settings.dev_guild_id is not None:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            targets.append(guild)
        return targets

    async def command_tree_hash(self, guild: discord.Object | None) -> str:
        """The synced payload's digest, translations included, so a catalogue change resyncs."""
        translator = self.tree.translator
        payload = [
            await cmd.get_translated_payload(self.tree, translator)
            if translator is not None
            else cmd.to_dict(self.tree)
            for cmd in self.tree.get_commands(guild=guild)
        ]
        payload.sort(key=lambda c: (str(c.get("type")), str(c.get("name"))))
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def sync_commands(self, *, force: bool) -> list[str]:
        """Sync the command tree where it changed since the last sync (or everywhere if forced).

        Returns the scopes synced ("global", "guild:<id>").
        """
        done: list[str] = []
        for guild in self._sync_targets():
            scope = "global" if guild is None else f"guild:{guild.id}"
            key = f"{SYNC_HASH_KEY}:{scope}"
            digest = await self.command_tree_hash(guild)
            if not force and await self.db.get_meta(key) == digest:
                log.info("commands unchanged for %s; not syncing", scope)
                continue
            synced = await self.tree.sync(guild=guild)
            await self.db.set_meta(key, digest)
            log.info("synced %d commands to %s", len(synced), scope)
            done.append(scope)
        return done

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (id %s) to %d servers",
            self.user,
            self.user and self.user.id,
            len(self.guilds),
        )
        freeze_heap()
        interrupted, self._interrupted = self._interrupted, []
        for left in interrupted:
            await tell_interrupted(self, left, await self.server_language(left.row.guild_id))

    async def shutdown(self) -> None:
        """SIGTERM/SIGINT: stop taking jobs, let running ones finish within the grace, close."""
        if self._closing:
            return
        self._closing = True
        log.info(
            "shutting down: finishing running jobs (up to %.0f s)", self.settings.shutdown_grace_s
        )
        await self.runner.shutdown(self.settings.shutdown_grace_s)
        await self.close()

    async def close(self) -> None:
        if self._token_sweeper is not None:
            self._token_sweeper.cancel()
            self._token_sweeper = None
        if self.health is not None:
            await self.health.stop()
            self.health = None
        if self.services.cluster is not None:
            await self.services.cluster.stop()
        await super().close()
        gc.unfreeze()  # what was frozen can be collected again once the client lets go of it


def _seconds(latency: float) -> float | None:
    return round(latency, 4) if math.isfinite(latency) else None


class ShardedImagenBot(ImagenBot, commands.AutoShardedBot):
    """The bot running some shards of a cluster (``SHARD_COUNT``/``SHARD_IDS``).

    Its processes take turns to IDENTIFY through the database (``Cluster.identify_turn``), one
    per bucket (shard id % Discord's ``max_concurrency``) per window, and only the process
    running shard 0 syncs the command tree.
    """

    def __init__(self, *, settings: Settings, services: Services, **options: Any) -> None:
        ids = settings.shard_ids
        count = settings.shard_count
        if count == "auto":
            # discord.py needs a count with explicit ids; the real one replaces it in setup_hook.
            count = None if ids is None else ids[-1] + 1
        options.update(shard_count=count, shard_ids=None if ids is None else list(ids))
        super().__init__(settings=settings, services=services, **options)
        self.max_concurrency = 1

    async def setup_hook(self) -> None:
        recommended, _, limits = await self.http.get_bot_gateway()
        self.max_concurrency = max(1, int(limits.get("max_concurrency", 1)))
        if self.settings.shard_count == "auto":
            self.shard_count = recommended
            if self.settings.shard_ids is not None:
                check_shard_ids(self.settings.shard_ids, recommended)
        log.info(
            "running shards %s of %s (IDENTIFY max_concurrency %d)",
            ",".join(map(str, self.own_shard_ids)),
            self.shard_count,
            self.max_concurrency,
        )
        self.services.metrics.watch_shard_latencies(self.own_shard_ids, self._shard_latency)
        await super().setup_hook()

    @property
    def own_shard_ids(self) -> list[int]:
        return list(self.shard_ids or range(self.shard_count or 1))

    @property
    def syncs_commands(self) -> bool:
        return 0 in self.own_shard_ids

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        cluster = self.services.cluster
        assert cluster is not None
        await cluster.identify_turn((shard_id or 0) % self.max_concurrency)

    def _shard_latency(self, shard_id: int) -> float:
        shard = self.get_shard(shard_id)
        return math.nan if shard is None or shard.is_closed() else shard.latency

    def gateway_connected(self) -> bool:
        shards = self.shards
        return (
            self.is_ready()
            and not self.is_closed()
            and all(sid in shards and not shards[sid].is_closed() for sid in self.own_shard_ids)
        )

    def shard_health(self) -> list[dict[str, object]]:
        shards = self.shards
        return [
            {
                "id": sid,
                "latency": _seconds(self._shard_latency(sid)),
                "connected": sid in shards and not shards[sid].is_closed(),
            }
            for sid in self.own_shard_ids
        ]
