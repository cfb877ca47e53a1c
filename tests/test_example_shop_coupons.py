"""examples/shop-coupons.yaml end to end: the coupon for each product a day after purchase,
never twice, nothing for friends who blocked, and the other day-after messages; purchases
both as labels added directly and as Shopify orders (signed webhooks from the sandbox)."""

from __future__ import annotations

from typing import Any

from bot.crm.tags import current_tags
from bot.services import Services
from tests.dsl import SandboxDriver, joined, start_at

SCENARIO = "shop-coupons.yaml"
COUPON_A = "商品Aをお買い上げいただきありがとうございました。次回使える10%OFFクーポン: A-COUPON-10"
COUPON_B = "商品Bをお買い上げいただきありがとうございました。送料無料クーポン: B-FREESHIP"
REVIEW = (
    "ご購入ありがとうございました。よろしければレビューをお願いします: https://example.com/review"
)


async def test_coupons_a_day_after_each_purchase_once_and_never_to_blocked_friends(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    tags = services.crm.tags
    start_at("2027-06-01T23:40:00+09:00")
    await sandbox.advance("1m")  # the rules start watching from here
    late, late_id = await joined(sandbox, "23時50分")
    both, both_id = await joined(sandbox, "両方")
    gone, gone_id = await joined(sandbox, "ブロック")

    await sandbox.advance("9m")  # 23:50
    await tags.add(late_id, "商品A購入", source="integration")
    await tags.add(both_id, "商品A購入", source="integration")
    await tags.add(gone_id, "商品B購入", source="integration")
    await sandbox.advance("20m")  # 00:10 the next day
    await tags.add(both_id, "商品B購入", source="integration")
    await gone.block()
    await sandbox.settle()

    await sandbox.advance("23h39m")  # 23:49: not a day yet
    await late.nothing_more()
    await sandbox.advance("2m")  # 23:51: a day after 23:50
    assert await late.texts(2) == [COUPON_A, REVIEW]
    assert sorted(await both.texts(2)) == sorted([COUPON_A, REVIEW])
    await sandbox.advance("20m")  # 00:11: a day after 00:10
    assert await both.texts(1) == [COUPON_B]

    await sandbox.advance("1d")  # the daily 10:00 check passes again: nobody gets a second one
    await sandbox.advance("1d")
    await late.nothing_more()
    await both.nothing_more()
    blocked_outs = [e for e in await gone.transcript() if e["direction"] == "out"]
    assert len(blocked_outs) == 1  # only the welcome, before blocking


async def test_visit_survey_and_revisit_coupon(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    await sandbox.advance("1m")
    visitor, vid = await joined(sandbox, "来店さん")
    # the friend scans the QR codes at the store and at the event (inflow routes)
    await sandbox.visit_route("store", visitor.user_id)
    await sandbox.visit_route("event", visitor.user_id)
    assert {"初回来店", "イベント参加"} <= set(await current_tags(vid))
    await sandbox.advance("1d")
    (survey,) = await visitor.texts(1)
    assert "アンケート" in survey
    await sandbox.advance("12d")
    await visitor.nothing_more()
    await sandbox.advance("1d")
    assert await visitor.texts(1) == [
        "イベントへのご参加ありがとうございました。再来店クーポン: COMEBACK-500"
    ]


# --- driven by Shopify orders -------------------------------------------------------------

ORDERS = "/sandbox/api/shopify/orders"
PRODUCT_A = {"sku": "A-001", "product_id": 111, "title": "商品A", "price": 3000}
PRODUCT_B = {"sku": "B-001", "product_id": 222, "title": "商品B", "price": 2000}


def points_notice(earned: int, balance: int) -> str:
    return f"ご購入ありがとうございます。{earned}ポイントを付与しました(現在 {balance}ポイント)"


async def shop_order(sandbox: SandboxDriver, friend_id: int, *items: dict[str, object],
                     webhook_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A paid order from the shop, signed and posted as Shopify does (sandbox helper)."""
    body: dict[str, Any] = {"friend_id": friend_id, "items": list(items)}
    if webhook_id is not None:
        body["webhook_id"] = webhook_id
    sent: dict[str, Any] = await sandbox.post(ORDERS, body, expect=200)
    assert sent["status"] == 200, sent
    return sent


async def test_shopify_orders_at_2350_and_0010_get_their_coupons_a_day_later_once(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-06-01T23:40:00+09:00")
    await sandbox.advance("1m")  # the rules start watching from here
    late, late_id = await joined(sandbox, "23時50分")
    both, both_id = await joined(sandbox, "両方")
    gone, gone_id = await joined(sandbox, "ブロック")
    night, night_id = await joined(sandbox, "0時10分")

    await sandbox.set_time("2027-06-01T23:50:00+09:00")
    first = await shop_order(sandbox, late_id, PRODUCT_A)
    await shop_order(sandbox, both_id, PRODUCT_A)
    await shop_order(sandbox, gone_id, PRODUCT_B)
    assert await late.texts(1) == [points_notice(30, 30)]
    assert await both.texts(1) == [points_notice(30, 30)]
    assert await gone.texts(1) == [points_notice(20, 20)]

    await sandbox.set_time("2027-06-02T00:05:00+09:00")
    await gone.block()
    await sandbox.settle()

    await sandbox.set_time("2027-06-02T00:10:00+09:00")
    second = await shop_order(sandbox, both_id, PRODUCT_B)
    await shop_order(sandbox, night_id, PRODUCT_B)
    await shop_order(sandbox, gone_id, PRODUCT_A)  # bought on the web after blocking
    replay = await shop_order(sandbox, both_id, PRODUCT_B, webhook_id=second["webhook_id"])
    assert replay["result"] == "duplicate"
    assert await both.texts(1) == [points_notice(20, 50)]
    assert await night.texts(1) == [points_notice(20, 20)]
    # The blocked friend did buy: labels and points are kept, but nothing is sent.
    assert await services.crm.points.balance(gone_id) == 50
    assert set(await current_tags(gone_id)) == {"商品A購入", "商品B購入"}

    await sandbox.set_time("2027-06-02T23:49:00+09:00")  # not a day yet
    await late.nothing_more()
    await both.nothing_more()
    await sandbox.set_time("2027-06-02T23:51:00+09:00")  # a day after 23:50
    assert await late.texts(2) == [COUPON_A, REVIEW]
    assert sorted(await both.texts(2)) == sorted([COUPON_A, REVIEW])
    await night.nothing_more()
    await sandbox.set_time("2027-06-03T00:11:00+09:00")  # a day after 00:10
    assert await both.texts(1) == [COUPON_B]
    assert sorted(await night.texts(2)) == sorted([COUPON_B, REVIEW])

    # Shopify retrying the first order's webhook changes nothing; nor do later daily checks.
    again = await shop_order(sandbox, late_id, PRODUCT_A, webhook_id=first["webhook_id"])
    assert again["result"] == "duplicate"
    await sandbox.advance("1d")
    await sandbox.advance("1d")
    for friend in (late, both, night):
        await friend.nothing_more()
    blocked_outs = [e for e in await gone.transcript() if e["direction"] == "out"]
    assert len(blocked_outs) == 2  # the welcome and the first order's points, before blocking
    assert await services.crm.points.balance(late_id) == 30
