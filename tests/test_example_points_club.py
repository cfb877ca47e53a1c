"""examples/points-club.yaml end to end: survey → 100 points once, thresholds once per
crossing, exchange by tag, 3000 pt steps, admin point changes and bulk tags, birthdays, the
monthly balance and the notice 7 days before points expire."""

from __future__ import annotations

from datetime import date

from bot.db.models import FriendTag, OutboxMessage, PointEntry
from bot.services import Services
from tests.dsl import (
    FriendDriver,
    SandboxDriver,
    button_data,
    joined,
    quick_reply_text,
    start_at,
)

SCENARIO = "points-club.yaml"


async def answer_survey(friend: FriendDriver) -> dict:
    await friend.say("アンケート")
    intro, q1 = await friend.received(2)
    assert "キャンセル" in intro["text"] and q1["text"] == "Q1. 好きな料理のジャンルは?"
    await friend.say(quick_reply_text(q1, "和食"))
    (q2,) = await friend.received(1)
    await friend.say(quick_reply_text(q2, "月1回程度"))
    (q3,) = await friend.received(1)
    await friend.say(quick_reply_text(q3, "はい"))
    (thanks,) = await friend.received(1)
    return thanks


async def test_survey_gives_100_points_once(scenario_app: tuple[SandboxDriver, Services]) -> None:
    sandbox, services = scenario_app
    friend, fid = await joined(sandbox, "アンケート太郎")
    thanks = await answer_survey(friend)
    fields = await services.crm.fields.get_all(fid)
    assert fields == {"好きなジャンル": "和食", "来店頻度": "月1回程度", "おすすめ": "はい"}
    assert "100ポイント" in thanks["template"]["text"]
    data, shown = button_data(thanks, "100ポイントを受け取る")
    await friend.tap(data, shown)
    assert await friend.texts(1) == ["100ポイントを付与しました!"]
    for _ in range(2):
        await friend.tap(data, shown)
        assert await friend.texts(1) == ["アンケートのポイントはすでに受け取っています。"]
    assert await services.crm.points.balance(fid) == 100
    assert await PointEntry.filter(friend_id=fid).count() == 1


