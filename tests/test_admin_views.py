"""What admins see: the friend card, the account statistics with their tag chart, and CSV
export links — against the running server, its sandbox and a real database."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from bot import clock
from bot.admin.cards import friend_card
from bot.admin.export import EXPIRED_TEXT, EXPORT_PATH, create_export_link
from bot.admin.stats import AccountStats, TagCount, account_stats, stats_message
from bot.crm.csv_io import EXPORT_COLUMNS
from bot.crm.segments import SegmentError
from bot.db.models import ExportLink, Friend, TalkMessage
from bot.services import Services
from tests.dsl import FriendDriver, SandboxDriver, joined, start_at

SCENARIO_TEXT = """
version: 1
timezone: Asia/Tokyo
welcome: ["ようこそ"]
tags: [VIP, 紹介, 常連, 広告, お試し, 休眠]
fields:
  会員ランク: {type: choice, choices: [ブロンズ, ゴールド]}
  誕生日: {type: date}
  興味: {type: multi_choice, choices: [和食, 洋食, 中華]}
  メモ: {type: text}
segments:
  vip: {tag: VIP}
steps:
  フォローアップ:
    steps:
      - {name: お礼, after: 0, messages: ["ご登録ありがとうございます"]}
      - {name: 第2回, after: 1d, at: "10:00", messages: ["第2回"]}
      - {name: 第3回, after: 2d, messages: ["第3回"]}
  ニュース:
    steps:
      - {after: 3d, messages: ["ニュース"]}
admin:
  export_expires: 30m
"""

UNKNOWN_USER = "U" + "0" * 32


# --- reading Flex messages ----------------------------------------------------------------


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every Flex component, depth first, in display order."""
    if not isinstance(node, dict):
        return
    yield node
    for key in ("header", "hero", "body", "footer"):
        yield from walk(node.get(key))
    children = node.get("contents")
    for child in children if isinstance(children, list) else []:
        yield from walk(child)


def texts(message: dict[str, Any]) -> list[str]:
    return [c["text"] for c in walk(message["contents"]) if c.get("type") == "text"]


def rows(message: dict[str, Any]) -> dict[str, str]:
    """Label → value of every two-text row (the card's and the statistics' figures)."""
    out = {}
    for box in walk(message["contents"]):
        parts = box.get("contents")
        if (
            box.get("layout") == "horizontal"
            and isinstance(parts, list)
            and len(parts) == 2
            and all(part.get("type") == "text" for part in parts)
        ):
            out[parts[0]["text"]] = parts[1]["text"]
    return out


def section(message: dict[str, Any], title: str) -> list[str]:
    """The texts of the card's section whose heading is `title`, heading left out."""
    for box in walk(message["contents"]):
        parts = box.get("contents")
        if isinstance(parts, list) and parts and parts[0].get("text") == title:
            return [c["text"] for c in walk(box) if c.get("type") == "text"][1:]
    raise AssertionError(f"no section {title!r} in {texts(message)!r}")


