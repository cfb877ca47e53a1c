"""Shopify-format test events: orders, refunds and cancellations shaped like the ones a shop
sends (REST Admin API webhook payloads), for the sandbox's helpers and for tests.

Plain functions of their inputs (no database, no HTTP): the sandbox looks up friends and
stored orders, these only build the JSON. Japanese prices include 10% consumption tax, as
Japanese shops show them (`taxes_included: true`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from bot.integrations.shopify_payloads import REF_ATTRIBUTE

TAX_RATE = Decimal("0.10")


def new_id() -> int:
    """An id the size Shopify's are (13 digits)."""
    return 5_000_000_000_000 + secrets.randbelow(10**12)


def amount(value: Decimal) -> str:
    """Shopify writes amounts as strings with two decimals ("3000.00")."""
    return f"{value:.2f}"


def _money_set(value: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": amount(value), "currency_code": currency}
    return {"shop_money": money, "presentment_money": money}


def _included_tax(gross: Decimal) -> Decimal:
    return (gross * TAX_RATE / (1 + TAX_RATE)).quantize(Decimal(1), rounding=ROUND_FLOOR)


@dataclass(frozen=True)
class ItemSpec:
    """A product bought: what the sandbox's `items` entries say."""

    title: str
    price: Decimal
    quantity: int = 1
    sku: str | None = None
    product_id: int | None = None


def line_item(spec: ItemSpec, currency: str, line_id: int | None = None) -> dict[str, Any]:
    line_id = line_id or new_id()
    variant_id = new_id()
    gross = spec.price * spec.quantity
    return {
        "id": line_id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
        "variant_id": variant_id,
        "product_id": spec.product_id,
        "title": spec.title,
        "name": spec.title,
        "variant_title": None,
        "sku": spec.sku or "",
        "vendor": None,
        "quantity": spec.quantity,
        "current_quantity": spec.quantity,
        "fulfillable_quantity": spec.quantity,
        "fulfillment_status": None,
        "requires_shipping": True,
        "taxable": True,
        "gift_card": False,
        "price": amount(spec.price),
        "price_set": _money_set(spec.price, currency),
        "total_discount": "0.00",
        "total_discount_set": _money_set(Decimal(0), currency),
        "discount_allocations": [],
        "tax_lines": [
            {
                "title": "消費税",
                "rate": float(TAX_RATE),
                "price": amount(_included_tax(gross)),
                "price_set": _money_set(_included_tax(gross), currency),
            }
        ],
    }


def order_event(
    *,
    order_id: int,
    number: int,
    items: Sequence[ItemSpec],
    now: datetime,
    customer_id: int | None = None,
    ref: str | None = None,
    currency: str = "JPY",
) -> dict[str, Any]:
    """An orders/paid body. `now` is the local time of the shop (its offset is kept)."""
    lines = [line_item(spec, currency) for spec in items]
    subtotal = sum((spec.price * spec.quantity for spec in items), Decimal(0))
    tax = _included_tax(subtotal)
    stamp = now.isoformat(timespec="seconds")
    customer = None
    if customer_id is not None:
        customer = {
            "id": customer_id,
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
            "email": f"customer{customer_id}@example.com",
            "first_name": "花子",
            "last_name": "山田",
            "state": "enabled",
            "verified_email": True,
            "currency": currency,
            "created_at": stamp,
            "updated_at": stamp,
        }
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "order_number": number,
        "number": number - 1000,
        "confirmation_number": f"K{order_id % 10**8:08d}",
        "created_at": stamp,
        "processed_at": stamp,
        "updated_at": stamp,
        "cancelled_at": None,
        "cancel_reason": None,
        "currency": currency,
        "presentment_currency": currency,
        "financial_status": "paid",
        "fulfillment_status": None,
        "test": True,
        "taxes_included": True,
        "total_tax": amount(tax),
        "total_tax_set": _money_set(tax, currency),
        "subtotal_price": amount(subtotal),
        "subtotal_price_set": _money_set(subtotal, currency),
        "current_subtotal_price": amount(subtotal),
        "total_line_items_price": amount(subtotal),
        "total_discounts": "0.00",
        "total_price": amount(subtotal),
        "total_price_set": _money_set(subtotal, currency),
        "current_total_price": amount(subtotal),
        "total_shipping_price_set": _money_set(Decimal(0), currency),
        "payment_gateway_names": ["bogus"],
        "source_name": "web",
        "email": customer["email"] if customer else "guest@example.com",
        "note": None,
        "note_attributes": [{"name": REF_ATTRIBUTE, "value": ref}] if ref else [],
        "customer": customer,
        "line_items": lines,
        "refunds": [],
        "shipping_lines": [],
    }


