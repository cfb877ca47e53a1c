"""The chat simulator page (/sandbox) in a real headless Chromium, driven by Playwright.

The keywords and quick replies used here are read from the bundled example scenario, so the
test follows the scenario when its wording changes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from playwright.async_api import (
    Browser,
    Locator,
    Page,
    Route,
    expect,
)

from bot.scenario import AutoReply, Scenario, load_scenario
from tests.browser.conftest import phone_page

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "bot" / "sandbox" / "static"
SCENARIO = ROOT / "examples" / "welcome.yaml"
FRIEND_NAME = "テスト 花子"


# --- choosing what to type from the scenario ---------------------------------------------


def _marker(text: str) -> str | None:
    """A line of a scenario text that shows verbatim in the chat (no placeholders)."""
    for line in text.splitlines():
        line = line.strip()
        if line and "{{" not in line and "{%" not in line and "$" not in line:
            return line
    return None


def _first_text_marker(reply: AutoReply) -> str | None:
    first = reply.messages[0]
    return _marker(first.text) if first.type == "text" else None


def _keyword(reply: AutoReply) -> str | None:
    words = reply.match.equals or reply.match.contains
    return words[0] if words else None


@dataclass(frozen=True)
class Conversation:
    keyword: str
    """What the friend types."""
    reply_marker: str
    """A line of the bot's answer to `keyword`."""
    chip_label: str
    """A quick-reply button in that answer (a message action)."""
    chip_text: str
    """What tapping the chip sends."""
    chip_reply_marker: str
    """A line of the bot's answer to the chip."""
    chip_reply_has_quick_reply: bool


def pick_conversation(scenario: Scenario) -> Conversation:
    """An auto-reply reached by a keyword whose answer offers a quick reply leading to another
    text auto-reply."""
    for reply in scenario.auto_replies:
        keyword = _keyword(reply)
        if keyword is None or scenario.find_auto_reply(keyword) is not reply:
            continue
        reply_marker = _first_text_marker(reply)
        if reply_marker is None:
            continue
        for message in reply.messages:
            if message.quickReply is None:
                continue
            for item in message.quickReply.items:
                action = item.action
                if action.type != "message" or not action.label:
                    continue
                target = scenario.find_auto_reply(action.text)
                if target is None or target is reply:
                    continue
                target_marker = _first_text_marker(target)
                if target_marker is None:
                    continue
                return Conversation(
                    keyword=keyword,
                    reply_marker=reply_marker,
                    chip_label=action.label,
                    chip_text=action.text,
                    chip_reply_marker=target_marker,
                    chip_reply_has_quick_reply=any(m.quickReply for m in target.messages),
                )
    raise AssertionError(
        f"{SCENARIO.name} has no keyword reply with a quick reply leading to another text reply"
    )


# --- browser fixtures --------------------------------------------------------------------


@dataclass
class Tab:
    page: Page
    base_url: str
    requests: list[str]
    errors: list[str]


@pytest.fixture
async def tab(live_server: str, browser: Browser) -> AsyncIterator[Tab]:
    """A phone-sized page; requests leaving the server's origin are recorded and blocked."""
    origin = live_server.rstrip("/")
    async with phone_page(browser, origin) as phone:
        yield Tab(phone.page, origin, phone.requests, phone.errors)


def bubbles(page: Page, direction: str, text: str) -> Locator:
    """Chat entries of one direction (in, out, system) containing `text`."""
    return page.locator(f'[data-testid="message-bubble"][data-direction="{direction}"]').filter(
        has_text=text
    )


# --- tests -------------------------------------------------------------------------------


