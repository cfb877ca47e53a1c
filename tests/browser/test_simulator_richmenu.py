"""The simulator's rich menu in a real headless Chromium: a stepbot in sandbox mode, two rich
menus made through line-bot-sdk's clients as a bot would make them, and a friend who taps.

The keyword on the message area comes from the bundled example scenario, so the test follows
the scenario when its wording changes.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    CreateRichMenuAliasRequest,
    RichMenuRequest,
)
from PIL import Image, ImageDraw
from playwright.async_api import Browser, Locator, Page, expect

from bot.scenario import load_scenario
from tests.browser.conftest import phone_page

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "examples" / "welcome.yaml"
FRIEND_NAME = "メニュー 花子"
WIDTH, HEIGHT = 2500, 843


def keyword_and_reply() -> tuple[str, str]:
    """A keyword of the example scenario and a line of its text answer that shows verbatim."""
    scenario = load_scenario(SCENARIO)
    for reply in scenario.auto_replies:
        words = reply.match.equals or reply.match.contains
        first = reply.messages[0]
        if not words or scenario.find_auto_reply(words[0]) is not reply or first.type != "text":
            continue
        for line in first.text.splitlines():
            line = line.strip()
            if line and "{{" not in line and "{%" not in line and "$" not in line:
                return words[0], line
    raise AssertionError(f"{SCENARIO.name} has no keyword answered with plain text")


def menu_image(color: str, title: str) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), color)
    draw = ImageDraw.Draw(image)
    draw.line([(WIDTH // 2, 0), (WIDTH // 2, HEIGHT)], fill="white", width=12)
    draw.text((60, 60), title, fill="white")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def half(x: int, action: dict[str, Any]) -> dict[str, Any]:
    return {"bounds": {"x": x, "y": 0, "width": WIDTH // 2, "height": HEIGHT}, "action": action}


@dataclass(frozen=True)
class Menus:
    first: str
    second: str
    keyword: str
    reply: str


async def make_menus(api: AsyncMessagingApi, blob: AsyncMessagingApiBlob) -> Menus:
    """Menu A: the keyword (message) and a tab to B; menu B: a tab back to A and a postback."""
    keyword, reply = keyword_and_reply()
    specs = {
        "tab-a": (
            "メニューA",
            "#1b5e20",
            [
                half(0, {"type": "message", "text": keyword}),
                half(
                    WIDTH // 2,
                    {
                        "type": "richmenuswitch",
                        "label": "タブB",
                        "richMenuAliasId": "tab-b",
                        "data": "tab=b",
                    },
                ),
            ],
        ),
        "tab-b": (
            "メニューB",
            "#0d47a1",
            [
                half(
                    0,
                    {
                        "type": "richmenuswitch",
                        "label": "タブA",
                        "richMenuAliasId": "tab-a",
                        "data": "tab=a",
                    },
                ),
                half(
                    WIDTH // 2,
                    {"type": "postback", "data": "coupon=1", "displayText": "クーポンを見る"},
                ),
            ],
        ),
    }
    ids = {}
    for alias_id, (bar_text, color, areas) in specs.items():
        body = {
            "size": {"width": WIDTH, "height": HEIGHT},
            "selected": alias_id == "tab-a",
            "name": bar_text,
            "chatBarText": bar_text,
            "areas": areas,
        }
        created = await api.create_rich_menu(RichMenuRequest.from_dict(body))
        ids[alias_id] = created.rich_menu_id
        image = menu_image(color, bar_text)
        await blob.set_rich_menu_image(
            created.rich_menu_id, body=image, _headers={"Content-Type": "image/png"}
        )
        alias = CreateRichMenuAliasRequest(
            richMenuAliasId=alias_id, richMenuId=created.rich_menu_id
        )
        await api.create_rich_menu_alias(alias)
    return Menus(ids["tab-a"], ids["tab-b"], keyword, reply)


# --- fixtures ------------------------------------------------------------------------------


@dataclass
class Tab:
    page: Page
    base_url: str
    errors: list[str]


@pytest.fixture
async def tab(live_server: str, browser: Browser) -> AsyncIterator[Tab]:
    """A phone-sized page; requests leaving the server's origin are blocked."""
    origin = live_server.rstrip("/")
    async with phone_page(browser, origin) as phone:
        yield Tab(phone.page, origin, phone.errors)


@pytest.fixture
async def line(live_server: str) -> AsyncIterator[tuple[AsyncMessagingApi, AsyncMessagingApiBlob]]:
    """line-bot-sdk's clients on the sandbox's Messaging API (one prefix for both hosts)."""
    config = Configuration(host=live_server.rstrip("/") + "/sandbox/line", access_token="any")
    async with AsyncApiClient(config) as client:
        yield AsyncMessagingApi(client), AsyncMessagingApiBlob(client)


def bubbles(page: Page, direction: str, text: str) -> Locator:
    """Chat entries of one direction (in, out, system) containing `text`."""
    return page.locator(f'[data-testid="message-bubble"][data-direction="{direction}"]').filter(
        has_text=text
    )


async def follow_new_friend(page: Page, base_url: str) -> str:
    """Open the simulator, create a friend and follow; returns the friend's userId."""
    await page.goto(f"{base_url}/sandbox")
    await expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    await page.get_by_test_id("new-friend-name").fill(FRIEND_NAME)
    await page.get_by_test_id("new-friend-button").click()
    await page.get_by_test_id("follow-button").click()
    await expect(bubbles(page, "out", FRIEND_NAME).first).to_be_visible()
    return await page.get_by_test_id("friend-select").input_value()


