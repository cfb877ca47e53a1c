"""Inflow routes (流入経路) end to end: `/r/NAME` visits, LIFF identification with sandbox ID
tokens, follow matching, the thanks-page trick, conversions, QR codes, and the code a
friend sends in chat when there is no LIFF (against an independent LINE stand-in)."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import segno
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.crm.tags import current_tags, has_tag
from bot.db.models import RouteArrival, RouteVisit, StepRun
from bot.integrations import qr
from bot.integrations.route_codes import code_in
from bot.integrations.route_stats import route_counts
from bot.sandbox.setup import standalone_app
from bot.services import Services
from tests.conftest import free_port, make_settings, start_server
from tests.dsl import SandboxDriver, friend_id_of, joined, start_at

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ!"]
tags: [Instagram流入, 決済完了者, 経路ルール]
steps:
  ようこそ:
    steps:
      - {name: 1通目, after: 0, messages: ["Instagramから来てくれてありがとうございます"]}
  会員コース:
    steps:
      - {name: 第1回, after: 0, messages: ["会員コース 第1回のご案内です"]}
rules:
  - name: 経路から来た人
    when: [{route: instagram}]
    do: [{add_tag: 経路ルール}]
routes:
  instagram:
    title: Instagramプロフィール
    do: [{add_tag: Instagram流入}, {start_steps: ようこそ}]
    conversion: {tag: 決済完了者, within: 7d}
  thanks:
    title: 決済完了ページ
    to: "https://shop.example.com/thanks"
    do: [{add_tag: 決済完了者}, {start_steps: 会員コース}]
  coupon:
    title: 店頭POP
    once: false
    do: [{send: ["本日のクーポンです: 10%オフ"]}]
"""

App = tuple[SandboxDriver, Services]
THANKS = "https://shop.example.com/thanks"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Line/14.5.0"


async def open_route(
    sandbox: SandboxDriver, name: str, agent: str = PHONE, method: str = "GET"
) -> aiohttp.ClientResponse:
    async with sandbox.session.request(
        method, f"{sandbox.base_url}/r/{name}", allow_redirects=False,
        headers={"User-Agent": agent},
    ) as resp:  # fmt: skip
        await resp.read()
        return resp


async def visit_code(sandbox: SandboxDriver, name: str) -> str:
    """Open the route as a phone does; the visit code from the LIFF redirect."""
    resp = await open_route(sandbox, name)
    assert resp.status == 302, resp.status
    location = urlsplit(resp.headers["Location"])
    assert location.path == f"/liff/go/{name}"
    return parse_qs(location.query)["v"][0]


