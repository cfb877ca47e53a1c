"""examples/cooking-school.yaml end to end: lessons on each member's own timeline, a watched
button that counts once, withdrawal stopping the course, and broadcasts that reach exactly
members or non-members."""

from __future__ import annotations

from bot.automation.analytics import broadcast_stats, tap_stats
from bot.db.models import FriendTag
from bot.services import Services
from tests.dsl import SandboxDriver, button_data, joined, start_at

SCENARIO = "cooking-school.yaml"


def titles(messages: list[dict]) -> list[str]:
    return [m.get("altText") or m.get("text", "") for m in messages]


async def test_two_members_a_week_apart_each_get_lesson_2_on_their_own_day(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    tags = services.crm.tags
    start_at("2027-06-01T15:00:00+09:00")  # a Tuesday
    early, early_id = await joined(sandbox, "早い会員")
    late, late_id = await joined(sandbox, "遅い会員")
    await tags.add(early_id, "決済完了者", source="integration")
    (lesson1,) = await early.received(1)
    assert lesson1["altText"] == "レッスン1: だしの基本"

    # the watched button counts once however often it is tapped
    data, shown = button_data(lesson1, "視聴しました")
    await early.tap(data, shown)
    assert await early.texts(2) == [
        "視聴を記録しました。",
        "スタンプが1個になりました!(5個でプレゼント)",
    ]
    for _ in range(2):
        await early.tap(data, shown)
        assert await early.texts(1) == ["この動画は視聴済みとして記録されています。"]
    assert await services.stamps.count(early_id, "受講スタンプ") == 1
    await sandbox.settle()  # a tap is counted after its reply went out
    taps = {t.button: t for t in await tap_stats(services.scenario)}
    watched = taps["steps.レッスンコース.steps[0].messages[0].template.actions[1]"]
    assert (watched.label, watched.taps, watched.friends) == ("視聴しました", 3, 1)
    assert taps["steps.レッスンコース.steps[1].messages[0].template.actions[1]"].taps == 0

    await sandbox.advance("6d19h")  # 2027-06-08 10:00: the early member's lesson 2
    assert titles(await early.received(1)) == ["レッスン2: 包丁の基本"]
    await sandbox.advance("5h")  # 06-08 15:00: the late member pays
    await tags.add(late_id, "決済完了者", source="integration")
    assert titles(await late.received(1)) == ["レッスン1: だしの基本"]
    await sandbox.advance("6d19h")  # 06-15 10:00: each member's next lesson
    assert titles(await early.received(1)) == ["レッスン3: 季節の献立"]
    assert titles(await late.received(1)) == ["レッスン2: 包丁の基本"]


async def test_lesson_2_lands_at_ten_on_the_members_day_and_withdrawal_stops_the_course(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    tags = services.crm.tags
    start_at("2027-06-01T08:30:00+09:00")
    first, first_id = await joined(sandbox, "一週目")
    second, second_id = await joined(sandbox, "二週目")
    await tags.add(first_id, "決済完了者", source="integration")
    assert titles(await first.received(1)) == ["レッスン1: だしの基本"]
    await sandbox.advance("7d")  # 06-08 08:30
    await tags.add(second_id, "決済完了者", source="integration")
    assert titles(await second.received(1)) == ["レッスン1: だしの基本"]
    await first.nothing_more()
    await sandbox.advance("1h29m")  # 06-08 09:59
    await first.nothing_more()
    await sandbox.advance("2m")  # 06-08 10:01: lesson 2 for the first member only
    assert titles(await first.received(1)) == ["レッスン2: 包丁の基本"]
    await second.nothing_more()

    await tags.add(second_id, "退会者", source="integration")  # withdraws
    await sandbox.advance("7d")  # 06-15 10:01
    assert titles(await first.received(1)) == ["レッスン3: 季節の献立"]
    await second.nothing_more()
    await sandbox.advance("14d")
    await second.nothing_more()


async def test_broadcasts_reach_exactly_members_or_non_members(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    tags = services.crm.tags
    start_at("2027-08-31T12:00:00+09:00")
    member, member_id = await joined(sandbox, "会員さん")
    guest, _ = await joined(sandbox, "見込みさん")
    gone, gone_id = await joined(sandbox, "退会さん")
    blocked, _ = await joined(sandbox, "ブロックさん")
    for fid in (member_id, gone_id):
        await tags.add(fid, "決済完了者", source="integration")
    await tags.add(gone_id, "退会者", source="integration")
    await member.received(1)
    await gone.received(1)
    await blocked.block()
    await sandbox.advance("1d")  # 2027-09-01 12:00
    assert await member.texts(1) == ["会員限定のライブ料理教室を開催します。"]
    assert await guest.texts(1) == ["今月ご入会の方は初月半額!見込みさんさんもぜひ。"]
    await gone.nothing_more()
    await blocked.nothing_more()
    await sandbox.advance("1d")  # once only
    await member.nothing_more()
    await guest.nothing_more()
    live = await broadcast_stats("会員限定ライブ")
    assert (live.occurrences, live.recipients, live.delivered, live.failed) == (1, 1, 1, 0)
    sale = await broadcast_stats("入会キャンペーン")
    assert (sale.recipients, sale.delivered) == (1, 1)


async def shown_menu(sandbox: SandboxDriver, services: Services, user_id: str) -> str | None:
    """The key of the rich menu the friend sees in LINE (the sandbox's view)."""
    await sandbox.settle()
    shown = await sandbox.get(f"/sandbox/api/friends/{user_id}/richmenu")
    if shown is None:
        return None
    keys = [k for k, v in services.menus.catalog.items() if v == shown["richMenuId"]]
    assert len(keys) == 1, f"menu {shown['richMenuId']} is not one of the scenario's"
    return keys[0]


async def test_menus_follow_membership_and_five_stamps_bring_one_present(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    await services.menus.ready.wait()
    assert sorted(services.menus.catalog) == [
        "一般メニュー",
        *(f"会員メニュー@{n}" for n in range(6)),
    ]
    start_at("2027-06-01T09:00:00+09:00")
    member, member_id = await joined(sandbox, "皆勤さん")
    guest, _ = await joined(sandbox, "見学さん")
    assert await shown_menu(sandbox, services, member.user_id) == "一般メニュー"

    await services.crm.tags.add(member_id, "決済完了者", source="stripe")
    (lesson,) = await member.received(1)
    assert await shown_menu(sandbox, services, member.user_id) == "会員メニュー@0"
    assert await shown_menu(sandbox, services, guest.user_id) == "一般メニュー"

    for number in range(1, 6):
        data, shown = button_data(lesson, "視聴しました")
        await member.tap(data, shown)
        replies = await member.texts(3 if number == 5 else 2)
        assert replies[:2] == [
            "視聴を記録しました。",
            f"スタンプが{number}個になりました!(5個でプレゼント)",
        ]
        if number == 5:
            assert replies[2].startswith("スタンプが5個たまりました!プレゼントのクーポンです")
        await member.tap(data, shown)  # a second tap counts nothing
        assert await member.texts(1) == ["この動画は視聴済みとして記録されています。"]
        assert await shown_menu(sandbox, services, member.user_id) == f"会員メニュー@{number}"
        if number < 5:
            await sandbox.advance("7d2h")
            (lesson,) = await member.received(1)
    await member.nothing_more()
    assert await FriendTag.filter(friend_id=member_id, tag__name="スタンプ達成").count() == 1

    await services.crm.tags.add(member_id, "退会者", source="stripe")
    assert await shown_menu(sandbox, services, member.user_id) == "一般メニュー"
    history = await services.lessons.history(member_id, "料理")
    assert [(r.lesson, r.watched_at is not None) for r in history] == [
        (str(n), True) for n in range(1, 6)
    ]
