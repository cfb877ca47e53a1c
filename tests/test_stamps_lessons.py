"""Stamp rallies and lesson courses: codes count once per friend, the goal's present comes
exactly once, lessons are recorded as delivered by steps and as watched once."""

from __future__ import annotations

from bot.db.models import LessonProgress, PointEntry, Stamp, StampCard
from bot.services import Services
from tests.dsl import SandboxDriver, button_data, joined

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ"]
tags: [スタンプ達成, 受講中]
stamp_rallies:
  来店:
    title: 来店スタンプ
    goal: 3
    codes: [SHOP-A, SHOP-B, SHOP-C, SHOP-D]
    stamped: ["スタンプ{{ stamps }}個目です(あと{{ goal - stamps if goal > stamps else 0 }}個)"]
    present:
      - add_tag: スタンプ達成
      - add_points: {amount: 50, reason: スタンプ達成}
      - send: ["おめでとうございます!クーポン: STAMP50"]
courses:
  料理:
    title: 料理講座
    lessons:
      - {key: 1, title: 包丁の使い方, url: "https://example.com/v/1"}
      - {key: 2, title: だしの取り方, url: "https://example.com/v/2"}
    on_watched:
      - add_stamp: 来店
steps:
  講座:
    trigger: {tag_added: 受講中}
    steps:
      - after: 0
        messages:
          - type: template
            altText: レッスン1
            template:
              type: buttons
              text: レッスン1 包丁の使い方
              actions:
                - type: postback
                  label: 視聴しました
                  displayText: 視聴しました
                  do: [lesson_watched: {course: 料理, lesson: 1}]
        do: [lesson_delivered: {course: 料理, lesson: 1}]
      - after: 1d
        messages: ["レッスン2 だしの取り方"]
        do: [lesson_delivered: {course: 料理, lesson: 2}]
auto_replies:
  - match: {equals: [スタンプカード]}
    do: [show_stamp_card: 来店]
"""


async def test_codes_count_once_and_the_present_comes_once(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    friend, fid = await joined(sandbox, "来店さくら")
    await friend.say("SHOP-A")
    assert await friend.texts(1) == ["スタンプ1個目です(あと2個)"]
    await friend.say("shop-a")  # the same code again (any width or case counts as it)
    assert await friend.texts(1) == ["このスタンプは押印済みです。"]
    await friend.say("ＳＨＯＰ-Ｂ")
    assert await friend.texts(1) == ["スタンプ2個目です(あと1個)"]
    await friend.say("SHOP-C")
    assert await friend.texts(2) == [
        "スタンプ3個目です(あと0個)",
        "おめでとうございます!クーポン: STAMP50",
    ]
    await friend.say("SHOP-D")  # beyond the goal: counted, no second present
    assert await friend.texts(1) == ["スタンプ4個目です(あと0個)"]
    await friend.nothing_more()
    assert await services.crm.points.balance(fid) == 50
    assert await PointEntry.filter(friend_id=fid).count() == 1
    card = await StampCard.get(friend_id=fid, rally="来店")
    assert (card.state, card.stamps) == ("completed", 4)

    await friend.say("スタンプカード")
    (shown,) = await friend.received(1)
    assert shown["type"] == "flex" and shown["altText"] == "来店スタンプ 4/3"
    texts = [c.get("text") for c in shown["contents"]["body"]["contents"]]
    assert "達成しました!" in texts

    # Another friend's card is their own.
    other, other_id = await joined(sandbox, "来店もみじ")
    await other.say("SHOP-A")
    assert await other.texts(1) == ["スタンプ1個目です(あと2個)"]
    assert await Stamp.filter(friend_id=other_id).count() == 1


async def test_lessons_delivered_by_steps_and_watched_once(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    friend, fid = await joined(sandbox, "受講ゆき")
    await services.crm.tags.add(fid, "受講中", source="test")
    (lesson1,) = await friend.received(1)
    data, shown = button_data(lesson1, "視聴しました")
    assert [r.lesson for r in await services.lessons.history(fid, "料理")] == ["1"]

    await friend.tap(data, shown)
    assert await friend.texts(2) == ["視聴を記録しました。", "スタンプ1個目です(あと2個)"]
    for _ in range(2):
        await friend.tap(data, shown)
        assert await friend.texts(1) == ["この動画は視聴済みとして記録されています。"]
    await friend.nothing_more()
    assert await Stamp.filter(friend_id=fid).count() == 1

    await sandbox.advance("1d")
    assert await friend.texts(1) == ["レッスン2 だしの取り方"]
    history = await services.lessons.history(fid, "料理")
    assert [(r.lesson, r.watched_at is not None) for r in history] == [("1", True), ("2", False)]
    assert await LessonProgress.filter(friend_id=fid).count() == 2
