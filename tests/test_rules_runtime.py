"""The rule engine at run time: loops stopped by the depth limit, scores moved by activity
and lowered by inactivity, messages and taps reaching rules after auto-replies."""

from __future__ import annotations

import logging

import pytest

from bot.crm.admins import add_admin
from bot.crm.tags import current_tags
from bot.services import Services
from tests.dsl import SandboxDriver, friend_id_of

SCENARIO_TEXT = """version: 1
tags: [反応あり, 常連, 購入, 購入1日, 除外, 連鎖]
scores:
  engagement:
    events: {message: 1, postback: 2}
    decay: {every: 7d, by: 1, min: 0}
auto_replies:
  - match: {equals: こんにちは}
    messages: [こんにちは!]
rules:
  - name: ループ
    when: [points_changed]
    if: {points: {gt: 0}}
    repeat: true
    do: [{add_points: 1}]
  - name: メッセージで反応
    when: [{message: {contains: 予約}}]
    do: [{add_tag: 反応あり}, {send: [予約ですね。担当者からご連絡します。]}]
  - name: 購入から1日
    when: [{tag_age: {tag: 購入, at_least: 1d}}]
    if: {not: {tag: 除外}}
    do: [{add_tag: 購入1日}]
  - name: 連鎖
    when: [{tag_added: 購入1日}]
    do: [{add_tag: 連鎖}]
  - name: 常連
    when: [{score_changed: engagement}]
    if: {score: {name: engagement, gte: 3}}
    do:
      - add_tag: 常連
      - notify_admins: "{{ friend.display_name }}さん(#{{ friend.id }})が常連になりました"
"""


async def test_a_runaway_loop_is_stopped_with_a_clear_log_line(
    scenario_app: tuple[SandboxDriver, Services], caplog: pytest.LogCaptureFixture
) -> None:
    sandbox, services = scenario_app
    friend = await sandbox.friend("ループさん")
    await friend.follow()
    fid = await friend_id_of(friend)
    with caplog.at_level(logging.ERROR, logger="bot.automation.rules"):
        await services.crm.points.add(fid, 1, source="admin")
    balance = await services.crm.points.balance(fid)
    assert 2 <= balance <= 20  # it ran, and it stopped
    assert any("rule chain stopped at depth 16: rule 'ループ'" in r.message for r in caplog.records)


async def test_messages_reach_rules_after_the_auto_reply_and_move_scores(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    friend = await sandbox.friend("予約さん")
    await friend.follow()
    fid = await friend_id_of(friend)
    await friend.say("こんにちは")
    assert await friend.texts(1) == ["こんにちは!"]
    await friend.say("明日の予約をしたいです")
    assert await friend.texts(1) == ["予約ですね。担当者からご連絡します。"]
    await sandbox.settle()
    assert set(await current_tags(fid)) == {"反応あり"}
    assert await services.crm.scores.get(fid, "engagement") == 2
    admin = await sandbox.friend("店長")
    await admin.follow()
    await add_admin(admin.user_id, "owner")
    await friend.tap("anything")
    await sandbox.settle()
    assert await services.crm.scores.get(fid, "engagement") == 4
    assert "常連" in await current_tags(fid)
    assert await admin.texts(1) == [f"予約さんさん(#{fid})が常連になりました"]
    await friend.nothing_more()


async def test_scores_decay_while_inactive(scenario_app: tuple[SandboxDriver, Services]) -> None:
    sandbox, services = scenario_app
    friend = await sandbox.friend("休眠さん")
    await friend.follow()
    fid = await friend_id_of(friend)
    await friend.tap("x")
    await sandbox.settle()
    assert await services.crm.scores.get(fid, "engagement") == 2
    await sandbox.advance("6d")
    assert await services.crm.scores.get(fid, "engagement") == 2
    await sandbox.advance("1d")
    assert await services.crm.scores.get(fid, "engagement") == 1
    await sandbox.advance("7d")
    await sandbox.advance("7d")
    assert await services.crm.scores.get(fid, "engagement") == 0


async def test_tag_age_rule_fires_once_for_matching_friends_and_chains(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    await sandbox.advance("1m")
    ids = []
    for name in ("一", "二", "三"):
        friend = await sandbox.friend(name)
        await friend.follow()
        ids.append(await friend_id_of(friend))
    tags = services.crm.tags
    for fid in ids:
        await tags.add(fid, "購入", source="integration")
    await tags.add(ids[2], "除外", source="admin")
    await sandbox.advance("23h")
    assert "購入1日" not in await current_tags(ids[0])
    await sandbox.advance("2h")
    for fid in ids[:2]:
        assert {"購入1日", "連鎖"} <= set(await current_tags(fid))
    assert "購入1日" not in await current_tags(ids[2])
    await tags.remove(ids[0], "購入1日", source="admin")
    await sandbox.advance("2d")
    assert "購入1日" not in await current_tags(ids[0])  # fired once, not again
