"""What Shopify sends, read into small typed values: the webhook signature, orders, refunds.

Shopify signs each webhook with the app's secret: `X-Shopify-Hmac-Sha256` is the base64
HMAC-SHA256 of the raw body. Amounts arrive as decimal strings ("3000.00") or numbers; they
are kept in whole units of the shop currency (fractions dropped), which is exact for yen.
Parsing happens before anything is stored, so an unusable body is refused with a reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

#: The note attribute (cart attribute) that carries a signed friend reference.
REF_ATTRIBUTE = "stepbot_ref"


class PayloadError(ValueError):
    """The body is not the Shopify object its topic promises; the message says what is off."""


def sign(body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-Sha256` value for a body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Whether the header is the body's signature (compared in constant time)."""
    if not header:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def money(value: Any, what: str) -> Decimal:
    """A Shopify amount ("3000.00", 3000.0, 3000) as a Decimal."""
    if isinstance(value, bool) or value is None or value == "":
        raise PayloadError(f"{what} is missing")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(f"{what} is not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise PayloadError(f"{what} is not an amount: {value!r}")
    return amount


def whole(amount: Decimal) -> int:
    """Whole units of the currency (3000.00 → 3000, 19.99 → 19)."""
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


def _id(value: Any, what: str) -> str:
    """Shopify ids are integers; kept as strings (they outgrow 32 bits)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() == "":
        raise PayloadError(f"{what} is missing")
    text = str(value).strip()
    if not text.isdigit():
        raise PayloadError(f"{what} must be a number, got {value!r}")
    return str(int(text))


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _object(payload: Any, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise PayloadError(f"{what} must be a JSON object")
    return payload


@dataclass(frozen=True)
class LineItem:
    id: str | None
    sku: str | None
    product_id: int | None
    title: str
    quantity: int
    price: Decimal

    def stored(self) -> dict[str, Any]:
        """As kept in `shop_orders.items` (JSON)."""
        return {
            "id": self.id,
            "sku": self.sku,
            "product_id": self.product_id,
            "title": self.title,
            "quantity": self.quantity,
            "price": str(self.price),
        }


@dataclass(frozen=True)
class Order:
    """An order from orders/paid or orders/cancelled."""

    order_id: str
    name: str
    customer_id: str | None
    ref: str | None
    subtotal: int
    total: int
    currency: str
    items: tuple[LineItem, ...] = field(default_factory=tuple)

    @property
    def skus(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.sku for i in self.items if i.sku))

    @property
    def product_ids(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(i.product_id for i in self.items if i.product_id))


@dataclass(frozen=True)
class Refund:
    """A refund from refunds/create: how much of the order's goods went back."""

    refund_id: str
    order_id: str
    amount: int


def _line_item(raw: Any, index: int) -> LineItem:
    item = _object(raw, f"line_items[{index}]")
    quantity = _optional_int(item.get("quantity"))
    sku = item.get("sku")
    return LineItem(
        id=_id(item["id"], f"line_items[{index}].id") if item.get("id") is not None else None,
        sku=str(sku).strip() or None if sku is not None else None,
        product_id=_optional_int(item.get("product_id")),
        title=str(item.get("title") or item.get("name") or ""),
        quantity=quantity if quantity is not None else 1,
        price=money(item.get("price", "0"), f"line_items[{index}].price"),
    )


def _note_attribute(order: dict[str, Any], name: str) -> str | None:
    attributes = order.get("note_attributes") or []
    if not isinstance(attributes, list):
        return None
    for attribute in attributes:
        if isinstance(attribute, dict) and attribute.get("name") == name:
            value = attribute.get("value")
            return str(value).strip() or None if value is not None else None
    return None


def parse_order(payload: Any) -> Order:
    order = _object(payload, "the order")
    raw_items = order.get("line_items") or []
    if not isinstance(raw_items, list):
        raise PayloadError("line_items must be a list")
    items = tuple(_line_item(raw, n) for n, raw in enumerate(raw_items))
    for key in ("subtotal_price", "current_subtotal_price", "total_line_items_price"):
        if order.get(key) not in (None, ""):
            subtotal = money(order[key], key)
            break
    else:
        subtotal = sum((i.price * i.quantity for i in items), Decimal(0))
    total = money(order["total_price"], "total_price") if order.get("total_price") else subtotal
    customer = order.get("customer")
    customer_id = None
    if isinstance(customer, dict) and customer.get("id") is not None:
        customer_id = _id(customer["id"], "customer.id")
    order_id = _id(order.get("id"), "the order's id")
    return Order(
        order_id=order_id,
        name=str(order.get("name") or f"#{order.get('order_number') or order_id}"),
        customer_id=customer_id,
        ref=_note_attribute(order, REF_ATTRIBUTE),
        subtotal=whole(subtotal),
        total=whole(total),
        currency=str(order.get("currency") or "")[:8],
        items=items,
    )


def parse_refund(payload: Any) -> Refund:
    """The goods' value refunded: the refund line items' subtotals (before tax, like the
    order's subtotal); a refund without line items counts its successful refund
    transactions instead (an amount refunded by hand)."""
    refund = _object(payload, "the refund")
    lines = refund.get("refund_line_items") or []
    if not isinstance(lines, list):
        raise PayloadError("refund_line_items must be a list")
    amount = Decimal(0)
    for n, raw in enumerate(lines):
        line = _object(raw, f"refund_line_items[{n}]")
        amount += money(line.get("subtotal", 0), f"refund_line_items[{n}].subtotal")
    if not lines:
        transactions = refund.get("transactions") or []
        if not isinstance(transactions, list):
            raise PayloadError("transactions must be a list")
        for n, raw in enumerate(transactions):
            tx = _object(raw, f"transactions[{n}]")
            if tx.get("kind", "refund") == "refund" and tx.get("status", "success") == "success":
                amount += money(tx.get("amount"), f"transactions[{n}].amount")
    return Refund(
        refund_id=_id(refund.get("id"), "the refund's id"),
        order_id=_id(refund.get("order_id"), "order_id"),
        amount=whole(amount),
    )