async def test_chat_with_the_example_scenario(tab: Tab) -> None:
    scenario = load_scenario(SCENARIO)
    talk = pick_conversation(scenario)
    page = tab.page

    await page.goto(f"{tab.base_url}/sandbox")
    await expect(page.get_by_role("heading", name="stepbot サンドボックス")).to_be_visible()
    await expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")

    # A new virtual friend: selected, not following yet, so the composer is off.
    await page.get_by_test_id("new-friend-name").fill(FRIEND_NAME)
    await page.get_by_test_id("new-friend-button").click()
    friend_select = page.get_by_test_id("friend-select")
    await expect(friend_select.locator("option:checked")).to_contain_text(FRIEND_NAME)
    await expect(page.get_by_test_id("composer-input")).to_be_disabled()
    await expect(page.get_by_test_id("send-button")).to_be_disabled()
    await expect(page.get_by_test_id("composer-hint")).to_have_text("友だち追加すると話せます")
    await expect(page.get_by_test_id("block-button")).to_be_disabled()

    # Following brings the welcome message, addressed to the friend by name.
    await page.get_by_test_id("follow-button").click()
    await expect(bubbles(page, "out", FRIEND_NAME).first).to_be_visible()
    await expect(page.get_by_test_id("follow-button")).to_be_disabled()
    await expect(page.get_by_test_id("block-button")).to_be_enabled()
    await expect(page.get_by_test_id("composer-input")).to_be_enabled()
    await expect(page.get_by_test_id("composer-hint")).to_be_hidden()

    # A keyword from the scenario gets its auto-reply; Enter sends.
    composer = page.get_by_test_id("composer-input")
    await composer.fill(talk.keyword)
    await composer.press("Enter")
    await expect(bubbles(page, "in", talk.keyword).first).to_be_visible()
    await expect(composer).to_have_value("")
    await expect(bubbles(page, "out", talk.reply_marker).first).to_be_visible()

    # Its quick reply: tapping a chip sends the chip's text and the chip goes away.
    chip = page.get_by_test_id("quick-reply").filter(has_text=talk.chip_label)
    await expect(chip).to_have_count(1)
    await chip.click()
    await expect(bubbles(page, "in", talk.chip_text).last).to_be_visible()
    await expect(bubbles(page, "out", talk.chip_reply_marker).first).to_be_visible()
    if not talk.chip_reply_has_quick_reply:
        await expect(page.get_by_test_id("quick-reply")).to_have_count(0)

    # Blocking turns the composer off again.
    await page.get_by_test_id("block-button").click()
    await expect(page.get_by_test_id("composer-input")).to_be_disabled()
    await expect(page.get_by_test_id("follow-button")).to_be_enabled()

    assert tab.errors == []


