"""The LIFF page of an inflow route, `/liff/go/NAME?v=CODE`, and its API.

`/r/NAME` sends visitors here through LINE (the LIFF URL), so LINE identifies them: the page
posts its ID token with the visit code, and the server, believing only the token, makes the
friend arrive (then points the page at the route's target) or, for someone who is not a
friend yet, keeps the visit for their follow and points the page at the friend-add page.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.appkeys import SERVICES
from liff.auth import ApiError, api, json_answer, verified_line_user
from liff.routes import LIFF_KEY

MAX_BODY_BYTES = 4096

NOT_FOUND = "このリンクは見つかりません。URLをご確認ください。"
BAD_BODY = "送信内容を読み取れませんでした。もう一度リンクを開いてください。"
ALREADY_FRIEND = "友だち追加済みです。LINEのトーク画面に戻ります。"
ALREADY_FRIEND_OUTSIDE = "友だち追加済みです。LINEのトーク画面からご利用ください。"
GOING_ON = "移動しています…"
PLEASE_ADD = "友だち追加のページへ移動しています…"
NO_FRIEND_URL = (
    "LINE公式アカウントを友だち追加してください。"
    "友だち追加の後、このリンクをもう一度開くと続きに進めます。"
)


async def go_page(request: web.Request) -> web.Response:
    liff = request.app[LIFF_KEY]
    name = request.match_info["name"]
    if await request.app[SERVICES].routes.find(name) is None:
        return liff.pages.render(
            "missing.html", status=404, title="見つかりません", message=NOT_FOUND
        )
    return liff.pages.render(
        "inflow.html",
        title="LINE",
        script="inflow.js",
        api_path=request.app.router["liff_go_api"].url_for(name=name).raw_path,
    )


async def _visit_code(request: web.Request) -> str | None:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", BAD_BODY)
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", BAD_BODY)
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_request", BAD_BODY) from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", BAD_BODY)
    code = body.get("visit")
    return code if isinstance(code, str) else None


@api
async def go_api(request: web.Request) -> web.Response:
    """`{"visit": CODE}` with the ID token → where the page goes next."""
    services = request.app[SERVICES]
    routes = services.routes
    route = await routes.find(request.match_info["name"])
    if route is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    user_id = await verified_line_user(request, request.app[LIFF_KEY].verifier)
    code = await _visit_code(request)
    is_friend = await routes.identify(route, code, user_id)
    answer: dict[str, Any]
    if not is_friend:
        target = routes.friend_add_url
        answer = {
            "friend": False,
            "next": target,
            "message": PLEASE_ADD if target else NO_FRIEND_URL,
        }
    elif not route.to_friend_add:
        answer = {"friend": True, "next": route.target, "message": GOING_ON}
    else:
        answer = {
            "friend": True,
            "next": None,
            "close": True,
            "message": ALREADY_FRIEND,
            "outsideMessage": ALREADY_FRIEND_OUTSIDE,
        }
    return json_answer(answer)


def add_inflow_pages(app: web.Application) -> None:
    app.router.add_get("/liff/go/{name}", go_page)
    app.router.add_post("/liff/api/go/{name}", go_api, name="liff_go_api")
