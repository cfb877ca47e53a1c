"""Syncing the scenario's rich menus to LINE: here the sandbox's rich-menu endpoints, reached
through our LineClient and line-bot-sdk, with the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.db.models import RichMenuRecord
from bot.db.runtime import close_database, open_database
from bot.line.client import LineApiError, LineClient
from bot.line.ratelimit import RateLimits, parse_limits
from bot.richmenus.build import NAME_PREFIX, RichMenuError
from bot.richmenus.sync import SyncResult, sync_rich_menus
from bot.sandbox.platform import STATE_KEY
from bot.sandbox.richmenus import RichMenuStore
from bot.sandbox.setup import standalone_app
from bot.sandbox.state import SandboxState
from bot.scenario import Scenario, parse_scenario
from bot.scenario.richmenus import derive_alias, menu_key_for
from tests.conftest import free_port

TOKEN = "richmenu-test-channel-token"
SECRET = "0123456789abcdef0123456789abcdef"

SCENARIO = """
version: 1
tags: [会員]
stamp_rallies:
  来店:
    goal: 3
    present: [{add_tag: 会員}]
rich_menus:
  メイン:
    size: compact
    chat_bar: メニューを開く
    layout:
      columns: 3
      cells:
        - {label: 予約, action: {type: message, text: 予約}}
        - {label: 会員登録, action: {type: postback, do: [{add_tag: 会員}]}}
        - {label: お知らせ, action: {type: richmenuswitch, menu: info}}
  info:
    size: compact
    layout:
      columns: 2
      cells:
        - {label: 戻る, action: {type: richmenuswitch, menu: メイン}}
        - {label: 問い合わせ, action: {type: uri, uri: "https://example.com/contact"}}
  card:
    stamp_card: 来店
    size: compact
    layout:
      columns: 2
      cells:
        - {stamps: true, label: スタンプカード}
        - {label: 戻る, action: {type: richmenuswitch, menu: メイン}}
"""
KEYS = {"メイン", "info", "card@0", "card@1", "card@2", "card@3"}


@dataclass
class Line:
    """Our client, the sandbox's rich-menu state and a plain HTTP session to its API."""

    client: LineClient
    state: SandboxState
    base_url: str
    http: aiohttp.ClientSession

    @property
    def store(self) -> RichMenuStore:
        return self.state.rich_menus

    async def by_hand(self, name: str) -> str:
        """A menu the operator made with another tool (not stepbot)."""
        body = {
            "size": {"width": 2500, "height": 843},
            "selected": False,
            "name": name,
            "chatBarText": "手作り",
            "areas": [
                {
                    "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
                    "action": {"type": "message", "text": "こんにちは"},
                }
            ],
        }
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with self.http.post(
            f"{self.base_url}/v2/bot/richmenu", json=body, headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["richMenuId"])

    def ours(self) -> dict[str, Any]:
        """Our menus at the sandbox by LINE id."""
        return {i: m for i, m in self.store.menus.items() if m.body["name"].startswith(NAME_PREFIX)}


@pytest.fixture
async def line(database_url: str) -> AsyncIterator[Line]:
    port = free_port()
    app = standalone_app(
        webhook_url="http://127.0.0.1:9/callback", channel_secret=SECRET, expected_token=TOKEN
    )
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    db = await open_database(database_url)
    base = f"http://127.0.0.1:{port}"
    client = LineClient(TOKEN, base, base)
    await client.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Line(client, app[STATE_KEY], base, http)
    finally:
        await client.close()
        await close_database(db)
        await server.close()


def scenario(text: str = SCENARIO) -> Scenario:
    return parse_scenario(text, "scenario.yaml")


async def sync(line: Line, text: str = SCENARIO, folder: Path | None = None) -> SyncResult:
    return await sync_rich_menus(
        scenario(text), line.client, folder=folder or Path("."), liff_id="1000000000-abcdEFGH"
    )


async def test_first_sync_creates_menus_uploads_images_and_sets_aliases(line: Line) -> None:
    result = await sync(line)

    assert set(result.menus) == KEYS
    assert sorted(result.created) == sorted(KEYS)
    assert result.reused == [] and result.deleted == []
    assert set(line.ours()) == set(result.menus.values())
    for key, menu_id in result.menus.items():
        menu = line.store.menus[menu_id]
        assert menu.image is not None and menu.image_type == "image/png", key
        assert menu.body["name"].startswith(f"{NAME_PREFIX}{key}:")
    main = line.store.menus[result.menus["メイン"]].body
    assert main["chatBarText"] == "メニューを開く"
    assert main["size"] == {"width": 2500, "height": 843}
    actions = [area["action"] for area in main["areas"]]
    assert actions[0] == {"type": "message", "text": "予約", "label": "予約"}
    assert actions[1]["type"] == "postback" and actions[1]["data"].startswith("sb:")
    assert actions[2]["type"] == "richmenuswitch" and actions[2]["richMenuAliasId"] == "info"
    main_alias = derive_alias("メイン")
    assert line.store.aliases == {"info": result.menus["info"], main_alias: result.menus["メイン"]}
    assert result.aliases == line.store.aliases
    records = {r.menu_key: r.line_rich_menu_id for r in await RichMenuRecord.all()}
    assert records == result.menus


