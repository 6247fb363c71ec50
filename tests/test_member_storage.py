"""Members' own defaults on both backends: per member per server, a personal row apart,
one upsert returning what it wrote, a reset; and a server's ``allow_private`` setting."""

from __future__ import annotations

import pytest

from bot.storage import Database, MemberDefaults, MemberRepository

GUILD = 1000
USER = 42
FAST = "google/imagen-4.0-fast-generate-001"


@pytest.fixture
async def db(any_db: Database) -> Database:
    return any_db


async def test_defaults_are_kept_per_member_per_server_and_personally(db: Database) -> None:
    members: MemberRepository = db.members
    assert await members.member_defaults(GUILD, USER) == MemberDefaults()
    written = await members.update_member_defaults(GUILD, USER, aspect_ratio="16:9", private=True)
    assert written == MemberDefaults(aspect_ratio="16:9", private=True)
    written = await members.update_member_defaults(GUILD, USER, count=3, private=None)
    assert written == MemberDefaults(aspect_ratio="16:9", count=3)
    assert await members.member_defaults(GUILD, USER) == written
    # Another server and the personal row (DMs, user installs) are apart.
    assert await members.member_defaults(GUILD + 1, USER) == MemberDefaults()
    await members.update_member_defaults(None, USER, enhance_prompt=False)
    assert await members.member_defaults(None, USER) == MemberDefaults(enhance_prompt=False)
    assert await members.member_defaults(GUILD, USER) == written

    assert await members.reset_member_defaults(GUILD, USER) is True
    assert await members.reset_member_defaults(GUILD, USER) is False
    assert await members.member_defaults(GUILD, USER) == MemberDefaults()
    with pytest.raises(ValueError):
        await members.update_member_defaults(GUILD, USER, seed=1)


async def test_allow_private_is_a_server_setting_seen_by_the_next_request(
    db: Database,
) -> None:
    assert (await db.guilds.guild_settings(GUILD)).allow_private is None
    await db.requests.request_context(GUILD, USER, 0.0)  # cached
    assert (
        await db.guilds.update_guild_settings(GUILD, allow_private=False)
    ).allow_private is False
    ctx = await db.requests.request_context(GUILD, USER, 0.0)
    assert ctx.settings.allow_private is False


async def test_a_request_reads_the_members_defaults_with_the_servers_rules(db: Database) -> None:
    """The checks before the answer read a member's defaults with the server's rules, in one
    round trip; every write to them (set, clear, reset) is seen by the next request, also where
    the backend keeps the rules between requests."""
    other = USER + 1
    assert (await db.requests.request_context(GUILD, USER, 0.0)).defaults == MemberDefaults()
    await db.members.update_member_defaults(GUILD, USER, model=FAST, private=True)
    await db.members.update_member_defaults(GUILD, other, count=2, enhance_prompt=False)
    await db.members.update_member_defaults(None, USER, aspect_ratio="9:16")  # personal: apart
    ctx = await db.requests.request_context(GUILD, USER, 0.0)
    assert ctx.defaults == MemberDefaults(model=FAST, private=True)
    ctx = await db.requests.request_context(GUILD, other, 0.0)
    assert ctx.defaults == MemberDefaults(count=2, enhance_prompt=False)

    await db.members.update_member_defaults(GUILD, USER, private=None, aspect_ratio="4:3")
    ctx = await db.requests.request_context(GUILD, USER, 0.0)
    assert ctx.defaults == MemberDefaults(model=FAST, aspect_ratio="4:3")
    assert await db.members.reset_member_defaults(GUILD, USER) is True
    assert (await db.requests.request_context(GUILD, USER, 0.0)).defaults == MemberDefaults()
    ctx = await db.requests.request_context(GUILD, other, 0.0)
    assert ctx.defaults == MemberDefaults(count=2, enhance_prompt=False)


async def test_the_servers_settings_read_after_a_request_are_the_latest(db: Database) -> None:
    """Every interaction reads the server's forced language; where the rules are kept between
    requests that read may come from them, and a change of a setting is still seen at once."""
    await db.requests.request_context(GUILD, USER, 0.0)
    assert (await db.guilds.guild_settings(GUILD)).language is None
    await db.guilds.update_guild_settings(GUILD, language="de")
    assert (await db.guilds.guild_settings(GUILD)).language == "de"
    await db.requests.request_context(GUILD, USER, 0.0)
    await db.guilds.update_guild_settings(GUILD, language=None)
    assert (await db.guilds.guild_settings(GUILD)).language is None
