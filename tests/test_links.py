"""Tracked links: `uri` actions go through /l/<code>, taps are counted (per friend or per
message), a rule can react to a tap, and a forged code is refused."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.automation.analytics import link_stats
from bot.crm.tags import current_tags
from bot.db.models import LinkClick
from bot.services import Services
from tests.dsl import SandboxDriver, friend_id_of, joined_many, start_at

MENU = "https://example.com/menu?from=line"
SALE = "https://shop.example.com/sale"


def scenario(track: str) -> str:
    rules = f"""rules:
  - name: メニューを見た人
    when: {{link_clicked: "{MENU}"}}
    do: [{{add_tag: メニュー閲覧}}]
"""
    return f"""version: 1
timezone: Asia/Tokyo
tags: [メニュー閲覧]
delivery: {{track_links: {track}}}
welcome:
  - type: template
    altText: 今月のメニュー
    template:
      type: buttons
      text: 今月のメニューです
      actions:
        - {{type: uri, label: メニューを見る, uri: "{MENU}"}}
        - {{type: uri, label: 電話する, uri: "tel:0312345678"}}
{rules if track == "friend" else ""}broadcasts:
  セール:
    at: "2027-07-01 12:00"
    messages:
      - "{{{{ friend.display_name }}}}さん、セールのお知らせです"
      - type: flex
        altText: セール会場
        contents:
          type: bubble
          body:
            type: box
            layout: vertical
            contents:
              - {{type: button, action: {{type: uri, label: 会場へ, uri: "{SALE}"}}}}
"""


def uris(value: Any) -> list[str]:
    """Every uri an action in this message opens, in order (templates and flex)."""
    if isinstance(value, list):
        return [uri for item in value for uri in uris(item)]
    if not isinstance(value, dict):
        return []
    own = [value["uri"]] if value.get("type") == "uri" else []
    return own + [uri for key, item in value.items() if key != "uri" for uri in uris(item)]


async def tap(http: aiohttp.ClientSession, url: str) -> tuple[int, str | None]:
    async with http.get(url, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location")


@pytest.mark.parametrize("scenario_app", [scenario("friend")], indirect=True)
async def test_per_friend_links_count_taps_and_fire_rules(
    scenario_app: tuple[SandboxDriver, Services], http: aiohttp.ClientSession
) -> None:
    sandbox, _ = scenario_app
    hanako = await sandbox.friend("花子")
    await hanako.follow()
    [welcome] = await hanako.received(1)
    taro = await sandbox.friend("太郎")
    await taro.follow()
    [other] = await taro.received(1)
    menu, phone = uris(welcome)
    assert menu.startswith(sandbox.base_url + "/l/")
    assert phone == "tel:0312345678"  # only web links go through the redirect
    assert uris(other)[0] != menu  # each friend has their own link

    assert await tap(http, menu) == (302, MENU)
    assert await tap(http, menu) == (302, MENU)
    assert "メニュー閲覧" in await current_tags(await friend_id_of(hanako))
    assert "メニュー閲覧" not in await current_tags(await friend_id_of(taro))
    [stats] = await link_stats()
    assert (stats.url, stats.clicks, stats.friends) == (MENU, 2, 1)
    assert stats.source.startswith("welcome")


@pytest.mark.parametrize("scenario_app", [scenario("friend")], indirect=True)
async def test_forged_or_altered_codes_are_refused_and_not_counted(
    scenario_app: tuple[SandboxDriver, Services], http: aiohttp.ClientSession
) -> None:
    sandbox, _ = scenario_app
    friend = await sandbox.friend()
    await friend.follow()
    [welcome] = await friend.received(1)
    menu = uris(welcome)[0]
    code = menu.rsplit("/", 1)[1]
    link, who, signature = code.split(".")
    someone_else = f"{link}.{int(who, 36) + 1:x}.{signature}"
    for forged in (someone_else, f"{link}.{who}.AAAAAAAAAAA", "nonsense", f"{link}.{who}"):
        async with http.get(f"{sandbox.base_url}/l/{forged}", allow_redirects=False) as resp:
            assert resp.status == 404, forged
            assert "リンクが無効です" in await resp.text()
    assert await LinkClick.all().count() == 0


@pytest.mark.parametrize("scenario_app", [scenario("friend")], indirect=True)
async def test_a_broadcast_with_per_friend_links_goes_as_pushes(
    scenario_app: tuple[SandboxDriver, Services], http: aiohttp.ClientSession
) -> None:
    sandbox, _ = scenario_app
    start_at("2027-06-30T12:00:00+09:00")
    friends = [f for f, _ in await joined_many(sandbox, ["一郎", "二郎", "三郎"])]
    await sandbox.advance("1d")
    links = []
    for friend in friends:
        text, flex = await friend.received(2)
        assert text["text"] == f"{friend.name}さん、セールのお知らせです"
        links += uris(flex)
    assert len(set(links)) == 3
    assert not await sandbox.calls("/multicast")
    assert await tap(http, links[1]) == (302, SALE)
    [stats] = await link_stats("broadcast:セール")
    assert (stats.url, stats.clicks, stats.friends) == (SALE, 1, 1)


@pytest.mark.parametrize("scenario_app", [scenario("message")], indirect=True)
async def test_message_level_links_keep_multicasts_and_count_anonymous_taps(
    scenario_app: tuple[SandboxDriver, Services], http: aiohttp.ClientSession
) -> None:
    sandbox, _ = scenario_app
    start_at("2027-06-30T12:00:00+09:00")
    friends = await joined_many(sandbox, ["一郎", "一郎"])  # same text for both
    await sandbox.advance("1d")
    links = {uris((await friend.received(2))[1])[0] for friend, _ in friends}
    assert len(links) == 1  # the same link for everyone
    assert len(await sandbox.calls("/multicast")) == 1
    link = links.pop()
    assert await tap(http, link) == (302, SALE)
    assert await tap(http, link) == (302, SALE)
    [stats] = await link_stats("broadcast:")
    assert (stats.clicks, stats.friends) == (2, 0)


@pytest.mark.parametrize("scenario_app", [scenario("off")], indirect=True)
async def test_links_are_sent_as_written_when_tracking_is_off(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    friend = await sandbox.friend()
    await friend.follow()
    [welcome] = await friend.received(1)
    assert uris(welcome) == [MENU, "tel:0312345678"]