def refund_event(
    *,
    order_id: int,
    order_lines: Sequence[Mapping[str, Any]],
    now: datetime,
    lines: Sequence[tuple[str, int]] = (),
    manual_amount: Decimal | None = None,
    currency: str = "JPY",
    refund_id: int | None = None,
) -> dict[str, Any]:
    """A refunds/create body: `lines` are (line item id, quantity) of `order_lines` (as
    kept with the order: id, price, …); `manual_amount` is a refund of an amount alone."""
    refund_id = refund_id or new_id()
    stamp = now.isoformat(timespec="seconds")
    by_id = {str(line["id"]): line for line in order_lines}
    refund_lines = []
    refunded = Decimal(0)
    for line_id, quantity in lines:
        line = by_id[str(line_id)]
        subtotal = Decimal(str(line["price"])) * quantity
        refunded += subtotal
        refund_line_id = new_id()
        refund_lines.append(
            {
                "id": refund_line_id,
                "line_item_id": int(line_id),
                "location_id": None,
                "quantity": quantity,
                "restock_type": "return",
                "subtotal": float(subtotal),
                "subtotal_set": _money_set(subtotal, currency),
                "total_tax": float(_included_tax(subtotal)),
                "total_tax_set": _money_set(_included_tax(subtotal), currency),
                "line_item": {
                    "id": int(line_id),
                    "title": line.get("title", ""),
                    "sku": line.get("sku") or "",
                    "product_id": line.get("product_id"),
                    "price": amount(Decimal(str(line["price"]))),
                    "quantity": line.get("quantity", 1),
                },
            }
        )
    if manual_amount is not None:
        refunded += manual_amount
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "order_id": order_id,
        "created_at": stamp,
        "processed_at": stamp,
        "note": "サンドボックスからの返金",
        "restock": bool(refund_lines),
        "user_id": None,
        "refund_line_items": refund_lines,
        "transactions": [
            {
                "id": new_id(),
                "order_id": order_id,
                "kind": "refund",
                "gateway": "bogus",
                "status": "success",
                "amount": amount(refunded),
                "currency": currency,
                "created_at": stamp,
                "processed_at": stamp,
                "test": True,
            }
        ],
        "order_adjustments": [],
    }


def cancellation_event(
    *,
    order_id: int,
    name: str,
    subtotal: int,
    order_lines: Sequence[Mapping[str, Any]],
    now: datetime,
    customer_id: int | None = None,
    currency: str = "JPY",
    reason: str = "customer",
) -> dict[str, Any]:
    """An orders/cancelled body for an order as kept (the order object, now cancelled)."""
    stamp = now.isoformat(timespec="seconds")
    value = Decimal(subtotal)
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": name,
        "created_at": stamp,
        "updated_at": stamp,
        "cancelled_at": stamp,
        "cancel_reason": reason,
        "currency": currency,
        "financial_status": "refunded",
        "subtotal_price": amount(value),
        "total_price": amount(value),
        "customer": {"id": customer_id} if customer_id is not None else None,
        "note_attributes": [],
        "line_items": [
            {
                "id": int(line["id"]),
                "title": line.get("title", ""),
                "sku": line.get("sku") or "",
                "product_id": line.get("product_id"),
                "price": amount(Decimal(str(line["price"]))),
                "quantity": line.get("quantity", 1),
            }
            for line in order_lines
            if line.get("id") is not None
        ],
    }
