"""The LIFF pay page in a real headless Chromium, opened as the simulator opens it (with a
sandbox ID token in the fragment). In sandbox mode it shows the friend's checkout link and
completes a test payment through the sandbox's Stripe helper; it never leaves the server."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from playwright.async_api import expect

from bot.crm.tags import current_tags
from bot.services import Services
from tests.browser.conftest import ScenarioTab
from tests.dsl import SandboxDriver, joined

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ"]
tags: [決済完了者, 月額プラン]
integrations:
  stripe:
    checkout:
      入会: "https://buy.stripe.com/test_join?prefilled_email=a%40example.com"
    paid:
      - add_tag: 決済完了者
      - send: ["ご入会ありがとうございます!"]
    products:
      - {price: price_monthly, tag: 月額プラン}
"""

App = tuple[SandboxDriver, Services]


async def test_the_pay_page_shows_the_friends_link_and_completes_a_test_payment(
    scenario_app: App, scenario_tab: ScenarioTab
) -> None:
    sandbox, services = scenario_app
    page = scenario_tab.page
    friend, friend_id = await joined(sandbox, "花子")
    token = await sandbox.id_token(friend.user_id)
    await page.goto(f"{sandbox.base_url}/liff/pay/{quote('入会')}#sandbox_id_token={token}")

    await expect(page.get_by_role("heading", name="お支払い")).to_be_visible()
    link = page.get_by_test_id("checkout-link")
    await expect(link).to_be_visible()
    href = await link.get_attribute("href")
    assert href is not None
    parts = urlsplit(href)
    assert (parts.netloc, parts.path) == ("buy.stripe.com", "/test_join")
    query = parse_qs(parts.query)
    assert query["prefilled_email"] == ["a@example.com"]
    assert services.refs.parse(query["client_reference_id"][0]) == friend_id

    await page.get_by_role("button", name="テスト決済を完了する").click()
    await expect(page.get_by_test_id("notice")).to_have_text(
        "テスト決済が完了しました。LINEのトーク画面に戻ってください。"
    )
    assert await friend.texts(1) == ["ご入会ありがとうございます!"]
    assert await current_tags(friend_id) == ["決済完了者", "月額プラン"]
    assert all(url.startswith(sandbox.base_url) for url in scenario_tab.requests), (
        scenario_tab.requests
    )
    assert scenario_tab.errors == []


async def test_without_a_token_or_for_an_unknown_link_the_page_says_why(
    scenario_app: App, scenario_tab: ScenarioTab
) -> None:
    sandbox, _ = scenario_app
    page = scenario_tab.page
    await page.goto(f"{sandbox.base_url}/liff/pay/{quote('入会')}")
    await expect(page.get_by_test_id("notice")).to_have_text(
        "LINEの認証情報がありません。LINEアプリからもう一度開いてください。"
    )
    await expect(page.get_by_test_id("sandbox")).to_be_hidden()

    await page.goto(f"{sandbox.base_url}/liff/pay/{quote('年額')}")
    await expect(page.get_by_test_id("notice")).to_have_text(
        "お支払いページが見つかりません。LINEのメニューやメッセージから開き直してください。"
    )
    assert scenario_tab.errors == []
