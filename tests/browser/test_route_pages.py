"""Inflow route links in a real headless Chromium: `/r/NAME` opened with a sandbox ID token
in the fragment (as LINE's LIFF would vouch for the visitor) ends where it should, with the
friend tagged. Requests leaving the server are blocked, except a stand-in shop's thanks page."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.async_api import Route, expect

from bot.crm.tags import has_tag
from bot.db.models import RouteArrival
from bot.services import Services
from tests.browser.conftest import ScenarioTab
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


async def test_a_friend_is_tagged_and_told_they_are_a_friend_already(
    scenario_tab: ScenarioTab,
) -> None:
    friend, friend_id = await joined(scenario_tab.sandbox, "花子")

    await scenario_tab.open("/r/instagram", await scenario_tab.sandbox.id_token(friend.user_id))

    await expect(scenario_tab.page.get_by_test_id("done")).to_contain_text("友だち追加済みです")
    address = urlsplit(scenario_tab.page.url)
    assert address.path == "/liff/go/instagram"
    assert address.fragment == ""  # the token is taken out of the address
    assert await has_tag(friend_id, "Instagram流入")
    scenario_tab.only_local()
    assert scenario_tab.errors == []


async def test_the_payment_thanks_page_trick_lands_on_the_shops_page(
    scenario_tab: ScenarioTab,
) -> None:
    async def shop(route: Route) -> None:
        await route.fulfill(
            status=200,
            content_type="text/html; charset=utf-8",
            body="<!doctype html><title>完了</title><h1>ご購入ありがとうございました</h1>",
        )

    await scenario_tab.page.route(f"{THANKS}*", shop)
    payer, payer_id = await joined(scenario_tab.sandbox, "購入者")

    await scenario_tab.open("/r/thanks", await scenario_tab.sandbox.id_token(payer.user_id))

    await expect(scenario_tab.page).to_have_url(THANKS)
    await expect(scenario_tab.page.get_by_role("heading")).to_have_text(
        "ご購入ありがとうございました"
    )
    assert await has_tag(payer_id, "決済完了者")
    assert scenario_tab.errors == []


async def test_a_visitor_not_yet_a_friend_goes_to_add_the_friend_then_arrives(
    scenario_tab: ScenarioTab,
) -> None:
    newcomer = await scenario_tab.sandbox.friend("新人さん")

    await scenario_tab.open("/r/instagram", await scenario_tab.sandbox.id_token(newcomer.user_id))

    # The sandbox's friend-add page is the chat simulator.
    await expect(scenario_tab.page).to_have_url(re.compile(r"/sandbox$"))
    assert await RouteArrival.all().count() == 0
    await newcomer.follow()
    await newcomer.received(1)
    friend_id = await friend_id_of(newcomer)
    assert await has_tag(friend_id, "Instagram流入")
    arrival = await RouteArrival.get(route="instagram", friend_id=friend_id)
    assert arrival.new_friend
    scenario_tab.only_local()


async def test_without_a_token_the_page_says_to_open_it_from_line(
    scenario_tab: ScenarioTab,
) -> None:
    await scenario_tab.open("/r/instagram", None)
    await expect(scenario_tab.page.get_by_test_id("notice")).to_have_text(
        "LINEの認証情報がありません。LINEアプリからもう一度開いてください。"
    )
    assert await RouteArrival.all().count() == 0


async def test_an_unknown_route_says_so_in_japanese(scenario_tab: ScenarioTab) -> None:
    await scenario_tab.open("/r/nothing", None)
    await expect(scenario_tab.page.get_by_role("heading")).to_have_text("ページが見つかりません")
    await expect(scenario_tab.page.get_by_test_id("notice")).to_contain_text(
        "このリンクは見つかりません"
    )
