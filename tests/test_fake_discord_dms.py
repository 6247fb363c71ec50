"""The fake Discord's DMs, as the private results use them: opening a DM channel, and a user
whose DMs are closed to the bot (403, code 50007), over raw HTTP and within its contract."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes.discord import FakeDiscord


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token="dm-test-token") as server:
        yield server


async def test_a_dm_channel_opens_and_takes_messages_until_the_user_closes_dms(
    fake: FakeDiscord,
) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    user = fake.user
    async with aiohttp.ClientSession(headers=headers) as session:
        url = f"{fake.api_base_url}/users/@me/channels"
        async with session.post(url, json={"recipient_id": str(user.id)}) as resp:
            assert resp.status == 200
            channel = await resp.json()
        assert channel["type"] == 1 and channel["recipients"][0]["id"] == str(user.id)
        assert int(channel["id"]) == fake.dm_channel_id(user)
        send = f"{fake.api_base_url}/channels/{channel['id']}/messages"
        async with session.post(send, json={"content": "hello"}) as resp:
            assert resp.status == 200

        fake.close_dms(user)
        async with session.post(url, json={"recipient_id": str(user.id)}) as resp:
            assert resp.status == 200  # opening still works, as on Discord
        async with session.post(send, json={"content": "hello again"}) as resp:
            assert resp.status == 403
            assert await resp.json() == {
                "code": 50007,
                "message": "Cannot send messages to this user",
            }

        fake.close_dms(user, closed=False)
        async with session.post(send, json={"content": "back"}) as resp:
            assert resp.status == 200
    assert [m["content"] for m in fake.messages_in(int(channel["id"]))] == ["hello", "back"]
    fake.assert_contract_kept()
