"""Crashes and restarts: no accepted event is lost, no message goes out twice."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from bot.appkeys import DISPATCHER
from bot.config import Settings
from bot.db.models import InboxEvent, OutboxMessage
from bot.inbox import insert_new
from bot.line.webhook import parse_event
from tests.conftest import start_server
from tests.dsl import SandboxDriver
from tests.events import text_event, user_id


async def test_reprocessing_an_event_after_a_crash_sends_nothing_twice(
    sandbox: SandboxDriver, server: TestServer
) -> None:
    friend = await sandbox.friend("再処理さん")
    await friend.follow()
    await friend.received(1)
    await friend.say("営業時間")
    await friend.received(1)
    await sandbox.settle()
    event = await InboxEvent.filter(user_id=friend.user_id, event_type="message").first()
    assert event is not None
    # The process died after the reply went out but before the event was marked done.
    await InboxEvent.filter(id=event.id).update(status="pending")
    dispatcher = server.app[DISPATCHER]
    dispatcher.submit(event.webhook_event_id, friend.user_id)
    await dispatcher.drain()
    await friend.nothing_more()
    assert (await InboxEvent.get(id=event.id)).status == "done"
    assert await OutboxMessage.filter(user_id=friend.user_id, source="auto_reply").count() == 1


async def test_events_stored_before_a_crash_are_processed_after_restart(
    settings: Settings, sandbox: SandboxDriver, server: TestServer
) -> None:
    uid = user_id()
    stored = parse_event(0, text_event(uid, "営業時間"))
    # Acknowledged (stored as `processing`), then the process died before handling it.
    assert await insert_new([stored], claimed=True) == {stored.webhook_event_id}
    await server.close()

    restarted = await start_server(settings)
    try:
        await SandboxDriver(str(restarted.make_url("")), sandbox.session).settle()
        row = await InboxEvent.get(webhook_event_id=stored.webhook_event_id)
        assert row.status == "done"
        answer = await OutboxMessage.get(user_id=uid)
        assert answer.source == "auto_reply"
        assert answer.dedupe_key == f"event:{stored.webhook_event_id}:1"
    finally:
        await restarted.close()
