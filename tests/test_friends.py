"""Friends following, blocking and coming back, and how the bot answers them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import aiohttp

from bot import clock
from bot.config import Settings
from bot.db.models import Friend, OutboxMessage
from bot.services import Services
from tests.conftest import make_settings, start_server
from tests.dsl import SandboxDriver
from tests.events import body_of, post_signed, text_event


async def test_follow_creates_the_friend_and_welcomes_them_by_reply(
    sandbox: SandboxDriver,
) -> None:
    friend = await sandbox.friend("山田花子")
    assert await friend.follow() == 200
    messages = await friend.received(1)
    assert "山田花子" in messages[0]["text"]
    await sandbox.settle()
    row = await Friend.get(line_user_id=friend.user_id)
    assert row.display_name == "山田花子"
    assert row.language == "ja"
    assert not row.blocked
    replies = await sandbox.calls("/v2/bot/message/reply")
    assert len(replies) == 1 and replies[0]["status"] == 200
    assert not await sandbox.calls("/v2/bot/message/push")


async def test_block_marks_the_friend_and_cancels_what_was_waiting(
    sandbox: SandboxDriver, services: Services
) -> None:
    friend = await sandbox.friend("ブロックさん")
    await friend.follow()
    await friend.received(1)
    await sandbox.settle()
    pending, _ = await services.outbox.enqueue(
        friend.user_id, [{"type": "text", "text": "later"}], source="test"
    )
    await OutboxMessage.filter(id=pending.id).update(
        next_attempt_at=clock.now() + timedelta(hours=1)
    )
    await friend.block()
    await sandbox.settle()
    row = await Friend.get(line_user_id=friend.user_id)
    assert row.blocked and row.unfollowed_at is not None
    assert (await OutboxMessage.get(id=pending.id)).status == "cancelled"


async def test_unblocking_reactivates_the_same_friend(sandbox: SandboxDriver) -> None:
    friend = await sandbox.friend("戻ってきた人")
    await friend.follow()
    await friend.received(1)
    await friend.block()
    await sandbox.settle()
    first = await Friend.get(line_user_id=friend.user_id)
    await friend.follow()
    await friend.received(1)
    await sandbox.settle()
    again = await Friend.get(line_user_id=friend.user_id)
    assert again.id == first.id
    assert not again.blocked
    assert await Friend.all().count() == 1


async def test_stale_reply_token_falls_back_to_push_with_a_retry_key(
    sandbox: SandboxDriver, base_url: str, http: aiohttp.ClientSession, settings: Settings
) -> None:
    friend = await sandbox.friend("遅い人")
    await friend.follow()
    await friend.received(1)
    event = text_event(friend.user_id, "営業時間")
    event["timestamp"] -= 120_000  # delivered two minutes late: the token is no good
    status, _ = await post_signed(
        http, base_url + "/callback", body_of(event), settings.channel_secret
    )
    assert status == 200
    await friend.received(1)
    pushes = await sandbox.calls("/v2/bot/message/push")
    assert len(pushes) == 1
    assert pushes[0]["headers"].get("X-Line-Retry-Key")
    assert pushes[0]["body"]["to"] == friend.user_id


async def test_refused_push_keeps_lines_message_and_request_id(
    sandbox: SandboxDriver, services: Services
) -> None:
    row = await services.outbox.send(
        "U" + "f" * 32, [{"type": "text", "text": "誰?"}], source="test"
    )
    row = await OutboxMessage.get(id=row.id)
    assert row.status == "failed"
    assert row.http_status == 400
    assert "Invalid user ID" in (row.error or "")
    assert row.line_request_id
    assert json.loads(row.messages)[0]["text"] == "誰?"


async def test_has_tag_filter_follows_the_tag_history(
    sandbox: SandboxDriver, services: Services
) -> None:
    from linebot.v3.webhooks import Event

    from bot.db.models import FriendTag, Tag
    from bot.handlers.context import EventContext
    from bot.handlers.router import HasTag

    friend = await sandbox.friend("タグさん")
    await friend.follow()
    await friend.received(1)
    await sandbox.settle()
    row = await Friend.get(line_user_id=friend.user_id)
    raw = text_event(friend.user_id, "x")
    ctx = EventContext(services, Event.from_dict(raw), raw, raw["webhookEventId"], friend=row)
    member = HasTag("会員")
    assert not await member.check(ctx)
    tag = await Tag.create(name="会員", created_at=clock.now())
    period = await FriendTag.create(friend=row, tag=tag, added_at=clock.now(), source="admin")
    assert await member.check(ctx)
    period.removed_at = clock.now()
    await period.save()
    assert not await member.check(ctx)


async def test_unblock_can_skip_the_welcome(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    scenario = tmp_path / "quiet.yaml"
    scenario.write_text(
        "version: 1\nwelcome_on_unblock: false\nwelcome: ['はじめまして']\n", encoding="utf-8"
    )
    server = await start_server(make_settings(database_url, STEPBOT_SCENARIO=str(scenario)))
    try:
        sandbox = SandboxDriver(str(server.make_url("")), http)
        friend = await sandbox.friend("再訪さん")
        await friend.follow()
        assert await friend.texts(1) == ["はじめまして"]
        await friend.block()
        await friend.follow()
        await friend.nothing_more()
        assert not (await Friend.get(line_user_id=friend.user_id)).blocked
    finally:
        await server.close()
