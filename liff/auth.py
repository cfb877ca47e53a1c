"""Who is calling the LIFF API, and how its answers look.

The friend comes only from the ID token in `Authorization: Bearer`, verified by LINE (or the
sandbox): a missing, expired, forged or other channel's token is 401, a token of someone who
is not a friend (never followed, or blocked) 403, before anything is read or stored. Errors
are JSON with a `code` for the page's logic and a Japanese `message` it shows as it is.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.db.models import Friend
from liff.idtoken import IdTokenVerifier, Rejected, VerifierUnavailable

log = logging.getLogger(__name__)

NO_TOKEN = "LINEの認証情報がありません。LINEアプリからもう一度開いてください。"
TOKEN_EXPIRED = "認証の有効期限が切れました。LINEアプリからもう一度開いてください。"
TOKEN_INVALID = "認証できませんでした。LINEアプリからもう一度開いてください。"
NOT_FRIEND = (
    "友だち追加されていないため、ご利用いただけません。"
    "公式アカウントを友だち追加してからもう一度お試しください。"
)
UNAVAILABLE = "ただいま本人確認ができません。しばらくしてからもう一度お試しください。"
NOT_CONFIGURED = "LIFFが設定されていないため、ご利用いただけません。"

_NO_STORE = {"Cache-Control": "no-store"}


class ApiError(Exception):
    """An answer other than 200: a code for the page's logic and a message to show."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, **extra}


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def json_answer(data: dict[str, Any], status: int = 200) -> web.Response:
    """JSON that no cache keeps (answers are about one friend)."""
    return web.json_response(data, status=status, headers=_NO_STORE, dumps=_dumps)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def api(handler: Handler) -> Handler:
    """Answer an ApiError as JSON with its status."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return json_answer(exc.body, exc.status)

    return wrapped


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def verified_friend(request: web.Request, verifier: IdTokenVerifier | None) -> Friend:
    """The friend the request's ID token names, as LINE says; ApiError otherwise."""
    user_id = await verified_line_user(request, verifier)
    friend = await Friend.get_or_none(line_user_id=user_id)
    if friend is None or friend.blocked:
        raise ApiError(403, "not_friend", NOT_FRIEND)
    return friend


async def verified_line_user(request: web.Request, verifier: IdTokenVerifier | None) -> str:
    """The LINE user id the request's ID token names, as LINE says, whether or not they are
    a friend (an inflow route identifies visitors before they add the account); ApiError
    for a missing, expired, forged or other channel's token, as `verified_friend`."""
    if verifier is None:
        raise ApiError(503, "not_configured", NOT_CONFIGURED)
    token = _bearer(request)
    if token is None:
        raise ApiError(401, "token_missing", NO_TOKEN)
    try:
        result = await verifier.verify(token)
    except VerifierUnavailable as exc:
        log.warning("LIFF: could not verify an ID token: %s", exc)
        raise ApiError(503, "unavailable", UNAVAILABLE) from None
    if isinstance(result, Rejected):
        log.info("LIFF: ID token refused: %s", result.reason)
        if result.expired:
            raise ApiError(401, "token_expired", TOKEN_EXPIRED)
        raise ApiError(401, "token_invalid", TOKEN_INVALID)
    return result.user_id