async def test_second_sync_with_nothing_changed_creates_nothing(line: Line) -> None:
    first = await sync(line)
    menus_before = dict(line.store.menus)

    second = await sync(line)

    assert second.created == [] and second.deleted == [] and second.aliases_set == []
    assert sorted(second.reused) == sorted(KEYS)
    assert second.menus == first.menus
    assert line.store.menus == menus_before


async def test_changing_one_menu_creates_only_it_and_deletes_the_old_one(line: Line) -> None:
    first = await sync(line)
    changed = SCENARIO.replace("label: 問い合わせ", "label: お問い合わせ")

    second = await sync(line, changed)

    assert second.created == ["info"]
    assert second.deleted == [first.menus["info"]]
    assert second.menus["info"] != first.menus["info"]
    assert first.menus["info"] not in line.store.menus
    assert {k: v for k, v in second.menus.items() if k != "info"} == {
        k: v for k, v in first.menus.items() if k != "info"
    }
    assert line.store.aliases["info"] == second.menus["info"]
    assert second.aliases_set == ["info"]
    assert set(line.ours()) == set(second.menus.values())
    assert await RichMenuRecord.filter(line_rich_menu_id=first.menus["info"]).count() == 0


async def test_a_removed_menu_and_its_alias_are_deleted(line: Line) -> None:
    first = await sync(line)
    without_info = SCENARIO.replace("menu: info", "menu: メイン")
    without_info = (
        without_info[: without_info.index("  info:")]
        + without_info[without_info.index("  card:") :]
    )

    second = await sync(line, without_info)

    assert "info" not in second.menus
    # メイン changed too (its tab now points at itself), so its old copy goes as well.
    assert sorted(second.deleted) == sorted([first.menus["info"], first.menus["メイン"]])
    assert second.aliases_deleted == ["info"]
    assert "info" not in line.store.aliases


async def test_menus_made_by_hand_are_left_alone(line: Line) -> None:
    own = await line.by_hand("キャンペーン用(手作り)")
    await sync(line)
    await sync(line, SCENARIO.replace("label: 予約", "label: ご予約"))

    assert own in line.store.menus
    assert line.store.menus[own].body["name"] == "キャンペーン用(手作り)"


async def test_a_stamp_card_menu_is_one_menu_per_stamp_count(line: Line) -> None:
    result = await sync(line)

    cards = [result.menus[f"card@{n}"] for n in range(4)]
    assert len(set(cards)) == 4
    images = {line.store.menus[menu_id].image for menu_id in cards}
    assert len(images) == 4
    loaded = scenario()
    assert [menu_key_for(loaded, "card", n) for n in (0, 2, 3, 9)] == [
        "card@0",
        "card@2",
        "card@3",
        "card@3",
    ]
    assert menu_key_for(loaded, "メイン", 5) == "メイン"


async def test_two_syncs_at_once_leave_one_menu_per_key(line: Line) -> None:
    first, second = await asyncio.gather(sync(line), sync(line))

    assert first.menus == second.menus
    assert set(line.ours()) == set(first.menus.values())
    assert await RichMenuRecord.all().count() == len(KEYS)


async def test_menus_lost_from_the_records_are_found_by_name(line: Line) -> None:
    first = await sync(line)
    await RichMenuRecord.all().delete()

    second = await sync(line)

    assert second.created == [] and second.deleted == []
    assert second.menus == first.menus
    assert await RichMenuRecord.all().count() == len(KEYS)


async def test_the_client_links_menus_one_by_one_in_bulk_and_as_default(line: Line) -> None:
    result = await sync(line)
    main, info = result.menus["メイン"], result.menus["info"]
    async with line.http.post(
        f"{line.base_url}/sandbox/api/friends/bulk", json={"count": 501}
    ) as resp:
        users = (await resp.json())["userIds"]
    client = line.client

    await client.link_rich_menu(users[0], info)
    assert await client.get_user_rich_menu(users[0]) == info
    await client.unlink_rich_menu(users[0])
    assert await client.get_user_rich_menu(users[0]) is None

    await client.bulk_link_rich_menu(main, users)
    assert all(line.store.links[user] == main for user in users)
    bulk = [c.body for c in line.state.calls if c.path.endswith("/richmenu/bulk/link")]
    assert [len(body["userIds"]) for body in bulk] == [500, 1]
    await client.bulk_unlink_rich_menu(users)
    assert line.store.links == {}

    assert await client.get_default_rich_menu() is None
    await client.set_default_rich_menu(main)
    assert await client.get_default_rich_menu() == main
    await client.cancel_default_rich_menu()
    assert await client.get_default_rich_menu() is None