# --- tests ---------------------------------------------------------------------------------


async def test_rich_menu_taps_message_and_switch(
    tab: Tab, line: tuple[AsyncMessagingApi, AsyncMessagingApiBlob]
) -> None:
    api, blob = line
    page = tab.page
    menus = await make_menus(api, blob)
    user_id = await follow_new_friend(page, tab.base_url)
    menu = page.get_by_test_id("richmenu")
    toggle = page.get_by_test_id("richmenu-toggle")

    # The bot links menu A: the open page shows it (live), open because it is `selected`.
    await api.link_rich_menu_id_to_user(user_id, menus.first)
    await expect(menu).to_have_attribute("data-rich-menu-id", menus.first)
    await expect(toggle).to_have_text("メニューA")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    image = page.get_by_test_id("richmenu-image")
    await expect(image).to_be_visible()
    await expect(image).to_have_js_property("naturalWidth", WIDTH)
    box = await image.bounding_box()
    assert box is not None and abs(box["width"] - 390) < 40  # the phone's width

    # A message area: the friend says the keyword and the bot answers it.
    await menu.get_by_role("button", name=menus.keyword, exact=True).click()
    await expect(bubbles(page, "in", menus.keyword).last).to_be_visible()
    await expect(bubbles(page, "out", menus.reply).first).to_be_visible()

    # A richmenuswitch area: menu B replaces A, and the postback webhook says so.
    await menu.get_by_role("button", name="タブB").click()
    await expect(toggle).to_have_text("メニューB")
    await expect(menu).to_have_attribute("data-rich-menu-id", menus.second)
    await expect(toggle).to_have_attribute("aria-expanded", "true")  # still open, as in LINE
    switched = page.locator('[data-direction="in"][data-type="postback"]')
    await expect(switched).to_have_count(1)
    linked = await api.get_rich_menu_id_of_user(user_id)
    assert linked.rich_menu_id == menus.second

    transcript = await page.request.get(f"{tab.base_url}/sandbox/api/friends/{user_id}/transcript")
    postbacks = [
        e["message"]
        for e in (await transcript.json())["entries"]
        if e["direction"] == "in" and e["message"]["type"] == "postback"
    ]
    assert postbacks == [
        {
            "type": "postback",
            "data": "tab=b",
            "params": {"newRichMenuAliasId": "tab-b", "status": "SUCCESS"},
        }
    ]

    # Areas are real buttons: a keyboard user reaches one and presses Enter.
    coupon = menu.get_by_role("button", name="クーポンを見る")
    await coupon.focus()
    await expect(coupon).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(bubbles(page, "in", "クーポンを見る")).to_have_count(1)

    # The chat bar closes and opens the menu.
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(page.get_by_test_id("richmenu-panel")).to_be_hidden()
    await toggle.click()
    await expect(page.get_by_test_id("richmenu-image")).to_be_visible()

    # Unlinking takes the menu away, live.
    await api.unlink_rich_menu_id_from_user(user_id)
    await expect(menu).to_be_hidden()
    assert tab.errors == []


async def test_default_menu_starts_closed_when_not_selected(
    tab: Tab, line: tuple[AsyncMessagingApi, AsyncMessagingApiBlob]
) -> None:
    api, blob = line
    page = tab.page
    menus = await make_menus(api, blob)
    await api.set_default_rich_menu(menus.second)  # menu B is not `selected`
    await follow_new_friend(page, tab.base_url)

    toggle = page.get_by_test_id("richmenu-toggle")
    await expect(toggle).to_have_text("メニューB")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(page.get_by_test_id("richmenu-panel")).to_be_hidden()
    await toggle.click()
    await expect(
        page.get_by_test_id("richmenu").get_by_role("button", name="タブA")
    ).to_be_visible()
    assert tab.errors == []


async def test_liff_area_opens_the_page_in_an_overlay_signed_in(
    tab: Tab, line: tuple[AsyncMessagingApi, AsyncMessagingApiBlob]
) -> None:
    api, blob = line
    page = tab.page
    liff = {
        "type": "uri",
        "label": "アンケート",
        "uri": "https://liff.line.me/1234567890-AbCdEfGh/forms/survey?from=menu",
    }
    body = {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": "LIFF",
        "chatBarText": "フォーム",
        "areas": [half(0, liff), half(WIDTH // 2, {"type": "message", "text": "こんにちは"})],
    }
    created = await api.create_rich_menu(RichMenuRequest.from_dict(body))
    await blob.set_rich_menu_image(
        created.rich_menu_id,
        body=menu_image("#4a148c", "LIFF"),
        _headers={"Content-Type": "image/png"},
    )
    user_id = await follow_new_friend(page, tab.base_url)
    await api.link_rich_menu_id_to_user(user_id, created.rich_menu_id)

    await page.get_by_test_id("richmenu").get_by_role("button", name="アンケート").click()
    dialog = page.get_by_test_id("liff-dialog")
    await expect(dialog).to_be_visible()
    frame = page.get_by_test_id("liff-frame")
    await expect(frame).to_be_visible()
    src = await frame.get_attribute("src") or ""
    page_url, _, fragment = src.partition("#")
    assert page_url == f"{tab.base_url}/liff/forms/survey?from=menu"
    assert fragment.startswith("sandbox_id_token=") and len(fragment) > len("sandbox_id_token=")
    await expect(page.get_by_test_id("liff-error")).to_be_hidden()

    await page.get_by_test_id("liff-close").click()
    await expect(dialog).to_be_hidden()
    assert tab.errors == []
