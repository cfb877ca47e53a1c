"""Broadcasts composed in chat, from the stored row to the admin's final report: exactly the
matching friends who follow, as multicasts, at the chosen time (or cancelled before it),
resumed once after a crash, and followed with progress messages, nothing sent twice."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bot import clock
from bot.admin.broadcasts import ChatBroadcastError, outbox_source
from bot.db.models import Admin, BroadcastRun, ChatBroadcast, Friend, OutboxMessage
from bot.services import Services
from tests.dsl import FriendDriver, SandboxDriver, joined, joined_many, start_at

SCENARIO_TEXT = """version: 1
timezone: Asia/Tokyo
tags: [会員]
welcome: ["ようこそ"]
segments:
  会員さん: {tag: 会員}
"""

SALE = {"type": "text", "text": "会員限定セールのお知らせです"}
STICKER = {"type": "sticker", "packageId": "446", "stickerId": "1988"}


async def an_admin(sandbox: SandboxDriver) -> FriendDriver:
    """The story starts on 2027-06-01 at 10:00 with a friend who runs the account: the
    reports about a broadcast go to them."""
    start_at("2027-06-01T10:00:00+09:00")
    admin, _ = await joined(sandbox, "管理者")
    await Admin.create(line_user_id=admin.user_id, role="owner", created_at=clock.now())
    return admin


async def a_member(sandbox: SandboxDriver, services: Services) -> tuple[FriendDriver, int]:
    """A friend tagged 会員, the audience of most broadcasts here."""
    member, member_id = await joined(sandbox, "会員さん")
    await services.crm.tags.add(member_id, "会員", source="admin")
    return member, member_id


async def report_texts(admin: FriendDriver) -> list[str]:
    """Every message about broadcasts the admin has received so far."""
    await admin.sandbox.settle()
    return [
        e["message"]["text"]
        for e in await admin.transcript()
        if e["direction"] == "out" and e["message"].get("text", "").startswith("配信 #")
    ]


async def test_a_segment_broadcast_reaches_exactly_the_following_members_as_one_multicast(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    admin = await an_admin(sandbox)
    (first, first_id), (second, second_id), (gone, gone_id), (guest, _) = await joined_many(
        sandbox, ["会員A", "会員B", "退会した会員", "ゲスト"]
    )
    # a member imported from elsewhere whose user id LINE does not know
    stranger = await Friend.create(
        line_user_id="U" + "0" * 32, display_name="移行データ", created_at=clock.now(),
        updated_at=clock.now(),
    )  # fmt: skip
    for friend_id in (first_id, second_id, gone_id, stranger.id):
        await services.crm.tags.add(friend_id, "会員", source="admin")
    await gone.block()
    await sandbox.settle()
    chats = services.chat_broadcasts
    assert await chats.count({"segment": "会員さん"}) == 3
    assert await chats.count(None) == 5  # everyone who follows, the admin and stranger too

    row = await chats.create(
        admin.user_id, {"segment": "会員さん"}, "会員さん", [SALE, STICKER], None
    )
    for member in (first, second):  # sent within the call, before any tick
        assert await member.received(2) == [SALE, STICKER]
    await gone.nothing_more()
    await guest.nothing_more()
    multicasts = await sandbox.calls("/message/multicast")
    assert [sorted(c["body"]["to"]) for c in multicasts if c["status"] == 200] == [
        sorted([first.user_id, second.user_id])
    ]

    await sandbox.advance("1s")
    (report,) = await admin.texts(1)
    lines = report.split("\n")
    assert lines[0] == f"配信 #{row.id}「会員さん」 の配信が終わりました。"
    assert lines[1:3] == ["送信 2人", "失敗 1人"]
    assert lines[3].startswith("・HTTP 400") and "1人" in lines[3]
    assert lines[4] == "対象外 0人(配信までにブロックされたなど)"
    done = await ChatBroadcast.get(id=row.id)
    assert (done.status, done.recipients, done.finished_at is not None) == ("done", 3, True)

    await sandbox.advance("10m")
    for friend in (admin, first, second, gone, guest):
        await friend.nothing_more()


async def test_a_scheduled_broadcast_goes_at_its_time_and_a_cancelled_one_never(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    admin = await an_admin(sandbox)
    member, _ = await a_member(sandbox, services)
    chats = services.chat_broadcasts
    noon = datetime.fromisoformat("2027-06-01T12:00:00+09:00")
    later = await chats.create(admin.user_id, {"tag": "会員"}, "タグ:会員", [SALE], noon)
    early = await chats.create(
        admin.user_id, None, "全員", [{"type": "text", "text": "やっぱりやめる配信"}],
        noon - timedelta(hours=1),
    )  # fmt: skip
    assert [r.id for r in await chats.scheduled()] == [early.id, later.id]

    await sandbox.advance("30m")  # 10:30
    assert await chats.cancel(early.id)
    assert not await chats.cancel(early.id)
    assert [r.id for r in await chats.scheduled()] == [later.id]
    await sandbox.advance("1h29m")  # 11:59
    await member.nothing_more()
    await admin.nothing_more()

    await sandbox.advance("2m")  # 12:01
    assert await member.texts(1) == [SALE["text"]]
    (report,) = await admin.texts(1)
    assert report.split("\n")[1:] == [
        "送信 1人",
        "失敗 0人",
        "対象外 0人(配信までにブロックされたなど)",
    ]
    assert not await chats.cancel(later.id)  # sent: nothing left to cancel
    assert await chats.scheduled() == []
    await sandbox.advance("1d")
    await member.nothing_more()
    await admin.nothing_more()
    assert (await ChatBroadcast.get(id=early.id)).status == "cancelled"
    assert not await BroadcastRun.exists(name=f"chat:{early.id}")


async def test_a_broadcast_to_nobody_finishes_with_a_report_saying_so(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    admin = await an_admin(sandbox)
    row = await services.chat_broadcasts.create(admin.user_id, {"tag": "会員"}, "タグ:会員",
                                                [SALE], None)  # fmt: skip
    await sandbox.advance("1s")
    assert await admin.texts(1) == [
        f"配信 #{row.id}「タグ:会員」\n配信先に当てはまる友だちがいなかったため、送信しませんでした(0人)。"
    ]
    assert (await ChatBroadcast.get(id=row.id)).status == "done"
    await sandbox.advance("1m")
    await admin.nothing_more()


async def test_messages_line_would_refuse_and_unknown_segments_are_refused_before_storing(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    _, services = scenario_app
    chats = services.chat_broadcasts
    with pytest.raises(ChatBroadcastError, match="messages"):
        await chats.create("Uadmin", None, "全員", [SALE] * 6, None)
    with pytest.raises(ChatBroadcastError, match="text"):
        await chats.create("Uadmin", None, "全員", [{"type": "text", "text": ""}], None)
    with pytest.raises(ChatBroadcastError, match="ない"):
        await chats.create("Uadmin", {"segment": "ない"}, "セグメント:ない", [SALE], None)
    assert not await ChatBroadcast.exists()


async def test_a_run_left_preparing_by_a_crashed_process_is_redone_and_sent_once(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    admin = await an_admin(sandbox)
    member, _ = await a_member(sandbox, services)
    # what a process leaves when it dies after claiming the broadcast and starting its run
    then = clock.now() - timedelta(minutes=5)
    row = await ChatBroadcast.create(
        admin_user_id=admin.user_id, audience={"tag": "会員"}, audience_label="タグ:会員",
        messages=[SALE], status="sending", send_at=then, created_at=then,
    )  # fmt: skip
    await BroadcastRun.create(name=f"chat:{row.id}", occurrence=then, status="preparing",
                              created_at=then)  # fmt: skip

    await sandbox.advance("1s")
    assert await member.texts(1) == [SALE["text"]]
    (report,) = await admin.texts(1)
    assert report.split("\n")[1] == "送信 1人"
    run = await BroadcastRun.get(name=f"chat:{row.id}")
    assert (run.status, run.recipients) == ("queued", 1)
    await sandbox.advance("5m")
    await member.nothing_more()
    await admin.nothing_more()
    assert await OutboxMessage.filter(source=outbox_source(row.id)).count() == 1


async def test_progress_is_reported_while_requests_wait_and_nobody_gets_anything_twice(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    admin = await an_admin(sandbox)
    created = await sandbox.post("/sandbox/api/friends/bulk", {"count": 999, "prefix": "読者"})
    now = clock.now()
    await Friend.bulk_create(
        [Friend(line_user_id=uid, display_name=f"読者{n}", followed_at=now, created_at=now,
                updated_at=now) for n, uid in enumerate(created["userIds"])]
    )  # fmt: skip
    # LINE takes one multicast this hour: the second of the two waits with a 429
    await sandbox.post(
        "/sandbox/api/settings", {"rateLimits": True, "limits": {"multicast": "1/h"}}
    )
    row = await services.chat_broadcasts.create(admin.user_id, None, "全員", [SALE], None)
    progress = await services.chat_broadcasts.progress(row.id, row.recipients)
    assert (progress.total, progress.sent, progress.pending) == (1000, 500, 500)
    # someone still waiting for the message blocks the account meanwhile
    waiting = await OutboxMessage.get(source=outbox_source(row.id), status="pending")
    leaver_id = next(u for u in json.loads(waiting.recipients or "[]") if u != admin.user_id)
    await FriendDriver(sandbox, {"userId": leaver_id, "displayName": "退会者"}).block()
    await sandbox.settle()

    await sandbox.advance("1s")  # before the retry is due
    assert await report_texts(admin) == [f"配信 #{row.id}「全員」\n配信中… 50% (500 / 1,000人)"]
    await sandbox.advance("1s")  # no new percentage: no new message
    assert len(await report_texts(admin)) == 1

    await sandbox.post("/sandbox/api/settings", {"rateLimits": False})
    await sandbox.advance("1m")
    reports = await report_texts(admin)
    assert reports[1:] == [
        f"配信 #{row.id}「全員」 の配信が終わりました。\n送信 999人\n失敗 0人\n"
        "対象外 1人(配信までにブロックされたなど)"
    ]
    await sandbox.advance("10m")
    assert len(await report_texts(admin)) == 2
    stats = await sandbox.get("/sandbox/api/stats")
    delivered = stats["deliveredByFriend"]
    assert all(delivered.get(uid) == 1 for uid in created["userIds"] if uid != leaver_id)
    assert leaver_id not in delivered
    assert (
        not await OutboxMessage.filter(dedupe_key__startswith="chatbc:")
        .filter(status__not="sent")
        .exists()
    )
