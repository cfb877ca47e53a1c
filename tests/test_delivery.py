"""The delivery engine under trouble: reminders around a date, a 429 storm, requests LINE
accepted but answered 500, and catching up after downtime — every friend gets each message
exactly once."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot import clock
from bot.automation.analytics import step_stats
from bot.db.models import Friend, OutboxMessage, StepDelivery
from bot.services import Services
from tests.dsl import SandboxDriver, joined, joined_many, start_at

SCENARIO_TEXT = """version: 1
timezone: Asia/Tokyo
tags: [会員, 購読, キャンセル]
welcome: ["ようこそ"]
fields:
  体験日: {type: date}
reminders:
  体験レッスン:
    field: 体験日
    stop_if: {tag: キャンセル}
    steps:
      - {before: 3d, at: "10:00", messages: ["3日後は体験レッスンです"]}
      - {on_day: true, at: "08:00", messages: ["本日はよろしくお願いします"]}
      - {after: 1d, at: "10:00", messages: ["ご参加ありがとうございました"]}
steps:
  会員案内:
    trigger: {tag_added: 会員}
    steps:
      - {after: 1d, at: "10:00", messages: ["会員のみなさまへのご案内です"]}
  購読案内:
    trigger: {tag_added: 購読}
    steps:
      - {after: 1d, at: "10:00", messages: ["購読者のみなさまへのご案内です"]}
      - {after: 2d, at: "10:00", messages: ["{{ friend.display_name }}さん、2日目のご案内です"]}
broadcasts:
  お知らせ:
    at: "2027-07-01 12:00"
    messages: ["7月のお知らせです"]
"""


async def settings(sandbox: SandboxDriver, **values: object) -> None:
    await sandbox.post("/sandbox/api/settings", values)


async def test_reminders_around_a_date_and_rescheduling(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-06-01T09:00:00+09:00")
    friend, fid = await joined(sandbox, "体験さん")
    moved, moved_id = await joined(sandbox, "変更さん")
    await services.crm.fields.set(fid, "体験日", date(2027, 6, 10), source="form")
    await services.crm.fields.set(moved_id, "体験日", date(2027, 6, 10), source="form")
    await sandbox.advance("6d")  # 06-07 09:00
    await friend.nothing_more()
    await services.crm.fields.set(moved_id, "体験日", "2027-06-20", source="admin")  # moved
    await sandbox.advance("1h1m")  # 06-07 10:01: three days before
    assert await friend.texts(1) == ["3日後は体験レッスンです"]
    await moved.nothing_more()
    await sandbox.advance("2d22h")  # 06-10 08:01
    assert await friend.texts(1) == ["本日はよろしくお願いします"]
    await sandbox.advance("1d2h")  # 06-11 10:01
    assert await friend.texts(1) == ["ご参加ありがとうございました"]
    await moved.nothing_more()
    await services.crm.tags.add(moved_id, "キャンセル", source="admin")
    await sandbox.advance("10d")
    await moved.nothing_more()  # cancelled before the new date's reminders


async def test_a_step_due_for_many_goes_as_one_multicast_and_names_stay_personal(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-06-01T09:00:00+09:00")
    members = await joined_many(sandbox, ["一郎", "二郎", "三郎"])
    for _, fid in members:
        await services.crm.tags.add(fid, "購読", source="admin")
    await sandbox.advance("1d1h1m")  # 06-02 10:01: the same text for all three, rendered once
    for friend, _ in members:
        assert await friend.texts(1) == ["購読者のみなさまへのご案内です"]
    multicasts = await sandbox.calls("/message/multicast")
    assert [len(c["body"]["to"]) for c in multicasts] == [3]
    await sandbox.advance("1d")  # 06-03 10:01: each friend's own name
    for (friend, _), name in zip(members, ["一郎", "二郎", "三郎"], strict=True):
        assert await friend.texts(1) == [f"{name}さん、2日目のご案内です"]


async def test_a_429_storm_and_accepted_then_500_still_deliver_exactly_once(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-06-30T12:00:00+09:00")
    friends = await joined_many(sandbox, [f"友{n}" for n in range(12)])
    # one multicast an hour (the second of the two gets 429), and every multicast LINE
    # accepts is answered 500 as if the connection had broken
    await settings(
        sandbox,
        rateLimits=True,
        limits={"multicast": "1/h"},
        faults={"rate": 1, "kind": "accept-then-500", "endpoints": ["multicast"], "seed": 1},
    )
    for _, fid in friends[:2]:
        await services.crm.tags.add(fid, "会員", source="admin")
    await sandbox.advance("1d")  # 07-01 12:00: the broadcast and the members' step are due
    await sandbox.advance("2s")
    await settings(sandbox, faults=None, rateLimits=False)
    for _ in range(6):  # the outbox retries what looked failed: LINE answers 409 if it had it
        await sandbox.advance("10m")
    assert not await OutboxMessage.filter(status__in=["pending", "sending", "failed"]).exists()
    for n, (friend, _) in enumerate(friends):
        texts = [
            e["message"].get("text")
            for e in await friend.transcript()
            if e["direction"] == "out" and e["message"].get("text") != "ようこそ"
        ]
        expected = ["7月のお知らせです"] + (["会員のみなさまへのご案内です"] if n < 2 else [])
        assert sorted(texts) == sorted(expected), (friend.name, texts)
    stats = await sandbox.get("/sandbox/api/stats")
    assert stats["rateLimited"] >= 1
    assert sum(stats["faults"].values()) >= 1
    # billable: 12 broadcast recipients and 2 step recipients; the welcome replies are free
    start = datetime.fromisoformat("2027-06-30T00:00:00+09:00")
    billable = await services.outbox.billable_by_day(
        start, start + timedelta(days=3), services.scenario.zone
    )
    assert billable == {"2027-07-01": 14}


async def test_downtime_catches_up_and_too_late_is_skipped_and_recorded(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-06-01T12:00:00+09:00")
    recent, rid = await joined(sandbox, "最近")
    await services.crm.tags.add(rid, "会員", source="admin")
    # no tick for 23 hours (as if the server were down): the step is caught up on return
    clock.clock.advance(timedelta(hours=23))
    await sandbox.advance("1m")
    assert await recent.texts(1) == ["会員のみなさまへのご案内です"]
    late, lid = await joined(sandbox, "ずっと前")
    await services.crm.tags.add(lid, "会員", source="admin")
    clock.clock.advance(timedelta(days=3))  # down for three days
    await sandbox.advance("1m")
    await late.nothing_more()
    record = await StepDelivery.get(friend_id=lid)
    assert (record.status, record.reason) == ("skipped", "too old")


async def test_a_recipient_line_refuses_fails_alone_and_is_counted_for_its_step(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-06-01T12:00:00+09:00")
    member, fid = await joined(sandbox, "会員さん")
    # a friend imported from elsewhere whose user id LINE does not know
    stranger = await Friend.create(
        line_user_id="U" + "0" * 32, display_name="移行データ", created_at=clock.now(),
        updated_at=clock.now(),
    )  # fmt: skip
    for friend_id in (fid, stranger.id):
        await services.crm.tags.add(friend_id, "会員", source="admin")
    await sandbox.advance("1d")
    assert await member.texts(1) == ["会員のみなさまへのご案内です"]
    [stats] = await step_stats("会員案内")
    assert (stats.sent, stats.failed) == (2, 1)
    [(reason, count)] = stats.failures.items()
    assert count == 1 and "Invalid user ID" in reason
