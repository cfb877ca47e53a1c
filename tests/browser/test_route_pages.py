"""Inflow route links in a real headless Chromium: `/r/NAME` opened with a sandbox ID token
in the fragment (as LINE's LIFF would vouch for the visitor) ends where it should, with the
friend tagged. Requests leaving the server are blocked, except a stand-in shop's thanks page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route, expect

from bot.crm.tags import has_tag
from bot.db.models import RouteArrival
from bot.services import Services
from tests.browser.conftest import phone_page
from tests.dsl import SandboxDriver, friend_id_of, joined

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ!"]
tags: [Instagram流入, 決済完了者]
routes:
  instagram:
    title: Instagramプロフィール
    do: [{add_tag: Instagram流入}]
  thanks:
    title: 決済完了ページ
    to: "https://shop.example.com/thanks"
    do: [{add_tag: 決済完了者}]
"""

THANKS = "https://shop.example.com/thanks"
App = tuple[SandboxDriver, Services]


@dataclass
class Tab:
    page: Page
    sandbox: SandboxDriver
    requests: list[str]
    errors: list[str]

    async def open(self, path: str, token: str | None) -> None:
        fragment = f"#sandbox_id_token={token}" if token else ""
        await self.page.goto(f"{self.sandbox.base_url}{path}{fragment}")

    def only_local(self) -> None:
        origin = urlsplit(self.sandbox.base_url)
        for url in self.requests:
            parts = urlsplit(url)
            assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), url


@pytest.fixture
async def tab(scenario_app: App, browser: Browser) -> AsyncIterator[Tab]:
    sandbox, _ = scenario_app
    async with phone_page(browser, sandbox.base_url) as phone:
        yield Tab(phone.page, sandbox, phone.requests, phone.errors)


async def test_a_friend_is_tagged_and_told_they_are_a_friend_already(tab: Tab) -> None:
    friend, friend_id = await joined(tab.sandbox, "花子")

    await tab.open("/r/instagram", await tab.sandbox.id_token(friend.user_id))

    await expect(tab.page.get_by_test_id("done")).to_contain_text("友だち追加済みです")
    address = urlsplit(tab.page.url)
    assert address.path == "/liff/go/instagram"
    assert address.fragment == ""  # the token is taken out of the address
    assert await has_tag(friend_id, "Instagram流入")
    tab.only_local()
    assert tab.errors == []


async def test_the_payment_thanks_page_trick_lands_on_the_shops_page(tab: Tab) -> None:
    async def shop(route: Route) -> None:
        await route.fulfill(
            status=200,
            content_type="text/html; charset=utf-8",
            body="<!doctype html><title>完了</title><h1>ご購入ありがとうございました</h1>",
        )

    await tab.page.route(f"{THANKS}*", shop)
    payer, payer_id = await joined(tab.sandbox, "購入者")

    await tab.open("/r/thanks", await tab.sandbox.id_token(payer.user_id))

    await expect(tab.page).to_have_url(THANKS)
    await expect(tab.page.get_by_role("heading")).to_have_text("ご購入ありがとうございました")
    assert await has_tag(payer_id, "決済完了者")
    assert tab.errors == []


async def test_a_visitor_not_yet_a_friend_goes_to_add_the_friend_then_arrives(tab: Tab) -> None:
    newcomer = await tab.sandbox.friend("新人さん")

    await tab.open("/r/instagram", await tab.sandbox.id_token(newcomer.user_id))

    # The sandbox's friend-add page is the chat simulator.
    await expect(tab.page).to_have_url(re.compile(r"/sandbox$"))
    assert await RouteArrival.all().count() == 0
    await newcomer.follow()
    await newcomer.received(1)
    friend_id = await friend_id_of(newcomer)
    assert await has_tag(friend_id, "Instagram流入")
    arrival = await RouteArrival.get(route="instagram", friend_id=friend_id)
    assert arrival.new_friend
    tab.only_local()


async def test_without_a_token_the_page_says_to_open_it_from_line(tab: Tab) -> None:
    await tab.open("/r/instagram", None)
    await expect(tab.page.get_by_test_id("notice")).to_have_text(
        "LINEの認証情報がありません。LINEアプリからもう一度開いてください。"
    )
    assert await RouteArrival.all().count() == 0


async def test_an_unknown_route_says_so_in_japanese(tab: Tab) -> None:
    await tab.open("/r/nothing", None)
    await expect(tab.page.get_by_role("heading")).to_have_text("ページが見つかりません")
    await expect(tab.page.get_by_test_id("notice")).to_contain_text("このリンクは見つかりません")
