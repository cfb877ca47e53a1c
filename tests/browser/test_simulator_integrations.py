"""The simulator's integration buttons in a real headless Chromium: "決済をシミュレート" sends
a signed Stripe checkout for the selected friend and "注文をシミュレート" a signed Shopify
order, and the friend sees what a real payment or order brings."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from bot.crm.tags import current_tags
from bot.db.models import Friend
from bot.services import Services
from tests.browser.conftest import ScenarioTab
from tests.dsl import SandboxDriver

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ"]
tags: [決済完了者, 月額プラン, 商品A購入]
integrations:
  stripe:
    paid:
      - add_tag: 決済完了者
      - send: ["ご入会ありがとうございます!"]
    products:
      - {price: price_monthly, tag: 月額プラン}
  shopify:
    products:
      - {sku: A-001, tag: 商品A購入}
    points: {per: 100, points: 1}
"""

App = tuple[SandboxDriver, Services]


def bubble(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.locator('[data-testid="message-bubble"][data-direction="out"]').filter(
        has_text=text
    )


async def test_payment_and_order_buttons_act_for_the_selected_friend(
    scenario_app: App, scenario_tab: ScenarioTab
) -> None:
    sandbox, _ = scenario_app
    page = scenario_tab.page
    await page.goto(f"{sandbox.base_url}/sandbox")
    await expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    await page.get_by_test_id("new-friend-name").fill("連携 花子")
    await page.get_by_test_id("new-friend-button").click()

    # Not a friend yet: the buttons are there but off.
    payment = page.get_by_test_id("simulate-payment")
    order = page.get_by_test_id("simulate-order")
    await expect(payment).to_be_visible()
    await expect(payment).to_be_disabled()
    await expect(order).to_be_disabled()

    await page.get_by_test_id("follow-button").click()
    await expect(bubble(page, "ようこそ")).to_be_visible()
    friend = await Friend.get(display_name="連携 花子")

    await payment.click()
    await expect(page.get_by_test_id("notice")).to_contain_text("決済のテストイベント")
    await expect(bubble(page, "ご入会ありがとうございます!")).to_be_visible()
    assert await current_tags(friend.id) == ["決済完了者", "月額プラン"]

    await order.click()
    await expect(page.get_by_test_id("notice")).to_contain_text("注文のテストイベント")
    await expect(bubble(page, "30ポイント")).to_be_visible()
    assert "商品A購入" in await current_tags(friend.id)
    assert (await Friend.get(id=friend.id)).points == 30
    assert scenario_tab.errors == []


@pytest.mark.parametrize("scenario_app", ["version: 1\nwelcome: [ようこそ]\n"], indirect=True)
async def test_without_integrations_in_the_scenario_the_buttons_still_send_test_events(
    scenario_app: App, scenario_tab: ScenarioTab
) -> None:
    sandbox, _ = scenario_app
    page = scenario_tab.page
    await page.goto(f"{sandbox.base_url}/sandbox")
    await page.get_by_test_id("new-friend-name").fill("連携 次郎")
    await page.get_by_test_id("new-friend-button").click()
    await page.get_by_test_id("follow-button").click()
    await expect(bubble(page, "ようこそ")).to_be_visible()
    await page.get_by_test_id("simulate-payment").click()
    # The bot accepts the signed event; with nothing to do for it, nothing is sent.
    await expect(page.get_by_test_id("notice")).to_contain_text("決済のテストイベント")
    assert scenario_tab.errors == []