async def test_other_friends_messages_mark_them_unread(tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{tab.base_url}/sandbox")
    await expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")

    for name in ("一郎", "二郎"):
        await page.get_by_test_id("new-friend-name").fill(name)
        await page.get_by_test_id("new-friend-button").click()
        await expect(
            page.get_by_test_id("friend-select").locator("option:checked")
        ).to_contain_text(name)
    await page.get_by_test_id("follow-button").click()  # 二郎 follows
    await expect(bubbles(page, "out", "二郎").first).to_be_visible()

    # 一郎 follows while 二郎 is shown (through the API, as another tester would).
    friends = await (await page.request.get(f"{tab.base_url}/sandbox/api/friends")).json()
    ichiro = next(f for f in friends["friends"] if f["displayName"] == "一郎")
    response = await page.request.post(
        f"{tab.base_url}/sandbox/api/friends/{ichiro['userId']}/follow"
    )
    assert response.ok
    option = page.get_by_test_id("friend-select").locator(f'option[value="{ichiro["userId"]}"]')
    await expect(option).to_have_attribute("data-unread", "true")
    await expect(bubbles(page, "out", "一郎")).to_have_count(0)

    # Switching to 一郎 shows the welcome and clears the mark.
    await page.get_by_test_id("friend-select").select_option(ichiro["userId"])
    await expect(bubbles(page, "out", "一郎").first).to_be_visible()
    await expect(option).to_have_attribute("data-unread", "false")
    assert tab.errors == []


def pick_date_picker(scenario: Scenario) -> tuple[str, str, str, str]:
    """(keyword, chip label, postback data, mode) of a date picker offered as a quick reply."""
    for reply in scenario.auto_replies:
        keyword = _keyword(reply)
        if keyword is None or scenario.find_auto_reply(keyword) is not reply:
            continue
        for message in reply.messages:
            for item in message.quickReply.items if message.quickReply else ():
                action = item.action
                if action.type == "datetimepicker" and action.label:
                    return keyword, action.label, action.data, action.mode
    raise AssertionError(
        f"{SCENARIO.name} must offer a date picker in a quick reply: this test relies on it"
    )


async def follow_new_friend(page: Page, base_url: str, name: str) -> str:
    """Open the simulator, create `name`, follow; returns the friend's userId."""
    await page.goto(f"{base_url}/sandbox")
    await expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    await page.get_by_test_id("new-friend-name").fill(name)
    await page.get_by_test_id("new-friend-button").click()
    await page.get_by_test_id("follow-button").click()
    await expect(bubbles(page, "out", name).first).to_be_visible()
    return await page.get_by_test_id("friend-select").input_value()


async def test_date_picker_sends_a_postback_with_params(tab: Tab) -> None:
    keyword, label, data, mode = pick_date_picker(load_scenario(SCENARIO))
    page = tab.page
    user_id = await follow_new_friend(page, tab.base_url, FRIEND_NAME)

    await page.get_by_test_id("composer-input").fill(keyword)
    await page.get_by_test_id("send-button").click()
    await page.get_by_test_id("quick-reply").filter(has_text=label).click()
    await expect(page.get_by_test_id("picker-dialog")).to_be_visible()
    value = {"date": "2026-12-24", "time": "10:30", "datetime": "2026-12-24T10:30"}[mode]
    await page.get_by_test_id("picker-input").fill(value)
    await page.get_by_test_id("picker-ok").click()
    await expect(page.get_by_test_id("picker-dialog")).to_be_hidden()
    await expect(page.locator('[data-direction="in"][data-type="postback"]')).to_have_count(1)

    response = await page.request.get(f"{tab.base_url}/sandbox/api/friends/{user_id}/transcript")
    postbacks = [
        e["message"]
        for e in (await response.json())["entries"]
        if e["direction"] == "in" and e["message"]["type"] == "postback"
    ]
    assert postbacks[-1]["data"] == data
    assert postbacks[-1]["params"] == {mode: value}
    assert tab.errors == []


async def test_errors_from_the_server_are_shown(tab: Tab) -> None:
    page = tab.page
    await follow_new_friend(page, tab.base_url, FRIEND_NAME)

    async def refuse(route: Route) -> None:
        await route.fulfill(
            status=400,
            content_type="application/json",
            body='{"message": "ただいまメンテナンス中です"}',
        )

    await page.route("**/sandbox/api/friends/*/messages", refuse)
    await page.get_by_test_id("composer-input").fill("こんにちは")
    await page.get_by_test_id("composer-input").press("Enter")
    notice = page.get_by_test_id("notice")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("ただいまメンテナンス中です")
    assert tab.errors == []


EXTERNAL_URL = re.compile(r"""https?://[^\s"'`<>)]+""", re.IGNORECASE)
ASSETS = ("simulator.html", "simulator.css", "simulator.js")


@pytest.mark.parametrize("name", ASSETS)
def test_assets_have_no_external_urls(name: str) -> None:
    """Same-origin only: no CDN, fonts or scripts from other hosts."""
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    assert EXTERNAL_URL.findall(text) == []
    assert "@import" not in text
    if name == "simulator.html":
        for attribute in re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", text):
            local = attribute.startswith(("/", "data:")) and not attribute.startswith("//")
            assert local, attribute


async def test_page_loads_only_from_its_own_server(tab: Tab) -> None:
    page = tab.page
    await page.goto(f"{tab.base_url}/sandbox")
    await expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    await page.wait_for_load_state("networkidle")

    async with aiohttp.ClientSession() as http:
        for path in ("/sandbox", *(f"/sandbox/static/{name}" for name in ASSETS[1:])):
            async with http.get(tab.base_url + path) as response:
                assert response.status == 200, path
                assert EXTERNAL_URL.findall(await response.text()) == [], path

    origin = urlsplit(tab.base_url)
    assert tab.requests, "the page made no requests"
    for url in tab.requests:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), url
    assert tab.errors == []
