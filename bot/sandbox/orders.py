"""Sandbox helpers that play a Shopify store: signed test orders, refunds and cancellations
posted to the bot's own `/integrations/shopify`, as Shopify would post them.

Only in sandbox mode (no LINE access token). Each answers what it sent and what the bot
said: `{"id", "webhook_id", "status" (the HTTP status), "result" (the bot's status:
done, unmatched, duplicate, ignored), "answer", "body" (the event JSON)}`. Give a
`webhook_id` that was used before to replay an event.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web

from bot import clock
from bot.appkeys import SERVICES
from bot.db.models import ExternalCustomer, Friend, ShopOrder
from bot.integrations.shopify_link import LinkCodes
from bot.integrations.shopify_orders import PROVIDER
from bot.integrations.shopify_payloads import sign
from bot.integrations.shopify_samples import (
    ItemSpec,
    cancellation_event,
    new_id,
    order_event,
    refund_event,
)
from bot.scenario.forms import liff_url

API = "/sandbox/api/shopify"
SHOP_DOMAIN = "stepbot-sandbox.myshopify.com"
API_VERSION = "2025-01"
#: Customers the sandbox invents for friends without one: this plus the friend's number.
CUSTOMER_BASE = 6_000_000_000


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"{what} must be a number")
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{what} must be a number") from None
    if number <= 0:
        raise BadRequest(f"{what} must be positive")
    return number


def _items(raw: Any) -> list[ItemSpec]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest('"items" must be a non-empty list of {"sku"|"product_id", "price", …}')
    out = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadRequest(f"items[{n}] must be an object")
        try:
            price = Decimal(str(item.get("price", "")))
        except InvalidOperation:
            raise BadRequest(f"items[{n}].price must be an amount") from None
        if not price.is_finite() or price < 0:
            raise BadRequest(f"items[{n}].price must be an amount")
        quantity = _int(item.get("quantity", 1), f"items[{n}].quantity")
        product_id = item.get("product_id")
        out.append(
            ItemSpec(
                title=str(item.get("title") or item.get("sku") or f"商品{n + 1}"),
                price=price,
                quantity=quantity,
                sku=str(item["sku"]) if item.get("sku") else None,
                product_id=_int(product_id, f"items[{n}].product_id") if product_id else None,
            )
        )
    return out


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def _friend(body: dict[str, Any]) -> Friend | None:
    if body.get("friend_id") is not None:
        friend = await Friend.get_or_none(id=_int(body["friend_id"], "friend_id"))
        if friend is None:
            raise BadRequest(f"no friend #{body['friend_id']}", 404)
        return friend
    if body.get("user_id"):
        friend = await Friend.get_or_none(line_user_id=str(body["user_id"]))
        if friend is None:
            raise BadRequest(f"no friend with user id {body['user_id']} (did they follow?)", 404)
        return friend
    return None


async def _customer(body: dict[str, Any], friend: Friend | None) -> int | None:
    if body.get("customer_id") is not None:
        return _int(body["customer_id"], "customer_id")
    if friend is None:
        return None
    link = await ExternalCustomer.filter(provider=PROVIDER, friend_id=friend.id).first()
    return int(link.customer_id) if link is not None else CUSTOMER_BASE + friend.id


async def _order(body: dict[str, Any]) -> ShopOrder:
    order_id = _int(body.get("order_id"), "order_id")
    row = await ShopOrder.get_or_none(order_id=str(order_id))
    if row is None:
        raise BadRequest(f"no order {order_id} was recorded (send it with /orders first)", 404)
    return row


def _find_line(row: ShopOrder, wanted: dict[str, Any]) -> dict[str, Any] | None:
    """The order's line item a refund names by `line_item_id` or `sku`."""
    for line in row.items:
        if wanted.get("line_item_id") and str(line["id"]) == str(wanted["line_item_id"]):
            return line
        if wanted.get("sku") and line.get("sku") == wanted["sku"]:
            return line
    return None


async def _post(
    request: web.Request, topic: str, event: dict[str, Any], webhook_id: str | None
) -> dict[str, Any]:
    """Sign and post an event to the bot's endpoint the way Shopify does."""
    settings = request.app[SERVICES].settings
    secret = settings.shopify_webhook_secret or ""
    raw = json.dumps(event, ensure_ascii=False).encode()
    webhook_id = webhook_id or str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(raw, secret),
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Shop-Domain": SHOP_DOMAIN,
        "X-Shopify-API-Version": API_VERSION,
        "X-Shopify-Triggered-At": clock.now().isoformat(),
    }
    url = settings.base_url + "/integrations/shopify"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=raw, headers=headers) as resp,
    ):
        answer = await resp.json(content_type=None)
        status = resp.status
    return {
        "id": event["id"],
        "webhook_id": webhook_id,
        "status": status,
        "result": answer.get("status") if isinstance(answer, dict) else None,
        "answer": answer,
        "body": event,
    }


