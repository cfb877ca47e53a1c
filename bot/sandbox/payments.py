"""Test events in Stripe's format, and signed events for the generic webhooks (sandbox only).

The builders make events shaped as Stripe sends them (ids `evt_`, `cs_`, `in_`, `sub_`,
`cus_`; `object`, `livemode: false`, `api_version`, `created`, `data.object`) and `signed`
signs them exactly as Stripe does, with the `stripe` library's own helper (`t=…,v1=…`, the
HMAC-SHA256 of `t.payload`). Tests use them directly; in sandbox mode two endpoints send them
to this server's own webhooks over HTTP:

- `POST /sandbox/api/stripe/events` `{"friend_id": 12 | "user_id": "U…" | "ref": "sb-…",
  "type": …, "price": "price_…", "product": "prod_…", "amount": 2980, "id": "evt_…",
  "billing_reason": "subscription_cycle"}` → `{"id", "status", "body"}`;
- `POST /sandbox/api/hooks/{source}` with the body to send → `{"status", "body"}`.

A friend keeps one Stripe customer and subscription (`cus_sbx…`, `sub_sbx…`), so a later
invoice or cancellation refers to the ones their checkout created.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import stripe
from aiohttp import web

from bot import clock
from bot.appkeys import SERVICES
from bot.db.models import Friend
from bot.integrations.inbound import HOOK_PATH, SIGNATURE_HEADER, sign_body
from bot.integrations.stripe import WEBHOOK_PATH
from bot.scenario.integrations import default_secret_env

STRIPE_EVENTS_PATH = "/sandbox/api/stripe/events"
HOOKS_PATH = "/sandbox/api/hooks/{source}"
#: The event types the helper builds.
TYPES = (
    "checkout.session.completed",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.deleted",
)
DEFAULT_AMOUNT = 2980
DEFAULT_CURRENCY = "jpy"
SANDBOX_PRICE = "price_sandbox"
SANDBOX_PRODUCT = "prod_sandbox"
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """A Stripe-looking id, e.g. evt_1QxT…"""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def customer_of(friend_id: int) -> str:
    return f"cus_sbx{friend_id:08d}"


def subscription_of(friend_id: int) -> str:
    return f"sub_sbx{friend_id:08d}"


def _now() -> int:
    return int(clock.now().timestamp())


def envelope(kind: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """The event around an object, as Stripe wraps it."""
    return {
        "id": event_id or new_id("evt_"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": _now(),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def checkout_session(
    *,
    reference: str | None,
    customer: str,
    subscription: str | None,
    price: str | None,
    amount: int = DEFAULT_AMOUNT,
    currency: str = DEFAULT_CURRENCY,
    email: str | None = None,
    payment_status: str = "paid",
) -> dict[str, Any]:
    """A completed Checkout Session of a Payment Link whose metadata names its price (as a
    link's metadata is copied to its sessions); a subscription when `subscription` is set."""
    return {
        "id": new_id("cs_test_", 58),
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": reference,
        "created": _now(),
        "currency": currency,
        "customer": customer,
        "customer_details": {"email": email, "name": None},
        "customer_email": None,
        "livemode": False,
        "metadata": {"price": price} if price else {},
        "mode": "subscription" if subscription else "payment",
        "payment_link": "plink_sandbox",
        "payment_status": payment_status,
        "status": "complete",
        "subscription": subscription,
    }


def invoice(
    *,
    customer: str,
    subscription: str | None,
    price: str,
    product: str,
    amount: int = DEFAULT_AMOUNT,
    currency: str = DEFAULT_CURRENCY,
    billing_reason: str = "subscription_cycle",
    paid: bool = True,
) -> dict[str, Any]:
    """An invoice in the current API shape (`parent.subscription_details`, line prices under
    `pricing.price_details`)."""
    invoice_id = new_id("in_")
    now = _now()
    parent = (
        {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": subscription},
        }
        if subscription
        else None
    )
    line = {
        "id": new_id("il_"),
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": f"1 × {product}",
        "invoice": invoice_id,
        "metadata": {},
        "parent": {
            "type": "subscription_item_details",
            "subscription_item_details": {
                "subscription": subscription,
                "subscription_item": new_id("si_", 14),
                "proration": False,
            },
        }
        if subscription
        else None,
        "period": {"start": now, "end": now + 30 * 86400},
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price, "product": product},
            "unit_amount_decimal": str(amount),
        },
        "quantity": 1,
    }
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "attempt_count": 1,
        "billing_reason": billing_reason,
        "created": now,
        "currency": currency,
        "customer": customer,
        "lines": {
            "object": "list",
            "data": [line],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "parent": parent,
        "status": "paid" if paid else "open",
    }


def subscription(
    *, subscription_id: str, customer: str, price: str, product: str, status: str = "canceled"
) -> dict[str, Any]:
    now = _now()
    return {
        "id": subscription_id,
        "object": "subscription",
        "canceled_at": now if status == "canceled" else None,
        "customer": customer,
        "ended_at": now if status == "canceled" else None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": new_id("si_", 14),
                    "object": "subscription_item",
                    "price": {"id": price, "object": "price", "product": product},
                    "quantity": 1,
                }
            ],
            "has_more": False,
        },
        "livemode": False,
        "metadata": {},
        "status": status,
    }


