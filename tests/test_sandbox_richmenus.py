"""The LINE stand-in's rich-menu endpoints, driven with line-bot-sdk's own async clients.

The stand-in runs alone (no bot), so nothing but the test touches its rich menus; a small
receiver stands in for the bot's /callback and keeps the webhooks the virtual friends send.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    CreateRichMenuAliasRequest,
    RichMenuBulkLinkRequest,
    RichMenuBulkUnlinkRequest,
    RichMenuRequest,
    UpdateRichMenuAliasRequest,
)
from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import PostbackEvent
from PIL import Image
from pydantic.v1 import ValidationError

from bot.line.signature import sign
from bot.sandbox.platform import STATE_KEY
from bot.sandbox.setup import standalone_app
from bot.sandbox.state import SandboxState
from tests.dsl import FriendDriver, SandboxDriver

SECRET = "0123456789abcdef0123456789abcdef"
AUTH = {"Authorization": "Bearer any-token"}
RICH_MENU_ID = re.compile(r"^richmenu-[0-9a-f]{32}$")
WIDTH, HEIGHT = 2500, 843
NOT_FOUND = {"message": "Not found"}
NO_IMAGE = {"message": "must upload richmenu image before applying it to user", "details": []}
RATE_LIMITED = {"message": "The API rate limit has been exceeded. Try again later."}


def png(width: int = WIDTH, height: int = HEIGHT, color: str = "#2e7d32") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "#1565c0").save(buffer, "JPEG")
    return buffer.getvalue()


def area(x: int, width: int, action: dict[str, Any], height: int = HEIGHT) -> dict[str, Any]:
    return {"bounds": {"x": x, "y": 0, "width": width, "height": height}, "action": action}


def menu_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": "メインメニュー",
        "chatBarText": "メニュー",
        "areas": [
            area(0, 1250, {"type": "message", "label": "営業時間", "text": "営業時間"}),
            area(
                1250, 1250, {"type": "richmenuswitch", "richMenuAliasId": "tab-b", "data": "tab=b"}
            ),
        ],
    }
    body.update(changes)
    return body


def error(*details: tuple[str, str]) -> dict[str, Any]:
    """LINE's 400 body for a request body that breaks the rules."""
    return {
        "message": f"The request body has {len(details)} error(s)",
        "details": [{"message": m, "property": p} for p, m in details],
    }