async def go(
    sandbox: SandboxDriver, name: str, code: str | None, token: str | None
) -> tuple[int, dict[str, Any]]:
    """What the LIFF page does: post the ID token and the visit code."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with sandbox.session.post(
        f"{sandbox.base_url}/liff/api/go/{name}", json={"visit": code}, headers=headers
    ) as resp:
        return resp.status, await resp.json()


async def counts(name: str) -> dict[str, int]:
    c = (await route_counts([name]))[name]
    return {
        "visits": c.visits, "identified": c.identified, "arrivals": c.arrivals,
        "friend_adds": c.friend_adds, "actions_run": c.actions_run, "conversions": c.conversions,
    }  # fmt: skip


def forged(token: str) -> str:
    head, body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["sub"] = "U" + "f" * 32
    other = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{head}.{other}.{signature}"


# --- visits ------------------------------------------------------------------------------


async def test_each_visit_is_counted_and_sent_through_liff(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    first = await open_route(sandbox, "instagram")
    second = await open_route(sandbox, "instagram")
    for resp in (first, second):
        assert resp.status == 302
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Location"].startswith("/liff/go/instagram?v=")
    assert first.headers["Location"] != second.headers["Location"]  # a code per visit
    # Link previews (LINE's included) and HEAD requests are not people.
    for robot in ("facebookexternalhit/1.1;line-poker/1.0", "Twitterbot/1.0", "Slackbot 1.0"):
        preview = await open_route(sandbox, "instagram", agent=robot)
        assert preview.status == 200
    assert (await open_route(sandbox, "instagram", method="HEAD")).status == 200
    assert await counts("instagram") == {
        "visits": 2, "identified": 0, "arrivals": 0, "friend_adds": 0, "actions_run": 0,
        "conversions": 0,
    }  # fmt: skip


async def test_an_unknown_route_is_a_japanese_404(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    async with sandbox.session.get(f"{sandbox.base_url}/r/nothing-here") as resp:
        assert resp.status == 404
        assert "このリンクは見つかりません" in await resp.text()
    async with sandbox.session.get(f"{sandbox.base_url}/r/nothing-here/qr.png") as resp:
        assert resp.status == 404
    status, data = await go(sandbox, "nothing-here", None, None)
    assert (status, data["code"]) == (404, "not_found")
    assert await RouteVisit.all().count() == 0


# --- LIFF: friends -------------------------------------------------------------------------


async def test_a_friend_gets_the_routes_tag_and_steps_once(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, friend_id = await joined(sandbox, "花子")

    data = await sandbox.visit_route("instagram", friend.user_id)

    assert data["friend"] is True and data["next"] is None and data["close"] is True
    assert "友だち追加済みです" in data["message"]
    assert await friend.texts(1) == ["Instagramから来てくれてありがとうございます"]
    assert await has_tag(friend_id, "Instagram流入")
    assert await has_tag(friend_id, "経路ルール")  # rules with `route:` fire
    assert await counts("instagram") == {
        "visits": 1, "identified": 1, "arrivals": 1, "friend_adds": 0, "actions_run": 1,
        "conversions": 0,
    }  # fmt: skip

    # Back the same way: counted, but a `once` route does nothing twice.
    await sandbox.visit_route("instagram", friend.user_id)
    await friend.nothing_more()
    assert await StepRun.filter(friend_id=friend_id, scenario="ようこそ").count() == 1
    assert (await counts("instagram"))["visits"] == 2
    assert (await counts("instagram"))["arrivals"] == 1


async def test_reloading_the_page_does_not_run_anything_again(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, _ = await joined(sandbox, "花子")
    code = await visit_code(sandbox, "thanks")
    token = await sandbox.id_token(friend.user_id)
    for _ in range(2):
        status, data = await go(sandbox, "thanks", code, token)
        assert (status, data["next"]) == (200, THANKS)
    assert await friend.texts(1) == ["会員コース 第1回のご案内です"]
    await friend.nothing_more()
    assert await counts("thanks") == {
        "visits": 1, "identified": 1, "arrivals": 1, "friend_adds": 0, "actions_run": 1,
        "conversions": 0,
    }  # fmt: skip


async def test_a_route_that_is_not_once_acts_on_every_visit(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, _ = await joined(sandbox, "常連さん")
    for _ in range(2):
        await sandbox.visit_route("coupon", friend.user_id)
        assert await friend.texts(1) == ["本日のクーポンです: 10%オフ"]
    assert await counts("coupon") == {
        "visits": 2, "identified": 2, "arrivals": 1, "friend_adds": 0, "actions_run": 1,
        "conversions": 0,
    }  # fmt: skip


# --- LIFF: not a friend yet --------------------------------------------------------------


async def test_a_visitor_who_follows_afterwards_arrives_as_a_new_friend(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    newcomer = await sandbox.friend("新人さん")  # has LINE, has not added the account

    data = await sandbox.visit_route("instagram", newcomer.user_id)

    assert data["friend"] is False and data["next"] == "/sandbox"  # the sandbox's friend-add
    visit = await RouteVisit.get(route="instagram")
    assert visit.line_user_id == newcomer.user_id and visit.friend_id is None
    assert (await counts("instagram"))["identified"] == 1
    assert await RouteArrival.all().count() == 0

    await newcomer.follow()
    assert await newcomer.texts(2) == ["ようこそ!", "Instagramから来てくれてありがとうございます"]
    friend_id = await friend_id_of(newcomer)
    assert await has_tag(friend_id, "Instagram流入")
    assert await counts("instagram") == {
        "visits": 1, "identified": 1, "arrivals": 1, "friend_adds": 1, "actions_run": 1,
        "conversions": 0,
    }  # fmt: skip


async def test_a_follow_a_day_after_the_visit_is_not_attributed(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    start_at("2027-03-01T10:00:00+09:00")
    late = await sandbox.friend("遅い人")
    await sandbox.visit_route("instagram", late.user_id)
    await sandbox.advance("25h")
    await late.follow()
    assert await late.texts(1) == ["ようこそ!"]
    await late.nothing_more()
    assert await current_tags(await friend_id_of(late)) == []
    assert (await counts("instagram"))["arrivals"] == 0


async def test_a_blocked_friend_is_sent_to_add_the_account_again(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, friend_id = await joined(sandbox, "ブロック中")
    await friend.block()
    await sandbox.settle()
    data = await sandbox.visit_route("instagram", friend.user_id)
    assert data["friend"] is False
    await friend.follow()  # unblocking: the visit is matched now
    await friend.received(2)
    assert await has_tag(friend_id, "Instagram流入")
    assert (await counts("instagram"))["friend_adds"] == 1


# --- the thanks-page trick and conversions -----------------------------------------------


async def test_a_payment_thanks_page_pointing_at_a_route_tags_the_payer(scenario_app: App) -> None:
    """A payment service's thanks page set to /r/thanks: the payer is tagged 決済完了者 and
    starts the member course, then lands on the shop's own thanks page."""
    sandbox, _ = scenario_app
    payer, payer_id = await joined(sandbox, "購入者")

    data = await sandbox.visit_route("thanks", payer.user_id)

    assert data == {"friend": True, "next": THANKS, "message": "移動しています…"}
    assert await has_tag(payer_id, "決済完了者")
    assert await payer.texts(1) == ["会員コース 第1回のご案内です"]
    run = await StepRun.get(friend_id=payer_id, scenario="会員コース")
    assert run.status in ("running", "finished")


