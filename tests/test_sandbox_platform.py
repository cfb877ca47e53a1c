"""The LINE stand-in answers as LINE does: limits, tokens, retry keys, request ids."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from bot.line.client import LineApiError, LineClient
from tests.dsl import FriendDriver, SandboxDriver

API = "/sandbox/line/v2/bot/message"
AUTH = {"Authorization": "Bearer any-token"}


async def call(
    http: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any, Any]:
    async with http.post(url, json=body, headers={**AUTH, **(headers or {})}) as resp:
        return resp.status, await resp.json(), resp.headers


@pytest.fixture
async def friend(sandbox: SandboxDriver) -> FriendDriver:
    driver = await sandbox.friend("検証さん")
    await driver.follow()
    await driver.received(1)
    return driver


@pytest.fixture
async def line(base_url: str) -> Any:
    client = LineClient("any-token", base_url + "/sandbox/line")
    await client.start()
    yield client
    await client.close()


async def test_limits_are_checked_with_lines_error_shape(
    base_url: str, http: aiohttp.ClientSession, friend: FriendDriver
) -> None:
    text = {"type": "text", "text": "x"}
    cases = [
        ({"to": friend.user_id, "messages": [text] * 6}, "messages"),
        (
            {"to": friend.user_id, "messages": [{"type": "text", "text": "あ" * 5001}]},
            "messages[0].text",
        ),
        ({"to": "U" + "0" * 32, "messages": [text]}, "to"),
        ({"to": friend.user_id, "messages": [{"type": "nosuch"}]}, None),
    ]
    for body, prop in cases:
        status, data, headers = await call(http, base_url + API + "/push", body)
        assert status == 400, body
        assert data["message"]
        assert headers.get("x-line-request-id")
        if prop:
            assert prop in [d["property"] for d in data["details"]], data
    status, data, _ = await call(
        http, base_url + API + "/multicast", {"to": [friend.user_id] * 501, "messages": [text]}
    )
    assert status == 400 and "to" in [d["property"] for d in data["details"]]
    async with http.post(base_url + API + "/push", json={}) as resp:
        assert resp.status == 401


async def test_reply_tokens_are_single_use_and_expire(
    sandbox: SandboxDriver, base_url: str, http: aiohttp.ClientSession, friend: FriendDriver
) -> None:
    tokens = (
        await sandbox.post(f"/sandbox/api/friends/{friend.user_id}/reply-tokens", {"count": 2})
    )["replyTokens"]
    body = {"replyToken": tokens[0], "messages": [{"type": "text", "text": "一度だけ"}]}
    status, data, _ = await call(http, base_url + API + "/reply", body)
    assert status == 200 and len(data["sentMessages"]) == 1
    status, data, _ = await call(http, base_url + API + "/reply", body)
    assert (status, data["message"]) == (400, "Invalid reply token")
    await sandbox.advance("61s")
    body["replyToken"] = tokens[1]
    status, data, _ = await call(http, base_url + API + "/reply", body)
    assert (status, data["message"]) == (400, "Invalid reply token")
    assert await friend.texts(1) == ["一度だけ"]


async def test_a_reused_retry_key_is_409_with_the_accepted_request_id(
    line: LineClient, friend: FriendDriver
) -> None:
    key = str(uuid.uuid4())
    first = await line.push(friend.user_id, [{"type": "text", "text": "一回"}], key)
    assert first.status == 200 and first.request_id and len(first.sent_message_ids) == 1
    again = await line.push(friend.user_id, [{"type": "text", "text": "一回"}], key)
    assert again.already_accepted and again.status == 409
    assert again.request_id == first.request_id
    assert await friend.texts(1) == ["一回"]
    await friend.nothing_more()
    with pytest.raises(LineApiError) as refused:
        await line.push(friend.user_id, [{"type": "text", "text": "x"}], "not-a-uuid")
    assert refused.value.status == 400 and not refused.value.retryable


async def test_multicast_and_profile(line: LineClient, sandbox: SandboxDriver) -> None:
    friends = [await sandbox.friend(f"同報{i}") for i in range(3)]
    for f in friends:
        await f.follow()
        await f.received(1)
    result = await line.multicast(
        [f.user_id for f in friends], [{"type": "text", "text": "お知らせ"}], str(uuid.uuid4())
    )
    assert result.status == 200
    for f in friends:
        assert await f.texts(1) == ["お知らせ"]
    profile = await line.get_profile(friends[0].user_id)
    assert profile["display_name"] == "同報0" and profile["language"] == "ja"
    with pytest.raises(LineApiError) as missing:
        await line.get_profile("U" + "e" * 32)
    assert missing.value.status == 404
