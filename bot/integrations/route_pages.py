"""`GET /r/NAME`, the link of an inflow route, and its QR codes.

Each GET by a person records a visit and sends them on: through LIFF when it is configured
(LINE then tells us who they are), otherwise to the route's target URL, or, for a friend-add
route, to a landing page with the visit's code to send after adding the friend.

Link previews are not visits: LINE, X, Facebook, Slack and others fetch a URL pasted in a
chat to draw a card, and the first such fetch would count as a visit no person made. A
request whose User-Agent names such a robot, or a HEAD request, gets a plain page and is not
recorded.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from bot.appkeys import SERVICES
from bot.integrations import qr, route_codes
from bot.integrations.routes import CODE_WINDOW, ROUTE_PATH
from bot.scenario.forms import liff_url
from liff.inflow import add_inflow_pages
from liff.routes import LIFF_KEY

NO_STORE = {"Cache-Control": "no-store"}
_PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
#: Robots that fetch links to draw previews or index them: LINE's previewer says
#: "facebookexternalhit/1.1;line-poker/1.0"; most others end in bot/1.0, spider/…, crawler/….
PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|line-poker|linespider|twitterbot|slackbot|slack-imgproxy|"
    r"discordbot|telegrambot|whatsapp|skypeuripreview|embedly|linkedinbot|pinterest|"
    r"googlebot|bingbot|applebot|yandexbot|duckduckbot|baiduspider|"
    r"(?:bot|spider|crawler)/\d",
    re.IGNORECASE,
)
#: `https://line.me/R/ti/p/@basic_id`: a friend-add URL that names the account, so the
#: landing page can also open the chat with the code typed in (LINE URL scheme oaMessage).
_BASIC_ID = re.compile(r"^https://line\.me/R/ti/p/(@[A-Za-z0-9._-]+)/?$")
QR_CACHE = {"Cache-Control": "public, max-age=3600"}


def is_preview_robot(user_agent: str) -> bool:
    return PREVIEW_AGENTS.search(user_agent) is not None


def message_url(friend_add_url: str | None, text: str) -> str | None:
    """A link that opens the account's chat with `text` typed in, when the account's basic
    id is known from its friend-add URL."""
    match = _BASIC_ID.match(friend_add_url or "")
    if match is None:
        return None
    return f"https://line.me/R/oaMessage/{quote(match.group(1))}/?{quote(text)}"


def _page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    pages = request.app[LIFF_KEY].pages
    html = pages.env.get_template("inflow_landing.html").render(static=pages.static, **context)
    return web.Response(
        text=html, status=status, content_type="text/html", charset="utf-8",
        headers=_PAGE_HEADERS,
    )  # fmt: skip


async def visit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    routes = services.routes
    settings = services.settings
    route = await routes.find(request.match_info["name"])
    if route is None:
        return _page(request, 404, kind="missing", title="見つかりません")
    if request.method == "HEAD" or is_preview_robot(request.headers.get("User-Agent", "")):
        return _page(request, kind="preview", title="LINE公式アカウント")
    record = await routes.record_visit(route.name)
    if settings.liff_id:
        path = f"go/{route.name}?v={record.code}"
        # The sandbox's "LINE" is this server: its LIFF page takes the ID token from the
        # fragment, which a browser keeps across this redirect.
        location = f"/liff/{path}" if settings.sandbox else liff_url(settings.liff_id, path)
        raise web.HTTPFound(location, headers=NO_STORE)
    if not route.to_friend_add:
        raise web.HTTPFound(route.target, headers=NO_STORE)
    code = route_codes.shown(record.code)
    return _page(
        request,
        kind="landing",
        title="友だち追加",
        code=code,
        valid_days=CODE_WINDOW.days,
        friend_add_url=routes.friend_add_url,
        message_url=message_url(routes.friend_add_url, code),
    )


async def _qr_url(request: web.Request) -> str:
    routes = request.app[SERVICES].routes
    route = await routes.find(request.match_info["name"])
    if route is None:
        raise web.HTTPNotFound(text="no such route")
    return routes.url(route.name)


async def qr_png(request: web.Request) -> web.Response:
    url = await _qr_url(request)
    return web.Response(body=qr.png(url), content_type="image/png", headers=QR_CACHE)


async def qr_svg(request: web.Request) -> web.Response:
    url = await _qr_url(request)
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    headers = {**QR_CACHE, "Content-Disposition": f'inline; filename="{name}-qr.svg"'}
    return web.Response(body=qr.svg(url), content_type="image/svg+xml", headers=headers)


def add_route_pages(app: web.Application) -> None:
    app.router.add_get(ROUTE_PATH + "{name}", visit)
    app.router.add_get(ROUTE_PATH + "{name}/qr.png", qr_png)
    app.router.add_get(ROUTE_PATH + "{name}/qr.svg", qr_svg)
    add_inflow_pages(app)
