"""The shop link page (`/liff/shop/link?customer=…&sig=…`): a shop customer opens it from the
shop's "LINEと連携" link, LINE says who they are (the ID token), and the customer's signature
(the shop computes it, see bot/integrations/shopify_link.py) says which shop account is
theirs. The page asks before linking; its API does the linking.
"""

from __future__ import annotations

import json

from aiohttp import web

from bot.appkeys import SERVICES
from liff.auth import ApiError, api, json_answer, verified_friend
from liff.routes import LIFF_KEY

MAX_BODY_BYTES = 4096
BAD_BODY = "送信内容を読み取れませんでした。もう一度お試しください。"
#: HTTP status per outcome of ShopOrders.link_customer.
_STATUS = {"linked": 200, "already": 200, "invalid": 400, "taken": 409, "unavailable": 503}


async def shop_link_page(request: web.Request) -> web.Response:
    return request.app[LIFF_KEY].pages.render(
        "shoplink.html",
        script="shoplink.js",
        title="ショップ連携",
        api_path=request.app.router["liff_shop_link_api"].url_for().raw_path,
    )


async def _link_request(request: web.Request) -> tuple[str, str]:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", BAD_BODY)
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    try:
        body = json.loads(raw) if len(raw) <= MAX_BODY_BYTES else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", BAD_BODY)
    customer, sig = body.get("customer"), body.get("sig")
    if not isinstance(customer, str | int) or not isinstance(sig, str):
        raise ApiError(400, "bad_request", BAD_BODY)
    return str(customer).strip(), sig.strip()


@api
async def shop_link_api(request: web.Request) -> web.Response:
    """`{"customer", "sig"}` → link that customer to the token's friend (never the body's)."""
    friend = await verified_friend(request, request.app[LIFF_KEY].verifier)
    customer, sig = await _link_request(request)
    result = await request.app[SERVICES].shop.link_customer(friend.id, customer, sig, "liff")
    status = _STATUS.get(result.code, 400)
    if status != 200:
        raise ApiError(status, result.code, result.message)
    return json_answer(
        {
            "ok": True,
            "code": result.code,
            "message": result.message,
            "orders": len(result.credits),
            "points": sum(credit.points for credit in result.credits),
        }
    )


def setup_shop_link(app: web.Application) -> None:
    """Add the page and its API (after `setup_liff`, whose verifier and pages they use)."""
    app.router.add_get("/liff/shop/link", shop_link_page)
    app.router.add_post("/liff/api/shop/link", shop_link_api, name="liff_shop_link_api")