def stripe_event(
    kind: str,
    *,
    friend_id: int | None,
    reference: str | None = None,
    price: str | None = None,
    product: str | None = None,
    amount: int = DEFAULT_AMOUNT,
    event_id: str | None = None,
    billing_reason: str | None = None,
) -> dict[str, Any]:
    """An event of one of TYPES for a friend (their customer and subscription), or for a
    stranger when `friend_id` is None."""
    customer = customer_of(friend_id) if friend_id is not None else new_id("cus_", 14)
    sub = subscription_of(friend_id) if friend_id is not None else new_id("sub_")
    line_price, line_product = price or SANDBOX_PRICE, product or SANDBOX_PRODUCT
    obj: dict[str, Any]
    if kind == "checkout.session.completed":
        obj = checkout_session(
            reference=reference, customer=customer, subscription=sub, price=price, amount=amount
        )
    elif kind in ("invoice.paid", "invoice.payment_failed"):
        obj = invoice(
            customer=customer,
            subscription=sub,
            price=line_price,
            product=line_product,
            amount=amount,
            billing_reason=billing_reason or "subscription_cycle",
            paid=kind == "invoice.paid",
        )
    elif kind == "customer.subscription.deleted":
        obj = subscription(
            subscription_id=sub, customer=customer, price=line_price, product=line_product
        )
    else:
        raise ValueError(f"type must be one of {', '.join(TYPES)}")
    return envelope(kind, obj, event_id=event_id)


def signed(event: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
    """The body Stripe would send (pretty-printed JSON) and its `Stripe-Signature`. The
    timestamp is real time, as Stripe's: the check compares it with real time."""
    payload = json.dumps(event, indent=2, ensure_ascii=False)
    stamp = int(time.time()) if timestamp is None else timestamp
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=stamp)
    return payload.encode(), header


# --- HTTP helpers --------------------------------------------------------------------------


def _bad(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(trust_env=False) as session,
        session.post(
            url, data=body, headers={"Content-Type": "application/json", **headers}
        ) as resp,
    ):
        try:
            answer: Any = await resp.json(content_type=None)
        except ValueError:
            answer = await resp.text()
        return resp.status, answer


async def _friend_id(request: web.Request, body: dict[str, Any]) -> tuple[int | None, str | None]:
    """The friend (and the reference for a checkout) the helper's body names."""
    services = request.app[SERVICES]
    if body.get("ref") is not None:
        friend_id = services.refs.parse(str(body["ref"]))
        if friend_id is None:
            raise web.HTTPBadRequest(text="ref is not a reference stepbot made")
        return friend_id, str(body["ref"])
    friend: Friend | None = None
    if body.get("user_id") is not None:
        friend = await Friend.get_or_none(line_user_id=str(body["user_id"]))
    elif body.get("friend_id") is not None:
        raw = body["friend_id"]
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise web.HTTPBadRequest(text="friend_id must be a number")
        friend = await Friend.get_or_none(id=raw)
    else:
        return None, None
    if friend is None:
        raise web.HTTPNotFound(text="no such friend")
    return friend.id, services.refs.make(friend.id)


def default_price(request: web.Request) -> str | None:
    """The scenario's first Stripe price: what a test payment buys unless told otherwise."""
    spec = request.app[SERVICES].scenario.integrations.stripe
    prices = [p.price for p in spec.products if p.price] if spec else []
    return prices[0] if prices else None


async def send_stripe_event(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        body = await request.json()
    except ValueError:
        return _bad(400, "body must be JSON")
    if not isinstance(body, dict):
        return _bad(400, "body must be a JSON object")
    kind = body.get("type")
    if kind not in TYPES:
        return _bad(400, f"type must be one of {', '.join(TYPES)}")
    amount = body.get("amount", DEFAULT_AMOUNT)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        return _bad(400, "amount must be a whole number (the smallest currency unit, yen)")
    for key in ("id", "price", "product", "billing_reason"):
        if body.get(key) is not None and not (isinstance(body[key], str) and body[key]):
            return _bad(400, f"{key} must be a non-empty string when given")
    try:
        friend_id, reference = await _friend_id(request, body)
    except web.HTTPException as exc:
        return _bad(exc.status, exc.text or exc.reason)
    secret = services.settings.stripe_webhook_secret
    if not secret:
        return _bad(503, "STRIPE_WEBHOOK_SECRET is not set")
    event = stripe_event(
        kind,
        friend_id=friend_id,
        reference=reference,
        price=body.get("price") or default_price(request),
        product=body.get("product"),
        amount=amount,
        event_id=body.get("id"),
        billing_reason=body.get("billing_reason"),
    )
    payload, header = signed(event, secret)
    status, answer = await _post(
        services.settings.base_url + WEBHOOK_PATH, payload, {"Stripe-Signature": header}
    )
    return web.json_response({"id": event["id"], "status": status, "body": answer})


async def send_hook_event(request: web.Request) -> web.Response:
    """Sign the body as it is (so a test can send a malformed one) and post it."""
    services = request.app[SERVICES]
    source = request.match_info["source"]
    body = await request.read()
    spec = services.scenario.integrations.webhooks.get(source)
    env = (spec.secret_env if spec else None) or default_secret_env(source)
    secret = services.settings.secret(env)
    if not secret:
        return _bad(503, f"{env} is not set")
    status, answer = await _post(
        services.settings.base_url + HOOK_PATH.format(source=quote(source, safe="")),
        body,
        {SIGNATURE_HEADER: sign_body(secret, body)},
    )
    return web.json_response({"status": status, "body": answer})


def setup_stripe_sandbox(app: web.Application) -> None:
    app.router.add_post(STRIPE_EVENTS_PATH, send_stripe_event)


def setup_hooks_sandbox(app: web.Application) -> None:
    app.router.add_post(HOOKS_PATH, send_hook_event)
