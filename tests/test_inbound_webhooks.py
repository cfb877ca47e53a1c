"""Signed webhooks from other systems (`/integrations/hooks/SOURCE`) against the running
server: signed bodies fire rules and set fields, anything unsigned, replayed or malformed
changes nothing, and the sender is told what was wrong."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.config import SANDBOX_HOOK_SECRET
from bot.crm.tags import current_tags
from bot.db.models import IntegrationEvent
from bot.integrations.inbound import SIGNATURE_HEADER, sign_body
from bot.services import Services
from tests.dsl import SandboxDriver, joined, start_at

CRM_SECRET = "crm-secret-for-tests"
SERVER_ENV = {"CRM_WEBHOOK_SECRET": CRM_SECRET}
SCENARIO_TEXT = """
version: 1
timezone: Asia/Tokyo
welcome: ["ようこそ"]
tags: [予約済み, 来店済み]
fields:
  予約日: {type: date}
  コース: {type: choice, choices: [体験, 本コース]}
  メモ: {type: text}
integrations:
  webhooks:
    reservations:
      events: [booked, visited]
      fields: [予約日, コース]
    crm:
      secret_env: CRM_WEBHOOK_SECRET
rules:
  - name: 予約の確認
    when: {webhook: {source: reservations, event: booked}}
    do:
      - add_tag: 予約済み
      - send: ["ご予約ありがとうございます。{{ friend.fields.予約日 }}({{ friend.fields.コース }})にお待ちしています。"]
  - name: 来店
    when: {webhook: {source: reservations, event: visited}}
    do: [{add_tag: 来店済み}]
  - name: CRMから
    when: {webhook: {source: crm}}
    do: [{send: ["CRMからのお知らせです。"]}]
reminders:
  予約リマインド:
    field: 予約日
    steps:
      - {before: 1d, at: "10:00", messages: ["明日はご予約の日です。お気をつけてお越しください。"]}
