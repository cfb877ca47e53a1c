"""POST /callback as LINE (or anyone else) reaches it: signatures, limits, bodies, duplicates."""

from __future__ import annotations

import json

import aiohttp

from bot.config import Settings
from bot.db.models import InboxEvent, OutboxMessage
from tests.dsl import SandboxDriver
from tests.events import body_of, post_signed, text_event, user_id


async def test_wrong_signature_is_refused_and_nothing_is_stored(
    base_url: str, http: aiohttp.ClientSession, settings: Settings
) -> None:
    body = body_of(text_event(user_id(), "営業時間"))
    status, data = await post_signed(http, base_url + "/callback", body, "not-the-secret")
    assert status == 400
    assert "signature" in data["message"]
    status, data = await post_signed(
        http, base_url + "/callback", body, settings.channel_secret, signature=None
    )
    assert status == 400
    assert "X-Line-Signature" in data["message"]
    assert await InboxEvent.all().count() == 0


async def test_oversized_body_gets_413(
    base_url: str, http: aiohttp.ClientSession, settings: Settings
) -> None:
    body = body_of(text_event(user_id(), "あ" * 400_000))
    assert len(body) > 1024 * 1024
    status, _ = await post_signed(http, base_url + "/callback", body, settings.channel_secret)
    assert status == 413
    assert await InboxEvent.all().count() == 0


async def test_malformed_bodies_get_400_with_a_reason(
    base_url: str, http: aiohttp.ClientSession, settings: Settings
) -> None:
    event = text_event(user_id(), "hi")
    del event["webhookEventId"]
    cases = {
        b"{not json": "not valid JSON",
        b"[]": "JSON object",
        b'{"destination": "x"}': "'events' list",
        body_of(event): "events[0].webhookEventId",
        body_of({**text_event(user_id(), "x"), "message": {"type": "text", "id": "1"}}): "schema",
    }
    for body, reason in cases.items():
        status, data = await post_signed(
            http, base_url + "/callback", body, settings.channel_secret
        )
        assert status == 400, body
        assert reason in data["message"], (body, data)
    assert await InboxEvent.all().count() == 0


async def test_connection_check_with_no_events_is_ok(
    base_url: str, http: aiohttp.ClientSession, settings: Settings
) -> None:
    status, _ = await post_signed(http, base_url + "/callback", body_of(), settings.channel_secret)
    assert status == 200


async def test_unknown_event_type_is_stored_and_ignored(
    base_url: str, http: aiohttp.ClientSession, settings: Settings, sandbox: SandboxDriver
) -> None:
    event = text_event(user_id(), "x")
    event["type"] = "somethingNew"
    status, _ = await post_signed(
        http, base_url + "/callback", body_of(event), settings.channel_secret
    )
    assert status == 200
    row = await InboxEvent.get(webhook_event_id=event["webhookEventId"])
    assert row.status == "ignored"
    assert json.loads(row.payload)["type"] == "somethingNew"


async def test_redelivered_event_is_answered_once(sandbox: SandboxDriver) -> None:
    friend = await sandbox.friend("重複さん")
    await friend.follow()
    await friend.received(1)
    await friend.say("営業時間")
    await friend.received(1)
    await sandbox.settle()
    last = await InboxEvent.filter(user_id=friend.user_id).order_by("-id").first()
    assert last is not None
    for _ in range(3):
        result = await sandbox.post(f"/sandbox/api/webhooks/{last.webhook_event_id}/redeliver", {})
        assert result["webhookStatus"] == 200
    await friend.nothing_more()
    assert await InboxEvent.filter(webhook_event_id=last.webhook_event_id).count() == 1
    sends = await OutboxMessage.filter(user_id=friend.user_id, source="auto_reply").count()
    assert sends == 1


async def test_healthz_reports_the_database(base_url: str, http: aiohttp.ClientSession) -> None:
    async with http.get(base_url + "/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json())["database"] == "ok"