async def test_the_client_reads_validates_and_deletes_menus(line: Line) -> None:
    result = await sync(line)
    main = result.menus["メイン"]
    client = line.client

    found = await client.get_rich_menu(main)
    assert found is not None and found["chatBarText"] == "メニューを開く"
    assert await client.get_rich_menu("richmenu-" + "0" * 32) is None
    assert await client.get_rich_menu_image(main) == line.store.menus[main].image
    assert {m["richMenuId"] for m in await client.list_rich_menus()} == set(result.menus.values())
    assert await client.list_rich_menu_aliases() == result.aliases

    body = dict(line.store.menus[main].body)
    await client.validate_rich_menu(body)
    with pytest.raises(LineApiError) as refused:
        await client.validate_rich_menu({**body, "size": {"width": 1000, "height": 1000}})
    assert refused.value.status == 400

    await client.delete_rich_menu_alias("info")
    assert "info" not in line.store.aliases
    assert await client.delete_rich_menu_alias("info") is False
    assert await client.delete_rich_menu(main) is True
    assert await client.delete_rich_menu(main) is False


def _png(width: int, height: int, color: str) -> bytes:
    out = BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


IMAGE_SCENARIO = """
version: 1
stamp_rallies:
  来店: {goal: 2, present: [{notify_admins: 達成}]}
rich_menus:
  photo:
    size: compact
    image: menus/photo.png
    areas:
      - bounds: {x: 0, y: 0, width: 1250, height: 843}
        action: {type: liff, path: forms/会員登録, label: 会員登録}
      - bounds: {x: 1250, y: 0, width: 1250, height: 843}
        action: {type: datetimepicker, data: booking, mode: date, label: 予約日}
  stamps:
    size: compact
    stamp_card: 来店
    image: menus/card-{n}.jpg
    areas:
      - bounds: {x: 0, y: 0, width: 2500, height: 843}
        action: {type: message, text: スタンプ}
forms:
  会員登録:
    title: 会員登録
    fields:
      - {name: 名前, label: お名前}
"""


async def test_image_menus_upload_their_files(line: Line, tmp_path: Path) -> None:
    (tmp_path / "menus").mkdir()
    photo = _png(2500, 843, "#336699")
    (tmp_path / "menus" / "photo.png").write_bytes(photo)
    for n, color in enumerate(("#FFFFFF", "#FFCC00", "#FF6600")):
        Image.new("RGB", (2500, 843), color).save(tmp_path / "menus" / f"card-{n}.jpg", "JPEG")

    result = await sync(line, IMAGE_SCENARIO, folder=tmp_path)

    menu = line.store.menus[result.menus["photo"]]
    assert menu.image == photo and menu.image_type == "image/png"
    liff = menu.body["areas"][0]["action"]
    assert liff["type"] == "uri" and liff["label"] == "会員登録"
    assert liff["uri"].startswith("https://liff.line.me/1000000000-abcdEFGH/forms/")
    assert sorted(k for k in result.menus if k.startswith("stamps@")) == [
        "stamps@0",
        "stamps@1",
        "stamps@2",
    ]
    card = line.store.menus[result.menus["stamps@1"]]
    assert card.image == (tmp_path / "menus" / "card-1.jpg").read_bytes()
    assert card.image_type == "image/jpeg"


async def test_a_liff_action_without_a_liff_id_is_refused(line: Line, tmp_path: Path) -> None:
    (tmp_path / "menus").mkdir()
    (tmp_path / "menus" / "photo.png").write_bytes(_png(2500, 843, "#336699"))
    for n in range(3):
        (tmp_path / "menus" / f"card-{n}.jpg").write_bytes(_png(2500, 843, "#FFFFFF"))

    with pytest.raises(RichMenuError, match=r"rich_menus\.photo\.areas\[0\]\.action.*LIFF_ID"):
        await sync_rich_menus(scenario(IMAGE_SCENARIO), line.client, folder=tmp_path)
    assert line.store.menus == {}


def test_creating_and_deleting_share_an_hourly_window() -> None:
    limits = RateLimits(parse_limits("richmenu=3/h"))

    async def three() -> None:
        for _ in range(3):
            await limits.acquire("richmenu")

    assert limits.delay("richmenu") == 0
    asyncio.run(three())
    assert limits.delay("richmenu") > 3000  # the fourth waits for the first to age an hour
    assert RateLimits().delay("richmenu") == 0
    assert parse_limits(None)["richmenu"] == (100.0, 3600.0)
