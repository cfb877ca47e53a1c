"""stepbot pointed at an independent LINE stand-in, as it would be pointed at LINE itself."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.db.models import Friend, InboxEvent
from bot.sandbox.setup import standalone_app
from tests.conftest import free_port, make_settings, start_server
from tests.dsl import SandboxDriver
from tests.events import body_of, post_signed, text_event

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "real-looking-channel-access-token"


@pytest.fixture
async def pair(
    database_url: str, http: aiohttp.ClientSession
) -> AsyncIterator[tuple[SandboxDriver, Settings, str]]:
    line_port = free_port()
    settings = make_settings(
        database_url,
        LINE_CHANNEL_SECRET=SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
        LINE_API_BASE_URL=f"http://127.0.0.1:{line_port}",
    )
    assert not settings.sandbox
    line = TestServer(
        standalone_app(
            webhook_url=f"{settings.base_url}/callback",
            channel_secret=SECRET,
            expected_token=TOKEN,
        ),
        host="127.0.0.1",
        port=line_port,
    )
    await line.start_server()
    bot = await start_server(settings)
    try:
        yield SandboxDriver(f"http://127.0.0.1:{line_port}", http), settings, settings.base_url
    finally:
        await bot.close()
        await line.close()


async def test_follow_gets_the_welcome_as_a_reply_from_the_stand_in(
    pair: tuple[SandboxDriver, Settings, str],
) -> None:
    line, _, _ = pair
    friend = await line.friend("外部さん")
    assert await friend.follow() == 200
    messages = await friend.received(1)
    assert "外部さん" in messages[0]["text"]
    calls = await line.get("/sandbox/api/calls")
    paths = [c["path"] for c in calls["calls"]]
    assert paths[0] == f"/v2/bot/profile/{friend.user_id}"
    assert "/v2/bot/message/reply" in paths
    assert all(c["status"] == 200 for c in calls["calls"]), calls
    assert await line.get(f"/sandbox/api/friends/{friend.user_id}/transcript") is not None


async def test_bad_signature_gets_400_and_nothing_is_stored(
    pair: tuple[SandboxDriver, Settings, str], http: aiohttp.ClientSession
) -> None:
    _, _, bot_url = pair
    body = body_of(text_event("U" + "a" * 32, "営業時間"))
    status, _ = await post_signed(http, bot_url + "/callback", body, "wrong-secret")
    assert status == 400
    assert await InboxEvent.all().count() == 0
    assert await Friend.all().count() == 0


async def test_duplicate_event_id_is_answered_once(
    pair: tuple[SandboxDriver, Settings, str], http: aiohttp.ClientSession
) -> None:
    line, _, bot_url = pair
    friend = await line.friend("二重さん")
    await friend.follow()
    await friend.received(1)
    event = text_event(friend.user_id, "営業時間")
    body = body_of(event)
    for _ in range(2):
        status, _ = await post_signed(http, bot_url + "/callback", body, SECRET)
        assert status == 200
    await friend.received(1)
    await friend.nothing_more()
    replies = [
        c
        for c in (await line.get("/sandbox/api/calls"))["calls"]
        if c["path"].startswith("/v2/bot/message/") and c["status"] == 200
    ]
    # the welcome, and one answer to the duplicated event (its made-up reply token is
    # refused, so that answer goes out as a push)
    assert [c["path"].rsplit("/", 1)[1] for c in replies] == ["reply", "push"]
