"""The shop link page in a real headless Chromium, opened as the simulator opens LIFF pages
(the ID token in the URL fragment) with the customer and signature the shop's link carries.
Requests leaving the server are blocked and recorded: the page must work offline."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Browser, expect

from bot.db.models import ExternalCustomer
from bot.services import Services
from tests.browser.conftest import phone_page
from tests.dsl import SandboxDriver, joined

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ"]
integrations:
  shopify:
    points: {per: 100, points: 1}
"""

App = tuple[SandboxDriver, Services]
LINKED = "ショップのアカウントとLINEを連携しました。お買い物のポイントやご案内がLINEに届きます。"


async def test_a_customer_links_on_the_page_and_earlier_orders_are_credited(
    scenario_app: App, browser: Browser
) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    customer = 7012345678911
    await sandbox.post(
        "/sandbox/api/shopify/orders",
        {"customer_id": customer, "items": [{"sku": "A-001", "title": "商品A", "price": 2980}]},
        expect=200,
    )
    link = await sandbox.get(f"/sandbox/api/shopify/customers/{customer}/link")
    token = await sandbox.id_token(friend.user_id)

    async with phone_page(browser, sandbox.base_url) as phone:
        page = phone.page
        await page.goto(f"{sandbox.base_url}{link['path']}#sandbox_id_token={token}")
        await expect(
            page.get_by_role("heading", name="ショップのアカウントとLINEを連携")
        ).to_be_visible()
        assert urlsplit(page.url).fragment == ""  # the token is taken out of the address
        assert not await ExternalCustomer.exists(customer_id=str(customer))  # not before asked

        await page.get_by_role("button", name="連携する").click()
        done = page.get_by_test_id("done")
        await expect(done).to_be_visible()
        await expect(done).to_be_focused()
        await expect(done).to_contain_text(LINKED)
        await expect(page.get_by_test_id("confirm")).to_be_hidden()
        for url in phone.requests:
            assert url.startswith(sandbox.base_url + "/"), url
        assert phone.errors == []

    assert await friend.texts(2) == [
        LINKED,
        "ご購入ありがとうございます。29ポイントを付与しました(現在 29ポイント)",
    ]
    assert await services.crm.points.balance(friend_id) == 29


async def test_a_broken_link_and_a_customer_of_someone_else_are_explained(
    scenario_app: App, browser: Browser
) -> None:
    sandbox, _ = scenario_app
    owner, owner_id = await joined(sandbox, "花子")
    other, _ = await joined(sandbox, "太郎")
    customer = 7012345678912
    link = await sandbox.get(f"/sandbox/api/shopify/customers/{customer}/link")
    await owner.say(link["code"])
    assert await owner.texts(1) == [LINKED]

    async with phone_page(browser, sandbox.base_url) as phone:
        page = phone.page
        token = await sandbox.id_token(other.user_id)
        await page.goto(
            f"{sandbox.base_url}/liff/shop/link?customer={customer}#sandbox_id_token={token}"
        )
        notice = page.get_by_test_id("notice")
        await expect(notice).to_have_text(
            "連携用のリンクが正しくありません。ショップのマイページからもう一度開いてください。"
        )
        await expect(page.get_by_test_id("confirm")).to_be_hidden()

        token = await sandbox.id_token(other.user_id)
        await page.goto(f"{sandbox.base_url}{link['path']}#sandbox_id_token={token}")
        await page.get_by_role("button", name="連携する").click()
        await expect(notice).to_contain_text("すでに別のLINEアカウントと連携されています")
        await expect(page.get_by_test_id("done")).to_be_hidden()
        assert phone.errors == []
    assert (await ExternalCustomer.get(customer_id=str(customer))).friend_id == owner_id
    await other.nothing_more()
