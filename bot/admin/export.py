"""CSV export for admins in chat: a download link with a random token that expires.

Only the token's SHA-256 is stored, so reading the database does not give working links.
The token is accepted in the path only (never a query string), and the answer is never
cached, so the link is the one thing that opens the file, and only until it expires.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import ValidationError
from tortoise.expressions import F

from bot import clock
from bot.appkeys import SERVICES
from bot.clock import parse_duration
from bot.crm.csv_io import export_friends
from bot.crm.segments import SegmentError
from bot.db.models import ExportLink
from bot.scenario.segment import validate_condition

if TYPE_CHECKING:
    from bot.services import Services

EXPORT_PATH = "/admin/export/"
LABEL_CHARS = 300  # ExportLink.audience_label
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")

_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main><h1>{title}</h1><p>{text}</p></main></body></html>
"""
NOT_FOUND_TEXT = (
    "このリンクは無効です。管理者モードでエクスポートし、届いたリンクを開いてください。"
)
EXPIRED_TEXT = "このリンクは期限切れです。管理者モードでもう一度エクスポートしてください。"
UNUSABLE_TEXT = (
    "このエクスポートの条件は今のシナリオでは使えません。"
    "管理者モードでもう一度エクスポートしてください。"
)


def token_hash(token: str) -> str:
    """What is stored for a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_export_link(
    services: Services, admin_user_id: str, audience: dict[str, Any] | None, label: str
) -> str:
    """A download link for the friends matching `audience` (a segment condition; None for
    every friend) that works until `admin.export_expires` from now.

    The condition is checked here (ValidationError or SegmentError), so a mistake is told
    to the admin in chat rather than on the download page.
    """
    if audience is not None:
        services.crm.segments.compile(validate_condition(audience))
    token = secrets.token_urlsafe(32)
    now = clock.now()
    await ExportLink.create(
        token_hash=token_hash(token),
        admin_user_id=admin_user_id,
        audience=audience,
        audience_label=label[:LABEL_CHARS],
        created_at=now,
        expires_at=now + parse_duration(services.scenario.admin.export_expires),
    )
    return f"{services.settings.base_url}{EXPORT_PATH}{token}"


def _page(status: int, title: str, text: str) -> web.Response:
    return web.Response(
        status=status,
        text=_PAGE.format(title=title, text=text),
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


def _not_found() -> web.Response:
    return _page(404, "リンクが無効です", NOT_FOUND_TEXT)


async def download(request: web.Request) -> web.Response:
    """`GET /admin/export/{token}`: the CSV while the link is valid, 404/410 otherwise."""
    token = request.match_info.get("token", "")
    if not _TOKEN.match(token):
        return _not_found()
    link = await ExportLink.get_or_none(token_hash=token_hash(token))
    if link is None:
        return _not_found()
    now = clock.now()
    if link.expires_at <= now:
        return _page(410, "リンクの期限切れ", EXPIRED_TEXT)
    services = request.app[SERVICES]
    try:
        cond = validate_condition(link.audience) if link.audience is not None else None
        data = await export_friends(services.crm, cond)
    except (ValidationError, SegmentError):
        return _page(409, "エクスポートできません", UNUSABLE_TEXT)
    await ExportLink.filter(id=link.id).update(downloads=F("downloads") + 1)
    stamp = now.astimezone(services.scenario.zone).strftime("%Y%m%d-%H%M")
    return web.Response(
        body=data,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="friends-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


async def _no_token(request: web.Request) -> web.Response:
    return _not_found()


def setup_export_routes(app: web.Application) -> None:
    """Serve export downloads; the bare path (a token in the query string, or none) is 404."""
    app.router.add_get(EXPORT_PATH + "{token}", download, allow_head=False)
    app.router.add_get(EXPORT_PATH.rstrip("/"), _no_token, allow_head=False)
    app.router.add_get(EXPORT_PATH, _no_token, allow_head=False)


__all__ = ["EXPORT_PATH", "create_export_link", "setup_export_routes", "token_hash"]