async def test_a_conversion_counts_within_the_window_only(scenario_app: App) -> None:
    sandbox, services = scenario_app
    start_at("2027-03-01T10:00:00+09:00")
    quick, quick_id = await joined(sandbox, "すぐ買う人")
    slow, slow_id = await joined(sandbox, "ゆっくり買う人")
    for friend in (quick, slow):
        await sandbox.visit_route("instagram", friend.user_id)
        await friend.received(1)
    await sandbox.advance("3d")
    await sandbox.visit_route("thanks", quick.user_id)  # pays 3 days after arriving
    await sandbox.advance("5d")
    await sandbox.visit_route("thanks", slow.user_id)  # 8 days after: outside `within: 7d`
    assert await has_tag(quick_id, "決済完了者") and await has_tag(slow_id, "決済完了者")

    instagram = (await route_counts(["instagram"]))["instagram"]
    assert (instagram.arrivals, instagram.conversions) == (2, 1)
    assert instagram.conversion_rate == 0.5
    assert (await RouteArrival.get(route="instagram", friend_id=quick_id)).converted_at is not None
    assert (await RouteArrival.get(route="instagram", friend_id=slow_id)).converted_at is None

    # the operator reads the same figures with `stepbot stats --csv`
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "stats", "--csv",
        env={
            **os.environ,
            "DATABASE_URL": services.settings.database_url,
            "STEPBOT_SCENARIO": str(services.settings.scenario_path),
        },
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0
    rows = list(csv.reader(out.decode("utf-8-sig").splitlines()))
    instagram_rows = {tuple(r[3:]) for r in rows if r[:2] == ["routes", "instagram"]}
    assert {("visits", "2"), ("arrivals", "2"), ("conversions", "1")} <= instagram_rows
    assert ("conversion_rate", "0.5") in instagram_rows


# --- refusals ----------------------------------------------------------------------------


async def test_a_missing_or_forged_token_is_refused_and_nothing_attributed(
    scenario_app: App,
) -> None:
    sandbox, _ = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    code = await visit_code(sandbox, "instagram")
    token = await sandbox.id_token(friend.user_id)
    other_channel = await sandbox.id_token(friend.user_id, channelId="1999999999")

    assert (await go(sandbox, "instagram", code, None))[1]["code"] == "token_missing"
    for bad in (forged(token), token[:-2] + "xx", other_channel, "not-a-token"):
        status, data = await go(sandbox, "instagram", code, bad)
        assert (status, data["code"]) == (401, "token_invalid"), bad
        assert data["message"].startswith("認証できませんでした")

    visit = await RouteVisit.get(code=code)
    assert visit.line_user_id is None and visit.friend_id is None
    assert await RouteArrival.all().count() == 0
    assert await current_tags(friend_id) == []
    await friend.nothing_more()