@dataclass
class Line:
    """The stand-in, the SDK's two clients pointed at it, and the webhooks it sent."""

    base_url: str
    state: SandboxState
    api: AsyncMessagingApi
    blob: AsyncMessagingApiBlob
    http: aiohttp.ClientSession
    sandbox: SandboxDriver
    webhooks: list[dict[str, Any]] = field(default_factory=list)

    async def raw(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A request the SDK would refuse to build, sent as any other client could."""
        url = f"{self.base_url}/v2/bot{path}"
        async with self.http.request(method, url, json=body, headers=AUTH) as resp:
            return resp.status, await resp.json()

    async def create(self, **changes: Any) -> str:
        menu = await self.api.create_rich_menu(RichMenuRequest.from_dict(menu_body(**changes)))
        return str(menu.rich_menu_id)

    async def upload(self, rich_menu_id: str, image: bytes, kind: str = "image/png") -> None:
        await self.blob.set_rich_menu_image(
            rich_menu_id, body=image, _headers={"Content-Type": kind}
        )

    async def ready_menu(self, **changes: Any) -> str:
        rich_menu_id = await self.create(**changes)
        await self.upload(rich_menu_id, png())
        return rich_menu_id

    async def friend(self, name: str, follow: bool = True) -> FriendDriver:
        friend = await self.sandbox.friend(name)
        if follow:
            await friend.follow()
        return friend

    async def shown(self, user_id: str) -> Any:
        """The menu the simulator shows this friend (null when none)."""
        return await self.sandbox.get(f"/sandbox/api/friends/{user_id}/richmenu")


async def refused(call: Any) -> tuple[int, Any]:
    """Status and JSON body of the ApiException an SDK call raises."""
    with pytest.raises(ApiException) as caught:
        await call
    return caught.value.status, json.loads(caught.value.body)


@pytest.fixture
async def line(http: aiohttp.ClientSession) -> AsyncIterator[Line]:
    webhooks: list[dict[str, Any]] = []
    parser = WebhookParser(SECRET)

    async def callback(request: web.Request) -> web.Response:
        body = await request.text()
        assert request.headers["X-Line-Signature"] == sign(SECRET, body.encode())
        parser.parse(body, request.headers["X-Line-Signature"])  # strict, as the bot's
        webhooks.extend(json.loads(body)["events"])
        return web.json_response({})

    receiver = web.Application()
    receiver.router.add_post("/callback", callback)
    bot = TestServer(receiver, host="127.0.0.1")
    await bot.start_server()
    app = standalone_app(webhook_url=str(bot.make_url("/callback")), channel_secret=SECRET)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base_url = str(server.make_url("")).rstrip("/")
    try:
        async with AsyncApiClient(Configuration(host=base_url, access_token="any-token")) as client:
            yield Line(
                base_url=base_url,
                state=app[STATE_KEY],
                api=AsyncMessagingApi(client),
                blob=AsyncMessagingApiBlob(client),
                http=http,
                sandbox=SandboxDriver(base_url, http),
                webhooks=webhooks,
            )
    finally:
        await server.close()
        await bot.close()


# --- menus ---------------------------------------------------------------------------------


async def test_create_get_list_validate_and_unknown_ids(line: Line) -> None:
    rich_menu_id = await line.create()
    assert RICH_MENU_ID.match(rich_menu_id)

    menu = await line.api.get_rich_menu(rich_menu_id)
    assert (menu.name, menu.chat_bar_text, menu.selected) == ("メインメニュー", "メニュー", True)
    assert (menu.size.width, menu.size.height) == (WIDTH, HEIGHT)
    assert [a.action.type for a in menu.areas] == ["message", "richmenuswitch"]
    listed = await line.api.get_rich_menu_list()
    assert [m.rich_menu_id for m in listed.richmenus] == [rich_menu_id]

    validated = await line.api.validate_rich_menu_object_with_http_info(
        RichMenuRequest.from_dict(menu_body())
    )
    assert validated.status_code == 200
    assert len((await line.api.get_rich_menu_list()).richmenus) == 1  # validating creates nothing

    unknown = "richmenu-" + "0" * 32
    assert await refused(line.api.get_rich_menu(unknown)) == (404, NOT_FOUND)
    assert await refused(line.api.delete_rich_menu(unknown)) == (404, NOT_FOUND)
    assert await refused(line.blob.get_rich_menu_image(unknown)) == (404, NOT_FOUND)
    # No image yet: nothing to download either.
    assert await refused(line.blob.get_rich_menu_image(rich_menu_id)) == (404, NOT_FOUND)


LIMIT_CASES = [
    pytest.param(
        {"size": {"width": 799, "height": 250}},
        error(("size.width", "Must be between 800 and 2500")),
        id="too-narrow",
    ),
    pytest.param(
        {"size": {"width": 2500, "height": 249}},
        error(("size.height", "Must be 250 or more")),
        id="too-low",
    ),
    pytest.param(
        {"size": {"width": 1200, "height": 828}, "areas": []},
        error(("size", "The aspect ratio (width / height) must be 1.45 or more")),
        id="ratio-below-1.45",
    ),
    pytest.param(
        {"areas": [area(i * 125, 125, {"type": "message", "text": str(i)}) for i in range(21)]},
        error(("areas", "Size must be between 0 and 20")),
        id="21-areas",
    ),
    pytest.param(
        {"areas": [area(2000, 501, {"type": "message", "text": "はみ出し"})]},
        error(("areas[0].bounds", "The area must lie within the rich menu (2500x843)")),
        id="area-outside-the-image",
    ),
    pytest.param(
        {"areas": [area(0, 2500, {"type": "camera", "label": "カメラ"})]},
        error(
            (
                "areas[0].action.type",
                "Must be one of the following values: "
                "[postback, message, uri, datetimepicker, richmenuswitch, clipboard]",
            )
        ),
        id="quick-reply-only-action",
    ),
    pytest.param(
        {"areas": [area(0, 2500, {"type": "uri", "uri": "ftp://example.com/"})]},
        error(("areas[0].action.uri", "invalid uri")),
        id="uri-scheme",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), LIMIT_CASES)
async def test_validate_and_create_refuse_what_line_refuses(
    line: Line, changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    request = RichMenuRequest.from_dict(menu_body(**changes))  # the SDK's model lets it through
    assert await refused(line.api.validate_rich_menu_object(request)) == (400, expected)
    assert await refused(line.api.create_rich_menu(request)) == (400, expected)
    assert (await line.api.get_rich_menu_list()).richmenus == []


async def test_rules_the_sdk_enforces_are_enforced_for_every_client(line: Line) -> None:
    long_bar = menu_body(chatBarText="タップしてメニューを開いてね!")
    assert len(long_bar["chatBarText"]) == 15
    with pytest.raises(ValidationError):
        RichMenuRequest.from_dict(long_bar)
    expected = error(("chatBarText", "Length must be between 0 and 14"))
    assert await line.raw("POST", "/richmenu/validate", long_bar) == (400, expected)
    assert await line.raw("POST", "/richmenu", long_bar) == (400, expected)

    nameless = menu_body()
    del nameless["name"]
    assert await line.raw("POST", "/richmenu", nameless) == (
        400,
        error(("name", "must be specified")),  # LINE's own example
    )
    assert (await line.api.get_rich_menu_list()).richmenus == []


# --- images --------------------------------------------------------------------------------


async def test_image_must_match_the_menu_and_can_be_uploaded_once(line: Line) -> None:
    rich_menu_id = await line.create()
    image = png()

    wrong_size = line.upload(rich_menu_id, png(1200, 405))
    assert await refused(wrong_size) == (
        400,
        {"message": "The image size is not allowed for richmenu"},
    )
    gif = line.upload(rich_menu_id, b"GIF89a", kind="image/gif")
    assert await refused(gif) == (415, {"message": "Unsupported media type"})
    too_big = line.upload(rich_menu_id, image + b"\0" * 1_000_000)
    status, body = await refused(too_big)
    assert status == 400 and "1 MB" in body["message"]

    await line.upload(rich_menu_id, image)
    assert bytes(await line.blob.get_rich_menu_image(rich_menu_id)) == image
    again = line.upload(rich_menu_id, image)
    assert await refused(again) == (
        400,
        {"message": "An image has already been uploaded to the richmenu"},
    )
    unknown = line.upload("richmenu-" + "f" * 32, image)
    assert await refused(unknown) == (404, NOT_FOUND)

    uploads = [
        c
        for c in (await line.sandbox.get("/sandbox/api/calls"))["calls"]
        if c["path"].endswith("/content")
    ]
    assert [(c["method"], c["status"]) for c in uploads] == [
        ("POST", 400),
        ("POST", 415),
        ("POST", 400),
        ("POST", 200),
        ("GET", 200),
        ("POST", 400),
        ("POST", 404),
    ]
    assert uploads[3]["body"] == {"contentType": "image/png", "size": len(image)}


async def test_jpeg_images_are_accepted(line: Line) -> None:
    rich_menu_id = await line.create(size={"width": 1200, "height": 405}, areas=[])
    image = jpeg(1200, 405)
    await line.upload(rich_menu_id, image, kind="image/jpeg")
    downloaded = await line.blob.get_rich_menu_image_with_http_info(rich_menu_id)
    assert bytes(downloaded.data) == image
    assert downloaded.headers["Content-Type"] == "image/jpeg"


# --- per user, bulk and default ------------------------------------------------------------


async def test_link_and_unlink_one_friend(line: Line) -> None:
    friend = await line.friend("リンクさん")
    rich_menu_id = await line.create()

    # Linking a menu without its image is an error at LINE.
    assert await refused(line.api.link_rich_menu_id_to_user(friend.user_id, rich_menu_id)) == (
        400,
        NO_IMAGE,
    )
    await line.upload(rich_menu_id, png())
    await line.api.link_rich_menu_id_to_user(friend.user_id, rich_menu_id)
    linked = await line.api.get_rich_menu_id_of_user(friend.user_id)
    assert linked.rich_menu_id == rich_menu_id
    assert line.state.rich_menus.linked_menu_id(friend.user_id) == rich_menu_id
    assert (await line.shown(friend.user_id))["richMenuId"] == rich_menu_id

    unknown_menu = line.api.link_rich_menu_id_to_user(friend.user_id, "richmenu-" + "0" * 32)
    assert await refused(unknown_menu) == (404, NOT_FOUND)
    bad_user = line.api.link_rich_menu_id_to_user("U-not-a-user", rich_menu_id)
    assert await refused(bad_user) == (
        400,
        {"message": "The value for the 'userId' parameter is invalid"},
    )

    await line.api.unlink_rich_menu_id_from_user(friend.user_id)
    assert await refused(line.api.get_rich_menu_id_of_user(friend.user_id)) == (
        404,
        {"message": "the user has no richmenu", "details": []},
    )
    assert await line.shown(friend.user_id) is None


async def test_friends_who_do_not_follow_get_no_link_though_line_answers_200(line: Line) -> None:
    stranger = await line.friend("未追加さん", follow=False)
    rich_menu_id = await line.ready_menu()
    answer = await line.api.link_rich_menu_id_to_user_with_http_info(stranger.user_id, rich_menu_id)
    assert answer.status_code == 200
    status, _ = await refused(line.api.get_rich_menu_id_of_user(stranger.user_id))
    assert status == 404


async def test_bulk_link_takes_500_friends_and_refuses_501(line: Line) -> None:
    created = await line.sandbox.post("/sandbox/api/friends/bulk", {"count": 501})
    user_ids = created["userIds"]
    rich_menu_id = await line.create()
    five_hundred = RichMenuBulkLinkRequest(richMenuId=rich_menu_id, userIds=user_ids[:500])

    assert await refused(line.api.link_rich_menu_id_to_users(five_hundred)) == (400, NO_IMAGE)
    await line.upload(rich_menu_id, png())
    accepted = await line.api.link_rich_menu_id_to_users_with_http_info(five_hundred)
    assert accepted.status_code == 202
    assert all(line.state.rich_menus.linked_menu_id(u) == rich_menu_id for u in user_ids[:500])

    with pytest.raises(ValidationError):  # the SDK will not even send 501
        RichMenuBulkLinkRequest(richMenuId=rich_menu_id, userIds=user_ids)
    body = {"richMenuId": rich_menu_id, "userIds": user_ids}
    assert await line.raw("POST", "/richmenu/bulk/link", body) == (
        400,
        error(("userIds", "Size must be between 1 and 500")),
    )
    assert line.state.rich_menus.linked_menu_id(user_ids[500]) is None

    bad = {"richMenuId": rich_menu_id, "userIds": [user_ids[0], "Uxyz"]}
    assert await line.raw("POST", "/richmenu/bulk/link", bad) == (
        400,
        {
            "message": "The property, 'userIds[1]', in the request body is invalid (line: -, column: -)"
        },
    )
    missing = {"richMenuId": "richmenu-" + "0" * 32, "userIds": [user_ids[0]]}
    assert await line.raw("POST", "/richmenu/bulk/link", missing) == (
        404,
        {"message": "richmenu not found", "details": []},
    )

    unlinked = await line.api.unlink_rich_menu_id_from_users_with_http_info(
        RichMenuBulkUnlinkRequest(userIds=user_ids[:500])
    )
    assert unlinked.status_code == 202
    assert not any(line.state.rich_menus.linked_menu_id(u) for u in user_ids)


async def test_default_menu_shows_unless_a_per_user_link_wins(line: Line) -> None:
    everyone, linked = await line.friend("一般さん"), await line.friend("個別さん")
    default_id = await line.ready_menu(chatBarText="みんなの")
    own_id = await line.ready_menu(chatBarText="あなたの")
    assert await refused(line.api.get_default_rich_menu_id()) == (
        404,
        {"message": "no default richmenu", "details": []},
    )
    bare_id = await line.create()
    assert await refused(line.api.set_default_rich_menu(bare_id)) == (400, NO_IMAGE)

    await line.api.set_default_rich_menu(default_id)
    await line.api.link_rich_menu_id_to_user(linked.user_id, own_id)
    assert (await line.api.get_default_rich_menu_id()).rich_menu_id == default_id
    assert (await line.shown(everyone.user_id))["chatBarText"] == "みんなの"
    shown = await line.shown(linked.user_id)
    assert (shown["chatBarText"], shown["selected"]) == ("あなたの", True)
    assert shown["areas"][0]["action"] == {
        "type": "message",
        "label": "営業時間",
        "text": "営業時間",
    }
    async with line.http.get(line.base_url + shown["imageUrl"]) as image:
        assert image.status == 200 and image.content_type == "image/png"
    # The default is not a per-user link.
    status, _ = await refused(line.api.get_rich_menu_id_of_user(everyone.user_id))
    assert status == 404

    await line.api.cancel_default_rich_menu()
    assert await line.shown(everyone.user_id) is None
    assert (await line.shown(linked.user_id))["chatBarText"] == "あなたの"


# --- aliases, switching, deleting ----------------------------------------------------------


async def test_aliases(line: Line) -> None:
    first, second = await line.ready_menu(), await line.ready_menu()
    await line.api.create_rich_menu_alias(
        CreateRichMenuAliasRequest(richMenuAliasId="tab-a", richMenuId=first)
    )
    alias = await line.api.get_rich_menu_alias("tab-a")
    assert (alias.rich_menu_alias_id, alias.rich_menu_id) == ("tab-a", first)

    again = line.api.create_rich_menu_alias(
        CreateRichMenuAliasRequest(richMenuAliasId="tab-a", richMenuId=second)
    )
    assert await refused(again) == (400, {"message": "conflict richmenu alias id", "details": []})
    no_image = await line.create()
    pointless = line.api.create_rich_menu_alias(
        CreateRichMenuAliasRequest(richMenuAliasId="tab-x", richMenuId=no_image)
    )
    assert await refused(pointless) == (400, {"message": "richmenu not found", "details": []})
    with pytest.raises(ValidationError):  # LINE allows lower case only; so does the SDK
        CreateRichMenuAliasRequest(richMenuAliasId="Tab-A", richMenuId=first)
    upper = {"richMenuAliasId": "Tab-A", "richMenuId": first}
    assert await line.raw("POST", "/richmenu/alias", upper) == (
        400,
        error(("richMenuAliasId", "invalid richMenuAliasId")),
    )
    bad_menu = {"richMenuAliasId": "tab-y", "richMenuId": "menu-1"}
    assert await line.raw("POST", "/richmenu/alias", bad_menu) == (
        400,
        error(("richMenuId", "invalid richMenuId")),  # LINE's own example
    )

    await line.api.update_rich_menu_alias("tab-a", UpdateRichMenuAliasRequest(richMenuId=second))
    listed = await line.api.get_rich_menu_alias_list()
    assert [(a.rich_menu_alias_id, a.rich_menu_id) for a in listed.aliases] == [("tab-a", second)]

    await line.api.delete_rich_menu_alias("tab-a")
    gone = {"message": "richmenu alias not found", "details": []}
    assert await refused(line.api.get_rich_menu_alias("tab-a")) == (404, gone)
    assert await refused(line.api.delete_rich_menu_alias("tab-a")) == (404, gone)
    assert (await line.api.get_rich_menu_alias_list()).aliases == []


def postbacks(line: Line, user_id: str) -> list[PostbackEvent]:
    """The friend's postback webhooks, parsed by line-bot-sdk as the bot parses them."""
    body = json.dumps({"destination": "U" + "0" * 32, "events": line.webhooks})
    events = WebhookParser(SECRET).parse(body, sign(SECRET, body.encode()))
    return [
        e
        for e in events
        if isinstance(e, PostbackEvent) and getattr(e.source, "user_id", None) == user_id
    ]


async def switch(line: Line, user_id: str, alias_id: str, data: str) -> dict[str, Any]:
    path = f"/sandbox/api/friends/{user_id}/richmenu/switch"
    return dict(await line.sandbox.post(path, {"richMenuAliasId": alias_id, "data": data}))


async def test_richmenuswitch_links_the_aliased_menu_and_sends_a_postback(line: Line) -> None:
    friend = await line.friend("タブさん")
    menu_a = await line.ready_menu(chatBarText="タブA")
    menu_b = await line.ready_menu(chatBarText="タブB")
    for alias_id, rich_menu_id in (("tab-a", menu_a), ("tab-b", menu_b)):
        request = CreateRichMenuAliasRequest(richMenuAliasId=alias_id, richMenuId=rich_menu_id)
        await line.api.create_rich_menu_alias(request)
    await line.api.set_default_rich_menu(menu_a)

    answer = await switch(line, friend.user_id, "tab-b", "tab=b")
    assert (answer["status"], answer["richMenu"]["chatBarText"]) == ("SUCCESS", "タブB")
    # As at LINE, the switch is a per-user link: the friend now has menu B of their own.
    assert (await line.api.get_rich_menu_id_of_user(friend.user_id)).rich_menu_id == menu_b

    answer = await switch(line, friend.user_id, "tab-zzz", "tab=zzz")
    assert (answer["status"], answer["richMenu"]["chatBarText"]) == (
        "RICHMENU_ALIAS_ID_NOTFOUND",
        "タブB",
    )
    events = postbacks(line, friend.user_id)
    assert [(e.postback.data, e.postback.params) for e in events] == [
        ("tab=b", {"newRichMenuAliasId": "tab-b", "status": "SUCCESS"}),
        ("tab=zzz", {"status": "RICHMENU_ALIAS_ID_NOTFOUND"}),
    ]
    assert all(e.reply_token for e in events)


async def test_deleting_a_menu_unlinks_it_and_clears_the_default(line: Line) -> None:
    friend, other = await line.friend("削除さん"), await line.friend("既定さん")
    rich_menu_id = await line.ready_menu()
    await line.api.link_rich_menu_id_to_user(friend.user_id, rich_menu_id)
    await line.api.set_default_rich_menu(rich_menu_id)
    await line.api.create_rich_menu_alias(
        CreateRichMenuAliasRequest(richMenuAliasId="doomed", richMenuId=rich_menu_id)
    )

    await line.api.delete_rich_menu(rich_menu_id)
    assert await refused(line.api.get_rich_menu(rich_menu_id)) == (404, NOT_FOUND)
    status, _ = await refused(line.api.get_rich_menu_id_of_user(friend.user_id))
    assert status == 404
    status, _ = await refused(line.api.get_default_rich_menu_id())
    assert status == 404
    assert await line.shown(friend.user_id) is None
    assert await line.shown(other.user_id) is None

    # The alias stays until deleted; a switch to it finds no menu, and LINE says so.
    assert (await line.api.get_rich_menu_alias("doomed")).rich_menu_id == rich_menu_id
    answer = await switch(line, friend.user_id, "doomed", "tab=doomed")
    assert (answer["status"], answer["richMenu"]) == ("RICHMENU_NOTFOUND", None)
    assert [e.postback.params for e in postbacks(line, friend.user_id)] == [
        {"status": "RICHMENU_NOTFOUND"}
    ]


# --- rate limits ---------------------------------------------------------------------------


async def test_create_is_limited_to_100_an_hour_when_rate_limits_are_on(line: Line) -> None:
    settings = await line.sandbox.post("/sandbox/api/settings", {"rateLimits": True}, expect=200)
    assert settings["limits"]["richMenuCreate"] == "100/h"
    assert settings["limits"]["richMenuDelete"] == "100/h"
    assert settings["limits"]["richMenuLink"] == "2000/s"
    assert settings["limits"]["richMenuBulkLink"] == "2000/s"

    created = [await line.create() for _ in range(100)]
    assert await refused(line.api.create_rich_menu(RichMenuRequest.from_dict(menu_body()))) == (
        429,
        RATE_LIMITED,
    )
    assert len((await line.api.get_rich_menu_list()).richmenus) == 100
    # Each endpoint has its own bucket at LINE: deleting still works.
    await line.api.delete_rich_menu(created[0])

    await line.sandbox.post("/sandbox/api/settings", {"rateLimits": False}, expect=200)
    assert RICH_MENU_ID.match(await line.create())