"""

App = tuple[SandboxDriver, Services]


async def post_hook(
    sandbox: SandboxDriver, source: str, body: bytes, signature: str | None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    async with sandbox.session.post(
        f"{sandbox.base_url}/integrations/hooks/{source}", data=body, headers=headers
    ) as resp:
        return resp.status, await resp.json()


def encode(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


async def send(
    sandbox: SandboxDriver, source: str, data: Any, secret: str = SANDBOX_HOOK_SECRET
) -> tuple[int, dict[str, Any]]:
    body = encode(data)
    return await post_hook(sandbox, source, body, sign_body(secret, body))


def booked(event_id: str, friend: dict[str, Any], **fields: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "event": "booked",
        "friend": friend,
        "fields": fields or {"予約日": "2027-06-10", "コース": "体験"},
        "data": {"reservation": event_id, "shop": "渋谷店"},
    }


async def test_a_signed_event_sets_fields_fires_rules_and_schedules_the_reminder(
    app: App,
) -> None:
    sandbox, services = app
    start_at("2027-06-01T12:00:00+09:00")
    friend, friend_id = await joined(sandbox, "予約さん")
    status, answer = await send(sandbox, "reservations", booked("r-1001", {"id": friend_id}))
    assert (status, answer) == (200, {"status": "done", "friend_id": friend_id})
    assert await friend.texts(1) == [
        "ご予約ありがとうございます。2027-06-10(体験)にお待ちしています。"
    ]
    assert await current_tags(friend_id) == ["予約済み"]
    fields = await services.crm.fields.get_all(friend_id)
    assert (str(fields["予約日"]), fields["コース"]) == ("2027-06-10", "体験")
    row = await IntegrationEvent.get(provider="hook:reservations", event_id="r-1001")
    assert (row.kind, row.status, row.friend_id) == ("booked", "done", friend_id)

    await sandbox.set_time("2027-06-09T09:59:00+09:00")
    await friend.nothing_more()
    await sandbox.advance("2m")  # the day before, at 10:00
    assert await friend.texts(1) == ["明日はご予約の日です。お気をつけてお越しください。"]

    # another event of the source, naming the friend by LINE user id
    visited = {"id": "r-1001-visit", "event": "visited", "friend": {"line_user_id": friend.user_id}}
    assert (await send(sandbox, "reservations", visited))[0] == 200
    assert set(await current_tags(friend_id)) == {"予約済み", "来店済み"}
    await friend.nothing_more()


async def test_unsigned_or_wrongly_signed_events_are_refused_and_change_nothing(
    app: App,
) -> None:
    sandbox, _ = app
    friend, friend_id = await joined(sandbox, "花子")
    body = encode(booked("r-2001", {"id": friend_id}))
    other = encode(booked("r-2002", {"id": friend_id}))
    attempts = [
        (None, "missing X-Stepbot-Signature header"),
        (sign_body("somebody-else", body), "invalid X-Stepbot-Signature"),
        (sign_body(SANDBOX_HOOK_SECRET, other), "invalid X-Stepbot-Signature"),
        (sign_body(SANDBOX_HOOK_SECRET, body).removeprefix("sha256="), "invalid"),
        ("sha256=", "invalid X-Stepbot-Signature"),
    ]
    for signature, error in attempts:
        status, answer = await post_hook(sandbox, "reservations", body, signature)
        assert status == 401, (signature, answer)
        assert answer["error"].startswith(error), answer
    # crm's events are signed with crm's own secret, not the sandbox default
    status, _ = await send(sandbox, "crm", {"id": "c-1", "event": "x", "friend": {"id": friend_id}})
    assert status == 401
    assert await IntegrationEvent.all().count() == 0
    assert await current_tags(friend_id) == []
    await friend.nothing_more()


async def test_a_replayed_event_is_processed_once(app: App) -> None:
    sandbox, _ = app
    friend, friend_id = await joined(sandbox, "二度目")
    event = booked("r-3001", {"id": friend_id})
    assert (await send(sandbox, "reservations", event))[1]["status"] == "done"
    assert len(await friend.texts(1)) == 1
    for _ in range(2):
        status, answer = await send(sandbox, "reservations", event)
        assert (status, answer["status"]) == (200, "duplicate")
    await friend.nothing_more()
    visit = {"id": "r-3002", "event": "visited", "friend": {"id": friend_id}}
    both = await asyncio.gather(*(send(sandbox, "reservations", visit) for _ in range(2)))
    assert sorted(answer["status"] for _, answer in both) == ["done", "duplicate"]
    # the same id from another source is another event
    status, answer = await send(
        sandbox,
        "crm",
        {"id": "r-3001", "event": "note", "friend": {"id": friend_id}},
        CRM_SECRET,
    )
    assert (status, answer["status"]) == (200, "done")
    assert await friend.texts(1) == ["CRMからのお知らせです。"]


async def test_bodies_that_cannot_be_accepted_are_refused_naming_the_problem(app: App) -> None:
    sandbox, services = app
    friend, friend_id = await joined(sandbox, "花子")
    me = {"id": friend_id}
    cases: list[tuple[Any, str]] = [
        ({"event": "booked", "friend": me}, "id: a unique id for this event is required"),
        ({"id": "b-1", "event": "cancelled", "friend": me}, "event: 'cancelled' is not one of"),
        ({"id": "b-2", "friend": me}, "event: the event name is required"),
        (booked("b-3", me, メモ="窓際の席"), "fields.メモ: reservations may not set this field"),
        (booked("b-4", me, 予約日="来週"), "fields.予約日:"),
        (booked("b-5", me, コース="特別"), "fields.コース:"),
        ({"id": "b-6", "event": "booked"}, "friend: one of"),
        ({"id": "b-7", "event": "booked", "friend": {"id": friend_id, "ref": "x"}}, "friend: one"),
        ({"id": "b-8", "event": "booked", "friend": {"ref": "sb-1-forged"}}, "friend.ref:"),
        ({"id": "b-9", "event": "booked", "friend": me, "extra": 1}, "unknown keys: extra"),
        ({"id": "b-10", "event": "booked", "friend": me, "data": [1]}, "data: must be an object"),
        ([1, 2, 3], ""),
    ]
    for data, problem in cases:
        status, answer = await send(sandbox, "reservations", data)
        assert status == 422, (data, answer)
        assert problem in "\n".join(answer.get("problems", [answer["error"]])), answer
    status, answer = await post_hook(
        sandbox, "reservations", b"{oops", sign_body(SANDBOX_HOOK_SECRET, b"{oops")
    )
    assert (status, answer) == (400, {"error": "the body is not JSON"})
    huge = encode({**booked("b-11", me), "data": {"note": "あ" * 30_000}})
    status, answer = await post_hook(
        sandbox, "reservations", huge, sign_body(SANDBOX_HOOK_SECRET, huge)
    )
    assert (status, answer) == (413, {"error": "body larger than 65536 bytes"})
    assert await IntegrationEvent.all().count() == 0
    assert await services.crm.fields.get_all(friend_id) == {}
    await friend.nothing_more()


async def test_an_unknown_friend_is_refused_so_the_event_can_be_sent_again(app: App) -> None:
    sandbox, services = app
    friend, friend_id = await joined(sandbox, "後から")
    wrong = booked("r-4001", {"line_user_id": "U" + "0" * 32})
    status, answer = await send(sandbox, "reservations", wrong)
    assert status == 422
    assert answer["problems"] == [f'friend: no friend matches {{"line_user_id": "U{"0" * 32}"}}']
    assert await IntegrationEvent.all().count() == 0
    # fixed by the sender: the same id goes through, here with the friend's reference
    fixed = booked("r-4001", {"ref": services.refs.make(friend_id)})
    assert (await send(sandbox, "reservations", fixed))[0] == 200
    assert len(await friend.texts(1)) == 1


async def test_an_unknown_source_is_404(app: App) -> None:
    sandbox, _ = app
    body = encode({"id": "1", "event": "x", "friend": {"id": 1}})
    status, answer = await post_hook(sandbox, "shop", body, sign_body(SANDBOX_HOOK_SECRET, body))
    assert status == 404
    assert answer["error"] == "unknown webhook source 'shop' (not in integrations.webhooks)"


async def test_the_sandbox_helper_signs_and_posts_a_body(app: App) -> None:
    sandbox, _ = app
    friend, friend_id = await joined(sandbox, "試し")
    answer = await sandbox.post(
        "/sandbox/api/hooks/crm", {"id": "s-1", "event": "ping", "friend": {"id": friend_id}}
    )
    assert answer == {"status": 200, "body": {"status": "done", "friend_id": friend_id}}
    assert await friend.texts(1) == ["CRMからのお知らせです。"]
    answer = await sandbox.post("/sandbox/api/hooks/nowhere", {"id": "s-2"})
    assert answer["status"] == 404


@pytest.fixture
async def app(scenario_app: App) -> App:
    return scenario_app


async def test_without_the_sources_secret_events_are_refused_with_503(
    live_line_server: SandboxDriver,
) -> None:
    status, answer = await send(
        live_line_server, "reservations", {"id": "1", "event": "booked", "friend": {"id": 1}}
    )
    assert status == 503
    assert answer["error"].startswith("STEPBOT_HOOK_SECRET_RESERVATIONS is not set")
    assert await IntegrationEvent.all().count() == 0
