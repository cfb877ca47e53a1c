"""The `integrations:` and `routes:` sections: payments (Stripe), shop orders (Shopify),
signed inbound webhooks from other systems, and inflow routes (流入経路).

Each integration turns an outside event into actions on a friend (the same `do:` lists as
rules) and a domain event that rules and step scenarios can trigger on (`payment`,
`order_paid`, `webhook`, `route`), so an operator chooses whichever reads better.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .actions import ActionList, TagNames
from .crm import Duration
from .schema import MessageList, _Model

#: Source and route names appear in URLs (`/integrations/hooks/NAME`, `/r/NAME`).
URL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def check_url_name(value: str) -> str:
    if not URL_NAME.match(value):
        raise PydanticCustomError(
            "url_name",
            "'{name}' must be 1-64 letters, digits, '-' or '_' (it is part of a URL)",
            {"name": value},
        )
    return value


UrlName = Annotated[str, AfterValidator(check_url_name)]
"""A name that is part of a URL (a webhook source, a route), checked as a mapping key."""


class StripeProduct(_Model):
    """Extra actions for payments of one price or product (e.g. a course tag)."""

    price: Annotated[str, Field(min_length=1)] | None = None
    """A Stripe price id (price_…) the payment includes."""
    product: Annotated[str, Field(min_length=1)] | None = None
    """A Stripe product id (prod_…) the payment includes."""
    tag: TagNames | None = None
    """Tags given to the payer of this price or product."""
    do: ActionList | None = None
    """More actions for this price or product (a step scenario, a message)."""

    @model_validator(mode="after")
    def _one_key(self) -> StripeProduct:
        if (self.price is None) == (self.product is None):
            raise PydanticCustomError("product_key", "give either price or product (not both)")
        if not (self.tag or self.do):
            raise PydanticCustomError("product_do", "give tag or do: what this purchase does")
        return self


class StripeSettings(_Model):
    """Stripe payments (決済連携): what a payment, a failed payment and a cancelled
    subscription do. The webhook endpoint is `POST /integrations/stripe`."""

    checkout: dict[Annotated[str, Field(min_length=1, max_length=64)], str] = Field(
        default_factory=dict
    )
    """Payment Links or Checkout URLs by name. The LIFF page `pay/NAME` (a rich-menu `liff`
    action with `path: pay/NAME`) opens it with `client_reference_id` naming the friend."""
    paid: ActionList | None = None
    """Actions when a friend pays (checkout completed, or an invoice paid), e.g.
    `add_tag: 決済完了者`."""
    renewed: ActionList | None = None
    """Actions when a subscription renews (a later invoice paid); `paid` when not given."""
    products: list[StripeProduct] = Field(default_factory=list)
    """Price- or product-specific tags and actions, on top of `paid`."""
    canceled: ActionList | None = None
    """Actions when the subscription ends (`customer.subscription.deleted`), e.g.
    `add_tag: 退会者`."""
    payment_failed: MessageList | None = None
    """Messages to the friend when a payment fails (`invoice.payment_failed`)."""
    payment_failed_do: ActionList | None = None
    """Actions when a payment fails (e.g. a tag for the admins' follow-up)."""
    unmatched_notice: bool = True
    """Tell the admins when a payment cannot be matched to a friend."""

    @field_validator("checkout")
    @classmethod
    def _https(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            if not url.startswith("https://"):
                raise PydanticCustomError(
                    "checkout_url",
                    "checkout '{name}' must be an https:// URL (found '{url}')",
                    {"name": name, "url": url},
                )
        return value


class ShopifyProduct(_Model):
    """A purchase label (購入ラベル) and actions for one product."""

    sku: Annotated[str, Field(min_length=1)] | None = None
    """The variant SKU in the order's line items."""
    product_id: Annotated[int, Field(gt=0)] | None = None
    """The Shopify product id."""
    tag: TagNames | None = None
    """The purchase label, e.g. 商品A購入."""
    do: ActionList | None = None
    """More actions for buyers of this product."""

    @model_validator(mode="after")
    def _one_key(self) -> ShopifyProduct:
        if (self.sku is None) == (self.product_id is None):
            raise PydanticCustomError("product_key", "give either sku or product_id (not both)")
        if not (self.tag or self.do):
            raise PydanticCustomError("product_do", "give tag or do: what this purchase does")
        return self


class ShopifyPoints(_Model):
    """Points per order amount, e.g. 1 point per 100 yen."""

    per: Annotated[int, Field(gt=0)] = 100
    """How much of the order's subtotal (in the shop currency) earns `points`."""
    points: Annotated[int, Field(gt=0)] = 1
    reason: str = "ショップでのお買い物"
    """Shown in the points ledger."""
    notice: MessageList | None = None
    """Messages after the points are added; `{{ earned }}` is the points of this order and
    `{{ friend.points }}` the new balance. A standard Japanese notice when not given."""
    refund_notice: MessageList | None = None
    """Messages when a refund takes points back (`{{ reversed }}`); none when not given."""


class ShopifySettings(_Model):
    """Shopify orders (ショップ連携): purchase labels, points and customer linking. The
    webhook endpoint is `POST /integrations/shopify` (topics orders/paid, refunds/create,
    orders/cancelled)."""

    products: list[ShopifyProduct] = Field(default_factory=list)
    """Purchase labels and actions per product."""
    paid: ActionList | None = None
    """Actions for every paid order, whatever it holds."""
    points: ShopifyPoints | None = None
    """Points per amount; no points when not given."""
    linked: MessageList | None = None
    """Messages when a friend links their shop account (a standard notice when not given)."""


class InboundSource(_Model):
    """Another system that posts signed events (`POST /integrations/hooks/NAME`)."""

    secret_env: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """The environment variable holding this source's secret (default
    STEPBOT_HOOK_SECRET_NAME, the name upper-cased with '-' as '_')."""
    events: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = None
    """The event names this source may send; any when not given."""
    fields: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    """Friend fields the events may set (`"fields": {...}` in the body), e.g. a booking
    date for a reminder."""

    @field_validator("secret_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            raise PydanticCustomError(
                "env_name",
                "'{name}' is not an environment variable name (expected e.g. RESERVATIONS_SECRET)",
                {"name": value},
            )
        return value


def default_secret_env(source: str) -> str:
    return "STEPBOT_HOOK_SECRET_" + source.upper().replace("-", "_")


class Integrations(_Model):
    """Payments, shop orders and other systems' events."""

    stripe: StripeSettings | None = None
    shopify: ShopifySettings | None = None
    webhooks: dict[UrlName, InboundSource] = Field(default_factory=dict)
    """Signed inbound webhooks by source name (the name is part of the URL)."""


class RouteConversion(_Model):
    """What counts as a conversion for a route: a tag added within a time of arriving."""

    tag: Annotated[str, Field(min_length=1)]
    within: Duration = "30d"


class InflowRoute(_Model):
    """A tracking link and QR code (流入経路), e.g. `/r/instagram` on a profile."""

    title: str | None = None
    """What admins see, e.g. Instagramプロフィール."""
    to: str = "friend_add"
    """Where a visit goes: `friend_add` (the account's friend-add page) or an https URL."""
    do: ActionList | None = None
    """Actions for the friend who came this way (tags, a step scenario, a menu tag)."""
    conversion: RouteConversion | None = None
    """Counts arrivals who got this tag later (e.g. 決済完了者 within 30d)."""
    once: bool = True
    """Run `do` once per friend however often they come back this way."""

    @field_validator("to")
    @classmethod
    def _target(cls, value: str) -> str:
        if value != "friend_add" and not value.startswith("https://"):
            raise PydanticCustomError(
                "route_target", "must be friend_add or an https:// URL (found '{value}')",
                {"value": value},
            )  # fmt: skip
        return value
