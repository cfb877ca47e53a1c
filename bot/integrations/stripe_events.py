"""Reading Stripe's event objects: who paid, for what, and which subscription it belongs to.

Stripe's shapes move between API versions, so every reader accepts the current shape and the
one before it: since 2025-03-31 an invoice names its subscription under
`parent.subscription_details` and a line its price under `pricing.price_details` (before,
`invoice.subscription` and `line.price`). An expandable field is an id or, when expanded,
the object holding it. Nothing here trusts a value it does not find: a missing or oddly
typed field reads as absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Payment statuses of a completed Checkout Session that mean the money is there.
PAID_STATUSES = ("paid", "no_payment_required")
#: Invoice billing reasons of a subscription's first invoice (the checkout's own payment).
FIRST_INVOICE = "subscription_create"
#: Metadata keys: the friend (a reference, or a friend number set by your own server), and
#: the price or product a Checkout Session is for (Payment Links copy their metadata there).
FRIEND_KEY = "stepbot_friend"
PRICE_KEY = "price"
PRODUCT_KEY = "product"


@dataclass(frozen=True)
class Items:
    """What a payment was for: Stripe price and product ids, in order, without repeats."""

    prices: tuple[str, ...] = ()
    products: tuple[str, ...] = ()

    def __or__(self, other: Items) -> Items:
        return Items(
            tuple(dict.fromkeys((*self.prices, *other.prices))),
            tuple(dict.fromkeys((*self.products, *other.products))),
        )

    def __bool__(self) -> bool:
        return bool(self.prices or self.products)


def data_object(event: Mapping[str, Any]) -> dict[str, Any]:
    """The object an event is about (`data.object`), or {}."""
    data = event.get("data")
    found = data.get("object") if isinstance(data, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def ref_id(value: Any) -> str | None:
    """An expandable field's id: the string itself, or the expanded object's `id`."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def number(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def metadata(obj: Any) -> dict[str, str]:
    """An object's metadata as strings (Stripe's are always strings; anything else is dropped)."""
    found = obj.get("metadata") if isinstance(obj, Mapping) else None
    if not isinstance(found, Mapping):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, str)}


def _path(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _listed(value: str | None) -> tuple[str, ...]:
    """`price_a, price_b` in metadata: several ids in one value."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _rows(listing: Any) -> Iterable[Mapping[str, Any]]:
    """The rows of a Stripe list object (`{"object": "list", "data": [...]}`)."""
    rows = listing.get("data") if isinstance(listing, Mapping) else None
    return [row for row in rows if isinstance(row, Mapping)] if isinstance(rows, list) else []


def _price_items(price: Any) -> Items:
    """A price field: `price_…`, or a Price object with its product (an id or expanded)."""
    price_id = ref_id(price)
    product = ref_id(price.get("product")) if isinstance(price, Mapping) else None
    return Items((price_id,) if price_id else (), (product,) if product else ())


def metadata_items(meta: Mapping[str, str]) -> Items:
    return Items(_listed(meta.get(PRICE_KEY)), _listed(meta.get(PRODUCT_KEY)))


def session_items(session: Mapping[str, Any]) -> Items:
    """A Checkout Session's prices: its metadata (a Payment Link's metadata is copied to the
    sessions it opens) and, when the sender expanded them, its `line_items`. Events never
    carry line items on their own."""
    items = metadata_items(metadata(session))
    for line in _rows(session.get("line_items")):
        items |= _price_items(line.get("price"))
    return items


def invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    """The subscription an invoice bills, in the current shape or the one before."""
    return ref_id(_path(invoice, "parent", "subscription_details", "subscription")) or ref_id(
        invoice.get("subscription")
    )


def invoice_metadata(invoice: Mapping[str, Any]) -> list[dict[str, str]]:
    """Where an invoice may carry our keys: its own metadata, then its subscription's."""
    return [
        metadata(invoice),
        metadata(_path(invoice, "parent", "subscription_details")),
        metadata(invoice.get("subscription_details")),
    ]


def invoice_items(invoice: Mapping[str, Any]) -> Items:
    """The prices and products on an invoice's lines (first page: up to ten lines arrive in
    the event, which covers a subscription's items)."""
    items = Items()
    for line in _rows(invoice.get("lines")):
        details = _path(line, "pricing", "price_details")
        if isinstance(details, Mapping):
            price = ref_id(details.get("price"))
            product = ref_id(details.get("product"))
            items |= Items((price,) if price else (), (product,) if product else ())
        items |= _price_items(line.get("price"))
    return items


def subscription_items(subscription: Mapping[str, Any]) -> Items:
    items = Items()
    for item in _rows(subscription.get("items")):
        items |= _price_items(item.get("price"))
    return items