def bars(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(tag, count, bar width) of each bar of the chart, top to bottom."""
    out = []
    for box in walk(message["contents"]):
        parts = box.get("contents")
        if not (isinstance(parts, list) and len(parts) == 2):
            continue
        label, track = parts
        inner = track.get("contents") or []
        if label.get("layout") == "horizontal" and inner and "width" in inner[0]:
            name, count = (c["text"] for c in label["contents"])
            out.append((name, count, inner[0]["width"]))
    return out


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (c["action"]["label"], c["action"]["text"])
        for c in walk(message["contents"]["footer"])
        if c.get("type") == "button"
    ]


async def delivered(
    services: Services, to: FriendDriver, message: dict[str, Any], key: str
) -> dict[str, Any]:
    """Push the message through the outbox and return it as the friend's phone got it: the
    sandbox validates it with LINE's request models and limits first."""
    row = await services.outbox.send(to.user_id, [message], source="admin:test", dedupe_key=key)
    assert row.status == "sent", row.error
    (received,) = await to.received(1)
    return received


# --- the friend card ----------------------------------------------------------------------


async def talk(friend_id: int, local: str, direction: str, text: str) -> None:
    await TalkMessage.create(
        friend_id=friend_id,
        direction=direction,
        admin_user_id="Uadmin" if direction == "out" else None,
        kind="text",
        text=text,
        at=datetime.fromisoformat(local),
    )


async def test_the_friend_card_shows_tags_fields_points_steps_and_the_last_messages(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    crm = services.crm
    start_at("2026-04-01T10:00:00+09:00")
    admin, _ = await joined(sandbox, "管理者さん")
    hanako, hanako_id = await joined(sandbox, "山田花子")
    await crm.tags.add(hanako_id, "VIP", source="admin")
    await crm.tags.add(hanako_id, "広告", source="admin")
    clock.clock.advance(timedelta(minutes=1))
    await crm.tags.add(hanako_id, "常連", source="admin")
    await crm.tags.remove(hanako_id, "広告", source="admin")
    await crm.fields.set(hanako_id, "会員ランク", "ゴールド", source="admin")
    await crm.fields.set(hanako_id, "誕生日", "1990-04-05", source="admin")
    await crm.fields.set(hanako_id, "興味", ["和食", "中華"], source="admin")
    await crm.points.add(hanako_id, 1200, source="admin")
    await services.steps.start(hanako_id, "フォローアップ", source="admin")
    assert await hanako.texts(1) == ["ご登録ありがとうございます"]
    await services.steps.start(hanako_id, "ニュース", source="admin")
    await services.steps.pause(hanako_id, "ニュース")
    await talk(hanako_id, "2026-03-30T09:00:00+09:00", "in", "最初のメッセージ")
    await talk(hanako_id, "2026-03-31T18:05:00+09:00", "in", "予約できますか?")
    await talk(hanako_id, "2026-03-31T18:10:00+09:00", "out", "はい、できます")
    await talk(hanako_id, "2026-04-01T09:00:00+09:00", "in", "明日の10時で")
    await talk(hanako_id, "2026-04-01T09:01:00+09:00", "out", "承りました")
    await talk(hanako_id, "2026-04-01T09:30:00+09:00", "in", "よろしく" * 30)

    card = await friend_card(services, await Friend.get(id=hanako_id))

    assert card["altText"] == f"友だち情報 #{hanako_id} 山田花子"
    assert texts(card)[:2] == ["山田花子", f"#{hanako_id}"]
    figures = rows(card)
    assert figures["友だち追加日"] == "2026/04/01"
    assert "状態" not in figures  # not blocked
    assert figures["ポイント"] == "1,200 pt"
    assert section(card, "タグ (2)") == ["常連、VIP"]  # newest first, the removed one gone
    assert section(card, "友だち情報") == [
        "会員ランク", "ゴールド", "誕生日", "1990/04/05", "興味", "和食、中華",
    ]  # fmt: skip
    assert "メモ" not in figures
    assert figures["フォローアップ"] == "次: 2/3通目 第2回 4/2 10:00予定"
    assert figures["ニュース"] == "次: 1/1通目 (一時停止中)"
    assert section(card, "最近のトーク") == [
        "3/31 18:05 山田花子", "予約できますか?",
        "3/31 18:10 管理者", "はい、できます",
        "09:00 山田花子", "明日の10時で",
        "09:01 管理者", "承りました",
        "09:30 山田花子", "よろしく" * 14 + "よろし…",
    ]  # fmt: skip
    assert buttons(card) == [
        ("タグ履歴", f"/タグ履歴 #{hanako_id}"),
        ("トーク履歴", f"/トーク #{hanako_id}"),
    ]

    assert await delivered(services, admin, card, "test:card") == card


async def test_a_blocked_friend_with_many_tags_and_no_talk(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2026-04-01T10:00:00+09:00")
    admin, _ = await joined(sandbox, "管理者さん")
    gone, gone_id = await joined(sandbox, "ブロックした人")
    for number in range(1, 16):
        clock.clock.advance(timedelta(seconds=1))
        await services.crm.tags.add(gone_id, f"キャンペーン{number:02d}", source="admin")
    await gone.block()
    await sandbox.settle()

    card = await friend_card(services, await Friend.get(id=gone_id))

    figures = rows(card)
    assert figures["状態"] == "ブロック中"
    assert figures["ポイント"] == "0 pt"
    newest = "、".join(f"キャンペーン{number:02d}" for number in range(15, 3, -1))
    assert section(card, "タグ (15)") == [newest, "ほか 3 件"]
    assert section(card, "最近のトーク") == ["メッセージはまだありません"]
    assert "友だち情報" not in texts(card) and "ステップ配信" not in texts(card)
    assert await delivered(services, admin, card, "test:card:blocked") == card


# --- account statistics -------------------------------------------------------------------


async def test_account_statistics_count_friends_deliveries_and_tags(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    crm = services.crm
    text = [{"type": "text", "text": "お知らせ"}]
    start_at("2026-03-25T12:00:00+09:00")  # Wednesday of the week before
    a, a_id = await joined(sandbox, "A")
    b, b_id = await joined(sandbox, "B")
    await delivered(services, a, text[0], "test:march:a")  # billable, but in March
    await b.block()
    start_at("2026-03-29T23:50:00+09:00")  # Sunday: still last week
    c, c_id = await joined(sandbox, "C")
    start_at("2026-03-30T00:30:00+09:00")  # Monday: this week, still March
    d, d_id = await joined(sandbox, "D")
    await delivered(services, d, text[0], "test:march:d")
    start_at("2026-04-01T09:00:00+09:00")  # today (Wednesday): three welcomes (free replies)
    e, e_id = await joined(sandbox, "E")
    _, f_id = await joined(sandbox, "F")
    g, g_id = await joined(sandbox, "G")
    await g.block()
    await sandbox.settle()
    await delivered(services, e, text[0], "test:today:e")
    await services.outbox.enqueue_many(
        [{"recipients": [c.user_id, d.user_id, e.user_id], "messages": text, "dedupe_key": "m"}],
        source="admin:test",
    )
    await sandbox.advance("1m")  # the tick sends the multicast
    for friend in (c, d, e):
        assert await friend.texts(1) == ["お知らせ"]
    refused = await services.outbox.send(UNKNOWN_USER, text, source="admin:test", dedupe_key="x")
    assert refused.status == "failed"
    everyone = [a_id, b_id, c_id, d_id, e_id, f_id, g_id]
    for name, holders in (("VIP", 6), ("紹介", 5), ("常連", 4), ("広告", 3), ("お試し", 2)):
        await crm.tags.add_many(everyone[:holders], name, source="admin")
    await crm.tags.add_many(everyone[:3], "休眠", source="admin")
    for friend_id in everyone[1:3]:
        await crm.tags.remove(friend_id, "休眠", source="admin")

    stats = await account_stats(services)

    assert stats == AccountStats(
        following=5,  # A C D E F
        blocked=2,  # B G
        new_this_week=4,  # D E F G
        delivered_today=7,  # 3 welcomes, 1 push, a multicast to 3
        failed_today=1,
        billable_this_month=4,  # the push and the multicast's 3 (replies are free)
        top_tags=[
            TagCount("VIP", 6),
            TagCount("紹介", 5),
            TagCount("常連", 4),
            TagCount("広告", 3),
            TagCount("お試し", 2),
        ],
    )
    now_local = clock.now().astimezone(services.scenario.zone)
    message = stats_message(stats, now_local)
    figures = rows(message)
    assert figures["友だち(有効)"] == "5人"
    assert figures["ブロック"] == "2人"
    assert figures["今週の新しい友だち"] == "4人"
    assert figures["今日の配信"] == "7通"
    assert figures["今日の配信失敗"] == "1通"
    assert figures["4月の課金対象"] == "4通"
    assert bars(message) == [
        ("VIP", "6人", "100%"),
        ("紹介", "5人", "83%"),
        ("常連", "4人", "67%"),
        ("広告", "3人", "50%"),
        ("お試し", "2人", "33%"),
    ]
    assert await delivered(services, a, message, "test:stats") == message


def test_statistics_use_thousands_separators_and_say_the_figures_in_the_alt_text() -> None:
    stats = AccountStats(
        following=12345,
        blocked=678,
        new_this_week=1001,
        delivered_today=23456,
        failed_today=0,
        billable_this_month=1234567,
        top_tags=[TagCount("VIP", 2000), TagCount("休眠", 1)],
    )
    message = stats_message(stats, datetime.fromisoformat("2026-04-01T10:05:00+09:00"))
    assert message["altText"] == (
        "アカウント統計 4/1: 友だち 12,345人(ブロック 678人)、今週 +1,001人、"
        "今日の配信 23,456通(失敗 0通)、4月の課金対象 1,234,567通"
    )
    assert rows(message)["4月の課金対象"] == "1,234,567通"
    # a tag held by one friend in two thousand still shows a sliver of a bar
    assert bars(message) == [("VIP", "2,000人", "100%"), ("休眠", "1人", "1%")]
    assert "2026/04/01 10:05 時点" in texts(message)


# --- CSV export ---------------------------------------------------------------------------


def exported_users(body: bytes) -> list[str]:
    header, *records = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert tuple(header[: len(EXPORT_COLUMNS)]) == EXPORT_COLUMNS
    return [record[EXPORT_COLUMNS.index("line_user_id")] for record in records]


async def test_an_export_link_downloads_the_audience_as_csv_until_it_expires(
    scenario_app: tuple[SandboxDriver, Services], http: aiohttp.ClientSession
) -> None:
    sandbox, services = scenario_app
    start_at("2026-04-01T10:00:00+09:00")
    hanako, hanako_id = await joined(sandbox, "花子")
    taro, taro_id = await joined(sandbox, "太郎")
    jiro, _ = await joined(sandbox, "次郎")
    await services.crm.tags.add_many([hanako_id, taro_id], "VIP", source="admin")
    await taro.block()
    await sandbox.settle()

    vip_url = await create_export_link(services, "Uadmin", {"tag": "VIP"}, "タグ:VIP")
    all_url = await create_export_link(services, "Uadmin", None, "全員")

    prefix = services.settings.base_url + EXPORT_PATH
    assert vip_url.startswith(prefix) and all_url.startswith(prefix)
    token = vip_url.removeprefix(prefix)
    zone = services.scenario.zone
    before = clock.now().astimezone(zone)
    async with http.get(vip_url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-store"
        disposition = resp.headers["Content-Disposition"]
        assert exported_users(await resp.read()) == [hanako.user_id, taro.user_id]
    after = clock.now().astimezone(zone)
    assert disposition in {
        f'attachment; filename="friends-{when:%Y%m%d-%H%M}.csv"' for when in (before, after)
    }
    async with http.get(all_url) as resp:
        assert resp.status == 200
        assert exported_users(await resp.read()) == [hanako.user_id, taro.user_id, jiro.user_id]

    link = await ExportLink.get(token_hash=hashlib.sha256(token.encode()).hexdigest())
    assert (link.admin_user_id, link.audience, link.audience_label) == (
        "Uadmin", {"tag": "VIP"}, "タグ:VIP",
    )  # fmt: skip
    assert link.downloads == 1
    stored = json.dumps(await ExportLink.all().values(), default=str)
    assert token not in stored  # only the hash is kept

    base = services.settings.base_url
    for url in (
        prefix + "w" + token[1:],  # a wrong token of the right shape
        prefix + "not-a-token",
        prefix,
        base + EXPORT_PATH.rstrip("/"),
        f"{base}{EXPORT_PATH.rstrip('/')}?token={token}",
        f"{prefix}?token={token}",
    ):
        async with http.get(url) as resp:
            assert resp.status == 404, url
            assert "このリンクは無効です" in await resp.text()

    await sandbox.advance("29m")  # export_expires is 30m
    async with http.get(vip_url) as resp:
        assert resp.status == 200
    await sandbox.advance("2m")
    for url in (vip_url, all_url):
        async with http.get(url) as resp:
            assert resp.status == 410
            assert EXPIRED_TEXT in await resp.text()
    assert (await ExportLink.get(id=link.id)).downloads == 2


async def test_an_export_for_an_impossible_audience_is_refused_before_any_link_exists(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    _, services = scenario_app
    with pytest.raises(ValidationError):
        await create_export_link(services, "Uadmin", {"colour": "red"}, "?")
    with pytest.raises(SegmentError):
        await create_export_link(services, "Uadmin", {"segment": "ない"}, "?")
    url = await create_export_link(services, "Uadmin", {"segment": "vip"}, "セグメント:vip")
    assert re.fullmatch(re.escape(services.settings.base_url + EXPORT_PATH) + r"[\w-]{43}", url)
    assert await ExportLink.all().count() == 1