async def test_a_user_id_in_the_body_is_ignored(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    victim, victim_id = await joined(sandbox, "別の人")
    code = await visit_code(sandbox, "thanks")
    async with sandbox.session.post(
        f"{sandbox.base_url}/liff/api/go/thanks",
        json={"visit": code, "userId": victim.user_id, "friend_id": victim_id},
        headers={"Authorization": f"Bearer {await sandbox.id_token(friend.user_id)}"},
    ) as resp:
        assert resp.status == 200
    assert await has_tag(friend_id, "決済完了者")
    assert not await has_tag(victim_id, "決済完了者")


# --- QR codes ----------------------------------------------------------------------------


async def test_the_qr_code_encodes_the_route_url(scenario_app: App) -> None:
    sandbox, services = scenario_app
    url = f"{services.settings.base_url}/r/instagram"
    async with sandbox.session.get(f"{sandbox.base_url}/r/instagram/qr.png") as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        image = Image.open(io.BytesIO(await resp.read())).convert("L")
    assert image.size == (qr.pixel_size(url), qr.pixel_size(url))
    # Read the modules back at their centres: they are the QR code of the route's URL.
    expected = segno.make_qr(url, error="m", boost_error=False).matrix
    read = [
        [
            1 if image.getpixel(((x + qr.BORDER) * qr.SCALE + qr.SCALE // 2,
                                 (y + qr.BORDER) * qr.SCALE + qr.SCALE // 2)) < 128 else 0
            for x in range(len(expected))
        ]
        for y in range(len(expected))
    ]  # fmt: skip
    assert read == [list(row) for row in expected]

    async with sandbox.session.get(f"{sandbox.base_url}/r/instagram/qr.svg") as resp:
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        assert b"<svg" in await resp.read()
    assert await RouteVisit.all().count() == 0  # fetching the QR code is not a visit


def test_only_a_code_shaped_message_is_taken_for_a_code() -> None:
    assert code_in("K7M2-Q9XP") == "K7M2Q9XP"
    assert code_in("ｋ７ｍ２－ｑ９ｘｐ") == "K7M2Q9XP"
    assert code_in("コード K7M2Q9XP") == "K7M2Q9XP"
    assert code_in(" k7m2 q9xp ") == "K7M2Q9XP"
    for text in (
        "HELPDESK", "営業時間", "メニュー", "K7M2-Q9X", "SB-7K3M-Q9XP", "K7M2-Q9X0", "cafe-menu",
        "data-type", "2345-6789", "コード ABCDEFGH",
    ):  # fmt: skip
        assert code_in(text) is None, text


# --- without LIFF: the code sent in chat ---------------------------------------------------

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "real-looking-channel-access-token"
FRIEND_URL = "https://line.me/R/ti/p/@stepbot-test"


class NoLiff:
    def __init__(self, line: SandboxDriver, bot: SandboxDriver) -> None:
        self.line = line
        self.bot = bot


@pytest.fixture
async def no_liff(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> AsyncIterator[NoLiff]:
    """stepbot for a real channel without LIFF_ID, pointed at an independent LINE stand-in."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO_TEXT, encoding="utf-8")
    line_port = free_port()
    settings = make_settings(
        database_url,
        STEPBOT_SCENARIO=str(scenario),
        LINE_CHANNEL_SECRET=SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
        LINE_API_BASE_URL=f"http://127.0.0.1:{line_port}",
        LINE_FRIEND_URL=FRIEND_URL,
    )
    assert not settings.sandbox and settings.liff_id is None
    line = TestServer(
        standalone_app(
            webhook_url=f"{settings.base_url}/callback", channel_secret=SECRET,
            expected_token=TOKEN,
        ),
        host="127.0.0.1",
        port=line_port,
    )  # fmt: skip
    await line.start_server()
    bot = await start_server(settings)
    try:
        yield NoLiff(
            SandboxDriver(f"http://127.0.0.1:{line_port}", http),
            SandboxDriver(settings.base_url, http),
        )
    finally:
        await bot.close()
        await line.close()


async def landing_code(bot: SandboxDriver, name: str) -> str:
    async with bot.session.get(f"{bot.base_url}/r/{name}", headers={"User-Agent": PHONE}) as resp:
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        html = await resp.text()
    assert f'href="{FRIEND_URL}"' in html
    assert "https://line.me/R/oaMessage/%40stepbot-test/?" in html
    start = html.index('data-testid="code">') + len('data-testid="code">')
    return html[start : start + 9]


async def test_without_liff_a_friend_sends_the_landing_pages_code(no_liff: NoLiff) -> None:
    line, bot = no_liff.line, no_liff.bot
    code = await landing_code(bot, "instagram")
    assert code_in(code) is not None

    newcomer = await line.friend("新人さん")
    await newcomer.follow()
    assert await newcomer.texts(1) == ["ようこそ!"]
    await newcomer.say(code.lower())
    texts = await newcomer.texts(2)
    assert "コードを確認しました。ありがとうございます。" in texts
    assert "Instagramから来てくれてありがとうございます" in texts
    friend_id = await friend_id_of(newcomer)
    assert await has_tag(friend_id, "Instagram流入")
    assert await counts("instagram") == {
        "visits": 1, "identified": 1, "arrivals": 1, "friend_adds": 1, "actions_run": 1,
        "conversions": 0,
    }  # fmt: skip

    await newcomer.say(code)  # sent twice
    assert await newcomer.texts(1) == ["このコードは受け付け済みです。"]
    await newcomer.say("ABCD-EF23")  # never handed out
    assert "見つからないか" in (await newcomer.texts(1))[0]
    assert (await counts("instagram"))["arrivals"] == 1


async def test_without_liff_a_friend_from_before_is_no_new_friend(no_liff: NoLiff) -> None:
    line, bot = no_liff.line, no_liff.bot
    regular = await line.friend("常連さん")
    await regular.follow()
    await regular.received(1)
    code = await landing_code(bot, "instagram")
    await regular.say(code)
    await regular.received(2)
    assert (await counts("instagram"))["arrivals"] == 1
    assert (await counts("instagram"))["friend_adds"] == 0


async def test_without_liff_a_target_route_counts_and_redirects(no_liff: NoLiff) -> None:
    bot = no_liff.bot
    async with bot.session.get(f"{bot.base_url}/r/thanks", allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == THANKS
    assert (await counts("thanks"))["visits"] == 1
