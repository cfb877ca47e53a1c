"""examples/shop-coupons.yaml end to end: the coupon for each product a day after purchase,
never twice, nothing for friends who blocked, and the other day-after messages."""

from __future__ import annotations

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
    sandbox, services = scenario_app
    await sandbox.advance("1m")
    visitor, vid = await joined(sandbox, "来店さん")
    await services.crm.tags.add(vid, "初回来店", source="inflow_route")
    await services.crm.tags.add(vid, "イベント参加", source="inflow_route")
    await sandbox.advance("1d")
    (survey,) = await visitor.texts(1)
    assert "アンケート" in survey
    await sandbox.advance("12d")
    await visitor.nothing_more()
    await sandbox.advance("1d")
    assert await visitor.texts(1) == [
        "イベントへのご参加ありがとうございました。再来店クーポン: COMEBACK-500"
    ]
