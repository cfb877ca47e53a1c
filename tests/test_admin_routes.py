"""Inflow routes from in-chat admin mode: an admin makes a tracking link with its QR code, a
visit through it tags the visitor, the list and the route's own view show the counts, and a
route made in chat is deleted after confirming. Everything through the sandbox."""

from __future__ import annotations

from typing import Any

from bot.crm.admins import add_admin
from bot.crm.tags import has_tag
from bot.db.models import AuditEntry, RouteRecord
from bot.services import Services
from tests.dsl import FriendDriver, SandboxDriver, joined, quick_reply_data

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ!"]
tags: [Instagram流入, チラシ流入, 決済完了者]
routes:
  flyer:
    title: 店頭チラシ
    do: [{add_tag: チラシ流入}]
    conversion: {tag: 決済完了者, within: 30d}
"""

App = tuple[SandboxDriver, Services]


async def admin_friend(sandbox: SandboxDriver, name: str, role: str) -> FriendDriver:
    friend, _ = await joined(sandbox, name)
    await add_admin(friend.user_id, role)
    await friend.say("/admin")
    (welcome,) = await friend.texts(1)
    assert "管理者モード" in welcome
    return friend


async def command(friend: FriendDriver, text: str, count: int = 1) -> list[dict[str, Any]]:
    await friend.say(text)
    return await friend.received(count)


async def test_an_admin_makes_a_route_in_chat_and_sees_it_counted(scenario_app: App) -> None:
    sandbox, services = scenario_app
    admin = await admin_friend(sandbox, "店長", "admin")

    made, image = await command(admin, "経路作成 insta-bio タグ:Instagram流入", 2)

    url = f"{services.settings.base_url}/r/insta-bio"
    assert made["text"].startswith("流入経路「insta-bio」を作りました。")
    assert f"URL: {url}" in made["text"] and "タグ: Instagram流入" in made["text"]
    assert image == {
        "type": "image",
        "originalContentUrl": f"{url}/qr.png",
        "previewImageUrl": f"{url}/qr.png",
    }
    async with sandbox.session.get(f"{sandbox.base_url}/r/insta-bio/qr.png") as resp:
        assert resp.status == 200 and resp.content_type == "image/png"

    visitor, visitor_id = await joined(sandbox, "フォロワー")
    await sandbox.visit_route("insta-bio", visitor.user_id)
    assert await has_tag(visitor_id, "Instagram流入")

    (listing,) = await command(admin, "経路一覧")
    text = listing["text"]
    assert text.startswith("流入経路(2件)")
    assert "■flyer 店頭チラシ(シナリオ)" in text
    assert "■insta-bio(管理者作成)" in text
    assert "訪問 1(本人確認 1)・流入 1人・うち友だち追加 0人・アクション 1人" in text

    view, qr_image = await command(admin, "route insta-bio", 2)
    assert "訪問: 1(うち本人確認 1)" in view["text"]
    assert "流入した友だち: 1人" in view["text"]
    assert qr_image["type"] == "image"

    entry = await AuditEntry.get(command="route create")
    assert (entry.target, entry.result) == ("insta-bio", "ok")


async def test_conversions_show_for_a_scenario_route(scenario_app: App) -> None:
    sandbox, services = scenario_app
    operator = await admin_friend(sandbox, "バイト", "operator")
    buyer, buyer_id = await joined(sandbox, "お客さま")
    await sandbox.visit_route("flyer", buyer.user_id)
    await services.crm.tags.add(buyer_id, "決済完了者", source="admin")

    (view, _) = await command(operator, "経路 flyer", 2)
    assert "コンバージョン(タグ「決済完了者」): 1人(100%)" in view["text"]
    assert "アクション実行: 1人" in view["text"]


async def test_bad_requests_get_the_reason_and_the_usage(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    operator = await admin_friend(sandbox, "バイト", "operator")
    (refused,) = await command(operator, "route create tiktok")
    assert "管理者以上が使えます" in refused["text"]

    admin = await admin_friend(sandbox, "店長", "admin")
    cases = {
        "経路作成": "経路名がありません",
        "経路作成 flyer": "シナリオにあります",
        "経路作成 ちらし": "英数字と - _",
        "経路作成 tiktok http://example.com/": "https:// で始まるURL",
        "経路作成 tiktok タグ:インスタ流入": "タグ「インスタ流入」はありません",
        "経路作成 tiktok ついでに": "「ついでに」が読み取れません",
        "経路 nothing": "流入経路「nothing」はありません",
        "経路削除 flyer": "シナリオの経路です",
    }
    for text, reason in cases.items():
        (answer,) = await command(admin, text)
        assert reason in answer["text"], (text, answer["text"])
        assert "使い方: " in answer["text"]
    assert not await RouteRecord.exists(name="tiktok")

    await command(admin, "経路作成 tiktok", 2)
    (again,) = await command(admin, "new route tiktok https://example.com/campaign")
    assert "すでにあります" in again["text"]


async def test_a_route_made_in_chat_is_deleted_after_confirming(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    admin = await admin_friend(sandbox, "店長", "admin")
    await command(admin, "経路作成 poster https://example.com/event", 2)

    (question,) = await command(admin, "経路削除 poster")
    assert "よろしいですか" in question["text"]
    assert await RouteRecord.exists(name="poster")  # nothing yet
    data, shown = quick_reply_data(question, "削除する")
    await admin.tap(data, shown)
    (done,) = await admin.received(1)
    assert done["text"] == "流入経路「poster」を削除しました。"
    assert not await RouteRecord.exists(name="poster")
    async with sandbox.session.get(f"{sandbox.base_url}/r/poster") as resp:
        assert resp.status == 404
    commands = [e.command for e in await AuditEntry.all().order_by("id")]
    assert commands[-2:] == ["route delete", "route delete"]  # asked, then confirmed