def _handler(make: Any) -> Any:
    async def handle(request: web.Request) -> web.Response:
        try:
            return web.json_response(await make(request), dumps=_dumps)
        except BadRequest as exc:
            return web.json_response({"message": str(exc)}, status=exc.status, dumps=_dumps)

    return handle


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _local_now(request: web.Request) -> Any:
    return clock.now().astimezone(request.app[SERVICES].scenario.zone)


async def post_order(request: web.Request) -> dict[str, Any]:
    """`{"friend_id" | "user_id" | "customer_id", "items": [...], "id"?, "webhook_id"?}`"""
    body = await _body(request)
    friend = await _friend(body)
    customer = await _customer(body, friend)
    if friend is None and customer is None:
        raise BadRequest('give "friend_id", "user_id" or "customer_id": whose order it is')
    items = _items(body.get("items"))
    order_id = _int(body["id"], "id") if body.get("id") is not None else new_id()
    number = 1001 + await ShopOrder.all().count()
    services = request.app[SERVICES]
    event = order_event(
        order_id=order_id,
        number=number,
        items=items,
        now=_local_now(request),
        customer_id=customer,
        ref=services.refs.make(friend.id) if friend is not None else None,
        currency=str(body.get("currency") or "JPY"),
    )
    return await _post(request, "orders/paid", event, body.get("webhook_id"))


async def post_refund(request: web.Request) -> dict[str, Any]:
    """`{"order_id", "items": [{"line_item_id" | "sku", "quantity"?}] | "amount", "id"?,
    "webhook_id"?}`"""
    body = await _body(request)
    row = await _order(body)
    lines: list[tuple[str, int]] = []
    manual = None
    if body.get("items"):
        if not isinstance(body["items"], list):
            raise BadRequest('"items" must be a list of {"line_item_id" | "sku", "quantity"}')
        for n, wanted in enumerate(body["items"]):
            if not isinstance(wanted, dict):
                raise BadRequest(f"items[{n}] must be an object")
            line = _find_line(row, wanted)
            if line is None:
                raise BadRequest(f"items[{n}]: no such line item in order {row.order_id}")
            quantity = _int(wanted.get("quantity", line["quantity"]), f"items[{n}].quantity")
            if quantity > int(line["quantity"]):
                raise BadRequest(f"items[{n}].quantity is more than the {line['quantity']} bought")
            lines.append((str(line["id"]), quantity))
    elif body.get("amount") is not None:
        try:
            manual = Decimal(str(body["amount"]))
        except InvalidOperation:
            raise BadRequest('"amount" must be an amount') from None
        if not manual.is_finite() or manual <= 0:
            raise BadRequest('"amount" must be a positive amount')
    else:
        raise BadRequest('give "items" (line items to refund) or "amount"')
    event = refund_event(
        order_id=int(row.order_id),
        order_lines=row.items,
        now=_local_now(request),
        lines=lines,
        manual_amount=manual,
        currency=row.currency or "JPY",
        refund_id=_int(body["id"], "id") if body.get("id") is not None else None,
    )
    return await _post(request, "refunds/create", event, body.get("webhook_id"))


async def post_cancellation(request: web.Request) -> dict[str, Any]:
    """`{"order_id", "webhook_id"?}`"""
    body = await _body(request)
    row = await _order(body)
    event = cancellation_event(
        order_id=int(row.order_id),
        name=row.name,
        subtotal=row.subtotal,
        order_lines=row.items,
        now=_local_now(request),
        customer_id=int(row.customer_id) if row.customer_id else None,
        currency=row.currency or "JPY",
    )
    return await _post(request, "orders/cancelled", event, body.get("webhook_id"))


async def customer_link(request: web.Request) -> dict[str, Any]:
    """What the shop's theme shows a customer: the code to send and the LIFF link."""
    customer = str(_int(request.match_info["customer_id"], "customer_id"))
    settings = request.app[SERVICES].settings
    if not settings.shopify_link_secret:
        raise BadRequest("SHOPIFY_LINK_SECRET is not set", 503)
    codes = LinkCodes(settings.shopify_link_secret)
    path = f"shop/link?customer={customer}&sig={codes.signature(customer)}"
    return {
        "customer_id": customer,
        "code": f"連携 {codes.code(customer)}",
        "path": "/liff/" + path,
        "liffUrl": liff_url(settings.liff_id or "", path),
    }


def setup_sandbox_orders(app: web.Application) -> None:
    app.router.add_post(f"{API}/orders", _handler(post_order))
    app.router.add_post(f"{API}/refunds", _handler(post_refund))
    app.router.add_post(f"{API}/cancellations", _handler(post_cancellation))
    app.router.add_get(f"{API}/customers/{{customer_id}}/link", _handler(customer_link))
