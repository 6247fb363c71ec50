"""The bot process against the fake Discord: login, sync only on change, /help, intents."""

from __future__ import annotations

import gc

from tests.harness import DISCORD_TOKEN, BotProcess, Stack, eventually, running_bot

PUT_COMMANDS = r"^/applications/\d+/commands$"
PUT_GUILD_COMMANDS = r"^/applications/\d+/guilds/\d+/commands$"


def puts(stack: Stack, pattern: str = PUT_COMMANDS) -> int:
    return len(stack.discord.calls_to("PUT", pattern))


async def test_process_logs_in_syncs_and_answers_help(stack: Stack) -> None:
    bot = BotProcess(stack)
    try:
        await bot.start_and_wait_ready()
        assert puts(stack) == 1
        names = {c["name"] for c in stack.discord.global_commands}
        assert {"help", "imagine"} <= names
        it = await stack.discord.slash("help")
        response = await it.wait_response(timeout=30)
        assert response.type == 4
        assert response.data["flags"] & 64  # ephemeral
        embed = response.data["embeds"][0]
        text = str(embed)
        for model in ("Imagen 4 Fast", "Imagen 4 Ultra", "Imagen 4 Preview"):
            assert model in text
        # /help names every command the bot synced, and every option of /imagine.
        for command in stack.discord.global_commands:
            assert f"`/{command['name']}" in text, command["name"]
            if command["name"] == "imagine":
                for option in command["options"]:
                    assert option["name"] in text, option["name"]
        assert await bot.terminate() == 0
    finally:
        bot.close()
    assert DISCORD_TOKEN not in bot.log()


async def test_second_start_does_not_sync_and_sync_command_forces(stack: Stack) -> None:
    first = BotProcess(stack)
    try:
        await first.start_and_wait_ready()
        assert await first.terminate() == 0
    finally:
        first.close()
    assert puts(stack) == 1
    second = BotProcess(stack)
    try:
        await second.start_and_wait_ready()
        assert puts(stack) == 1, "an unchanged command tree must not be synced again"
        assert "commands unchanged" in second.log()
        assert await second.terminate() == 0
    finally:
        second.close()
    forced = BotProcess(stack, "sync")
    try:
        forced.start()
        assert await forced.wait() == 0, forced.log()
    finally:
        forced.close()
    assert puts(stack) == 2
    assert "synced: global" in forced.log()


async def test_dev_guild_gets_its_own_sync_and_intents_are_minimal(stack: Stack) -> None:
    guild_id = stack.discord.default_guild.id
    async with running_bot(stack, DEV_GUILD_ID=str(guild_id)) as bot:
        assert bot.synced == ["global", f"guild:{guild_id}"]
        assert puts(stack, PUT_GUILD_COMMANDS) == 1
        intents = stack.discord.identify_payloads[-1]["intents"]
        assert intents == 1  # GUILDS only: nothing privileged
        it = await stack.discord.slash("help")
        assert (await it.wait_response()).data["flags"] & 64


async def test_bad_token_exits_with_a_clear_message(stack: Stack) -> None:
    bot = BotProcess(stack, DISCORD_TOKEN="MTIz.wrong.token")
    try:
        bot.start()
        code = await bot.wait()
    finally:
        bot.close()
    assert code != 0
    assert "DISCORD_TOKEN" in bot.log()
    assert "MTIz.wrong.token" not in bot.log()


async def test_check_verifies_the_token_and_the_key_online(stack: Stack) -> None:
    ok = BotProcess(stack, "check")
    try:
        ok.start()
        assert await ok.wait() == 0, ok.log()
    finally:
        ok.close()
    out = ok.log()
    for check in ("configuration", "database", "Discord token", "AI/ML API key"):
        assert f"ok    {check}" in out
    # The key probe is a request the API rejects by validation: nothing is generated or paid.
    assert stack.api.probes == 1
    assert all("prompt" not in r.body for r in stack.api.requests)
    bad = BotProcess(stack, "check", AIMLAPI_KEY="not-the-key", DISCORD_TOKEN="MTIz.bad.token")
    try:
        bad.start()
        assert await bad.wait() == 1
    finally:
        bad.close()
    out = bad.log()
    assert "FAIL  Discord token" in out and "FAIL  AI/ML API key" in out and "AIMLAPI_KEY" in out
    assert "not-the-key" not in out and "MTIz.bad.token" not in out


async def test_ready_freezes_the_heap_and_close_releases_it(stack: Stack) -> None:
    """What is alive at READY (modules, the guild cache) is frozen out of the collector's walk
    (bench.scale times one full pass over it); closing the client gives it back."""
    async with running_bot(stack) as bot:
        await eventually(lambda: gc.get_freeze_count() > 0, 30, "the heap to be frozen")
        assert not bot.is_closed()
    assert gc.get_freeze_count() == 0
