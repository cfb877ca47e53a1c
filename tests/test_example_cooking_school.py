"""examples/cooking-school.yaml end to end: lessons on each member's own timeline, a watched
button that counts once, withdrawal stopping the course, and broadcasts that reach exactly
members or non-members. The Stripe test pays and withdraws through Stripe's own events, signed
as Stripe signs them; the others give the paid tag directly."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.automation.analytics import broadcast_stats, tap_stats
from bot.config import SANDBOX_STRIPE_SECRET
from bot.crm.tags import current_tags
from bot.db.models import FriendTag
from bot.integrations.stripe import WEBHOOK_PATH
from bot.sandbox.payments import signed, stripe_event
from bot.services import Services
from liff.pay import pay_url
from tests.dsl import FriendDriver, SandboxDriver, button_data, joined, start_at

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


MONTHLY = "price_cooking_monthly"


async def stripe_sends(sandbox: SandboxDriver, event: dict[str, Any]) -> str:
    """Stripe posts an event to the bot, signed with the endpoint's secret."""
    body, signature = signed(event, SANDBOX_STRIPE_SECRET)
    async with sandbox.session.post(
        sandbox.base_url + WEBHOOK_PATH,
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["status"])


async def pays(sandbox: SandboxDriver, services: Services, friend: FriendDriver) -> None:
    """The friend taps 入会する in the menu, the pay page sends them to the Payment Link with
    their reference, and they pay: Stripe sends the subscription's first invoice and the
    completed checkout (often in that order)."""
    menu = await sandbox.get(f"/sandbox/api/friends/{friend.user_id}/richmenu")
    assert services.settings.liff_id is not None
    join = pay_url(services.settings.liff_id, "入会")
    assert join in [area["action"].get("uri") for area in menu["areas"]]
    token = await sandbox.id_token(friend.user_id)
    async with sandbox.session.get(
        f"{sandbox.base_url}/liff/api/pay/入会", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        link = urlsplit((await resp.json())["url"])
    assert link.netloc == "buy.stripe.com"
    (reference,) = parse_qs(link.query)["client_reference_id"]
    friend_id = services.refs.parse(reference)
    assert friend_id is not None
    invoice = stripe_event(
        "invoice.paid", friend_id=friend_id, price=MONTHLY, billing_reason="subscription_create"
    )
    assert await stripe_sends(sandbox, invoice) == "unmatched"  # waits for the checkout
    checkout = stripe_event(
        "checkout.session.completed", friend_id=friend_id, reference=reference, price=MONTHLY
    )
    assert await stripe_sends(sandbox, checkout) == "done"


async def test_paying_and_withdrawing_through_stripe(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    await services.menus.ready.wait()
    start_at("2027-06-01T08:30:00+09:00")
    first, first_id = await joined(sandbox, "一週目")
    second, second_id = await joined(sandbox, "二週目")
    await pays(sandbox, services, first)
    assert titles(await first.received(1)) == ["レッスン1: だしの基本"]
    assert set(await current_tags(first_id)) >= {"決済完了者", "月額プラン", "レッスン1配信済"}
    assert await shown_menu(sandbox, services, first.user_id) == "会員メニュー@0"

    await sandbox.advance("7d")  # 06-08 08:30: the second friend pays a week later
    await pays(sandbox, services, second)
    assert titles(await second.received(1)) == ["レッスン1: だしの基本"]
    await first.nothing_more()
    await sandbox.advance("1h29m")  # 06-08 09:59
    await first.nothing_more()
    await sandbox.advance("2m")  # 06-08 10:01: lesson 2 for the first member only
    assert titles(await first.received(1)) == ["レッスン2: 包丁の基本"]
    await second.nothing_more()
    await sandbox.advance("7d")  # 06-15 10:01: each member's next lesson
    assert titles(await first.received(1)) == ["レッスン3: 季節の献立"]
    assert titles(await second.received(1)) == ["レッスン2: 包丁の基本"]

    # a renewal of the first member fails: they are asked to check their card
    failed = stripe_event("invoice.payment_failed", friend_id=first_id, price=MONTHLY, amount=2980)
    assert await stripe_sends(sandbox, failed) == "done"
    assert await first.texts(1) == [
        "一週目さん、今月の会費(2980円)のお支払いを確認できませんでした。"
        "お手数ですが、カード情報をご確認ください。"
    ]
    assert "支払い確認中" in await current_tags(first_id)

    # the second member cancels in Stripe: 退会者, no more lessons, the general menu again
    cancel = stripe_event("customer.subscription.deleted", friend_id=second_id, price=MONTHLY)
    assert await stripe_sends(sandbox, cancel) == "done"
    assert await stripe_sends(sandbox, cancel) == "duplicate"
    assert "退会者" in await current_tags(second_id)
    assert await shown_menu(sandbox, services, second.user_id) == "一般メニュー"
    assert await shown_menu(sandbox, services, first.user_id) == "会員メニュー@0"
    await sandbox.advance("7d")  # 06-22 10:01
    assert titles(await first.received(1)) == ["レッスン4: 魚のさばき方"]
    await second.nothing_more()
    await sandbox.advance("7d")
    assert titles(await first.received(1)) == ["レッスン5: おもてなし料理"]
    await second.nothing_more()