async def test_300_points_notice_fires_once_per_crossing_and_exchange_works(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    friend, fid = await joined(sandbox, "ためる花子")
    points, tags = services.crm.points, services.crm.tags
    await points.add(fid, 250, reason="購入", source="admin")
    await friend.nothing_more()
    await points.add(fid, 60, reason="購入", source="admin")  # 310: crosses 300
    assert await friend.texts(1) == ["300ポイント貯まりました。プレゼントと交換できます"]
    await points.add(fid, 50, reason="購入", source="admin")  # 360: still above, no repeat
    await friend.nothing_more()
    assert "300pt到達" in await services_tags(services, fid)

    # 3. the admin tags the exchange; the rule takes 300 points and both tags
    await tags.add(fid, "300ポイント削除(プレゼント)", source="admin", actor="admin")
    assert await friend.texts(1) == [
        "300ポイントをプレゼントと交換しました。お届けまでお待ちください。"
    ]
    assert await points.balance(fid) == 60
    current = await services_tags(services, fid)
    assert "300pt到達" not in current and "300ポイント削除(プレゼント)" not in current

    # the next exchange works the same way: cross 300 again, exchange again
    await points.add(fid, 300, reason="購入", source="admin")
    assert await friend.texts(1) == ["300ポイント貯まりました。プレゼントと交換できます"]
    await tags.add(fid, "300ポイント削除(プレゼント)", source="admin")
    await friend.texts(1)
    assert await points.balance(fid) == 60
    history = await FriendTag.filter(friend_id=fid, tag__name="300pt到達").count()
    assert history == 2  # added twice, two periods


async def test_exchange_is_refused_without_enough_points(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    friend, fid = await joined(sandbox, "たりない次郎")
    await services.crm.points.add(fid, 100, source="admin")
    await services.crm.tags.add(fid, "300ポイント削除(プレゼント)", source="admin")
    # the removal is refused (no negative balance), so nothing else in the rule happens:
    # no "exchanged" message, and the admin still sees the request tag
    await friend.nothing_more()
    assert await services.crm.points.balance(fid) == 100
    assert "300ポイント削除(プレゼント)" in await services_tags(services, fid)


async def test_3000_points_start_the_introduction_steps(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    friend, fid = await joined(sandbox, "大口さん")
    await services.crm.points.add(fid, 3000, source="integration")
    texts = await friend.texts(2)
    assert "300ポイント貯まりました。プレゼントと交換できます" in texts
    assert "3000ポイント達成おめでとうございます!交換できる特典をご紹介します。" in texts
    assert "3000pt" in await services_tags(services, fid)


async def test_admin_points_and_bulk_tag_by_points(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    ids = []
    for name, amount in [("A", 1200), ("B", 999), ("C", 1000)]:
        _, fid = await joined(sandbox, name)
        await services.crm.points.add(fid, amount, reason="移行", source="admin", actor="owner")
        ids.append(fid)
    await services.crm.points.remove(ids[0], 200, reason="手動調整", source="admin", actor="owner")
    assert await services.crm.points.balance(ids[0]) == 1000
    crm = services.crm
    rich = await crm.segments.friend_ids({"points": {"gte": 1000}})
    assert sorted(rich) == sorted([ids[0], ids[2]])
    added = await crm.tags.bulk_add(
        crm.segments, {"points": {"gte": 1000}}, "VIP", source="admin", actor="owner"
    )
    assert added == sorted([ids[0], ids[2]])
    again = await crm.tags.bulk_add(crm.segments, {"points": {"gte": 1000}}, "VIP", source="admin")
    assert again == []  # nobody gets the tag twice
    vip = await crm.segments.friend_ids({"tag": "VIP"})
    assert sorted(vip) == sorted([ids[0], ids[2]])
    rows = await FriendTag.filter(tag__name="VIP").values_list("source", "actor")
    assert sorted(rows) == [("admin", "owner"), ("admin", "owner")]


async def test_birthday_month_tag_and_coupon_on_the_first(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-03-31T23:00:00+09:00")
    april, aid = await joined(sandbox, "四月生まれ")
    may, mid = await joined(sandbox, "五月生まれ")
    await services.crm.fields.set(aid, "誕生日", date(1990, 4, 15), source="form")
    await services.crm.fields.set(mid, "誕生日", "1985-05-02", source="form")
    await sandbox.post("/_test/clock", {"advance": "30m"})  # the rules look from now on
    await sandbox.post("/_test/clock", {"advance": "45m"})  # 2027-04-01 00:15 JST
    (coupon,) = await april.texts(1)
    assert "BDAY-202704" in coupon
    assert "4月" in await services_tags(services, aid)
    await may.nothing_more()
    assert "4月" not in await services_tags(services, mid)


async def test_points_expiry_is_told_once_seven_days_before_at_ten(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    points = services.crm.points
    start_at("2027-01-20T15:00:00+09:00")
    saver, saver_id = await joined(sandbox, "ためる花子")
    spender, spender_id = await joined(sandbox, "使い切る次郎")
    late, late_id = await joined(sandbox, "あとの三郎")
    await points.add(saver_id, 100, reason="購入", source="admin")  # expires 2028-01-20 15:00
    await points.add(spender_id, 80, reason="購入", source="admin")
    start_at("2027-01-20T18:00:00+09:00")
    await points.add(saver_id, 20, reason="購入", source="admin")  # the same expiry day
    start_at("2027-01-21T09:00:00+09:00")
    await points.add(late_id, 50, reason="購入", source="admin")  # expires 2028-01-21 09:00
    await points.remove(spender_id, 80, reason="交換", source="admin")  # nothing left to expire

    await sandbox.set_time("2028-01-12T10:00:00+09:00")  # 8 days before
    await sandbox.set_time("2028-01-13T09:59:00+09:00")  # 7 days before, not 10:00 yet
    for friend in (saver, spender, late):
        await friend.nothing_more()

    await sandbox.set_time("2028-01-13T10:00:00+09:00")
    assert await saver.texts(1) == [
        "ためる花子さんの120ポイントが2028年1月20日に有効期限を迎えます。"
        "お早めにご利用ください。(現在の残高: 120ポイント)"
    ]
    await saver.nothing_more()  # both earnings in one notice
    await sandbox.advance("1h")
    await saver.nothing_more()  # told once
    await spender.nothing_more()
    await late.nothing_more()

    # down from 01-13 11:00 to 01-15 12:00: the notice due on 01-14 10:00 goes out late
    start_at("2028-01-15T12:00:00+09:00")
    await sandbox.advance("1m")
    assert await late.texts(1) == [
        "あとの三郎さんの50ポイントが2028年1月21日に有効期限を迎えます。"
        "お早めにご利用ください。(現在の残高: 50ポイント)"
    ]
    await sandbox.set_time("2028-01-19T10:00:00+09:00")
    await sandbox.set_time("2028-01-21T10:00:00+09:00")  # everything has expired by now
    for friend in (saver, spender, late):
        await friend.nothing_more()
    assert await points.balance(saver_id) == 0
    notices = await OutboxMessage.filter(source="points-expiry").count()
    assert notices == 2


async def test_blocked_friends_are_not_told_and_not_told_late_after_unblocking(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-03-10T12:00:00+09:00")
    friend, fid = await joined(sandbox, "ブロック中")
    await services.crm.points.add(fid, 40, reason="購入", source="admin")  # expires 2028-03-09
    await friend.block()
    await sandbox.settle()
    await sandbox.set_time("2028-03-02T10:00:00+09:00")
    await friend.follow()  # unblocks: the welcome again, never the missed notice
    assert len(await friend.texts(1)) == 1
    await sandbox.advance("1d")
    await friend.nothing_more()
    assert not await OutboxMessage.filter(source="points-expiry").exists()
    entry = await PointEntry.get(friend_id=fid, kind="earn")
    assert entry.expiry_notified_at is not None


async def test_monthly_balance_goes_to_friends_with_points_on_the_first_at_ten(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-05-31T12:00:00+09:00")
    rich, rich_id = await joined(sandbox, "ためる花子")
    empty, _ = await joined(sandbox, "ゼロの太郎")
    await services.crm.points.add(rich_id, 250, reason="購入", source="admin")
    await sandbox.advance("1m")  # the broadcast's schedule counts from its first look
    await sandbox.set_time("2027-06-01T09:59:00+09:00")
    await rich.nothing_more()
    await sandbox.set_time("2027-06-01T10:00:00+09:00")
    assert await rich.texts(1) == [
        "ためる花子さんの現在のポイント残高は250ポイントです。"
        "今月もこはるポイントクラブをよろしくお願いします。"
    ]
    await empty.nothing_more()
    await sandbox.advance("1h")
    await rich.nothing_more()  # once a month


async def services_tags(services: Services, fid: int) -> list[str]:
    from bot.crm.tags import current_tags

    return await current_tags(fid)
