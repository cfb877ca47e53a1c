"""POST /integrations/shopify: verify, parse, record once, act.

Order of checks, each answering before anything is stored: no secret configured (503), a
missing or wrong `X-Shopify-Hmac-Sha256` (401), a body that is not JSON or not the object
its topic promises (400). Then the webhook id (`X-Shopify-Webhook-Id`, the same on Shopify's
retries) is claimed in the integration ledger: a replay answers 200 `duplicate` and does
nothing. A failure while acting answers 500 and leaves the event `received`, so Shopify's
retry finishes it (every effect is safe to repeat).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from aiohttp import web

from bot.appkeys import SERVICES
from bot.integrations import ledger
from bot.integrations.shopify_orders import PROVIDER
from bot.integrations.shopify_payloads import (
    Order,
    PayloadError,
    Refund,
    parse_order,
    parse_refund,
    verify,
)
from bot.line.webhook import MAX_BODY_BYTES

log = logging.getLogger(__name__)


def _answer(http_status: int, **body: Any) -> web.Response:
    return web.json_response(body, status=http_status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def parse_event(topic: str, payload: Any) -> Order | Refund | None:
    """The topic's object read from the payload; None for topics not handled."""
    if topic in ("orders/paid", "orders/cancelled"):
        return parse_order(payload)
    if topic == "refunds/create":
        return parse_refund(payload)
    return None


async def shopify_webhook(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    secret = services.settings.shopify_webhook_secret
    if not secret:
        log.warning("shopify webhook refused: SHOPIFY_WEBHOOK_SECRET is not set")
        return _answer(503, message="SHOPIFY_WEBHOOK_SECRET is not set: cannot verify Shopify")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _answer(413, message=f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _answer(413, message=f"body larger than {MAX_BODY_BYTES} bytes")
    if not verify(body, secret, request.headers.get("X-Shopify-Hmac-Sha256")):
        log.warning("shopify webhook with a missing or wrong signature from %s", request.remote)
        return _answer(401, message="invalid X-Shopify-Hmac-Sha256 (it must sign the body)")
    topic = request.headers.get("X-Shopify-Topic", "").strip()
    if not topic:
        return _answer(400, message="missing X-Shopify-Topic header")
    try:
        payload = json.loads(body)
    except ValueError:
        return _answer(400, message="the body is not JSON")
    try:
        event = parse_event(topic, payload)
    except PayloadError as exc:
        log.warning("shopify %s refused: %s", topic, exc)
        return _answer(400, message=f"{topic}: {exc}")
    # Shopify repeats the id on every retry; without one, the same body is the same event.
    webhook_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
    webhook_id = webhook_id or "body:" + hashlib.sha256(body).hexdigest()
    async with ledger.processing(PROVIDER, webhook_id, topic) as claim:
        if not claim.fresh:
            return _answer(200, status="duplicate", webhook_id=webhook_id)
        try:
            outcome = await services.shop.handle(topic, event)
        except Exception:
            log.exception("shopify %s %s failed; Shopify will retry", topic, webhook_id)
            return _answer(500, message="processing failed; it will be retried")
        await ledger.finish(claim.row, outcome.status, friend_id=outcome.friend_id,
                            detail=outcome.detail)  # fmt: skip
    log.info("shopify %s → %s: %s", topic, outcome.status, outcome.detail)
    return _answer(200, status=outcome.status, webhook_id=webhook_id, detail=outcome.detail)
