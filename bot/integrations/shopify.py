"""Shopify (ショップ連携): paid orders become purchase labels and points on the friend who
bought, refunds and cancellations take the points back, and shop customers link themselves
to their LINE friend with a code or a LIFF link.

`ShopOrders` is built per scenario (bot/services.py); the webhook endpoint, the LIFF link
page and the sandbox's test orders are added by `setup_shopify`. The parts: payload reading
and signatures (shopify_payloads.py), orders and points (shopify_orders.py), link codes
(shopify_link.py), the endpoint (shopify_webhook.py). docs/shop.md explains the set-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web
from tortoise.exceptions import IntegrityError

from bot import clock
from bot.db.models import ExternalCustomer
from bot.integrations.part import IntegrationPart
from bot.integrations.shopify_link import LinkCodes, looks_like_code, split_code
from bot.integrations.shopify_orders import PROVIDER, SOURCE, Credit, Outcome, ShopOrderBook
from bot.integrations.shopify_payloads import Order, Refund
from bot.scenario import TextMessage

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

LINKED = "ショップのアカウントとLINEを連携しました。お買い物のポイントやご案内がLINEに届きます。"
ALREADY_LINKED = "このショップのアカウントは、すでにこのLINEと連携済みです。"
TAKEN = (
    "このショップのアカウントは、すでに別のLINEアカウントと連携されています。"
    "お心当たりがない場合は、お手数ですがショップまでお問い合わせください。"
)
WRONG_CODE = (
    "連携コードが正しくありません。ショップのマイページに表示されているコードを、"
    "そのまま送ってください。(例: 連携 1234567890-3fa9c01b2e)"
)
BAD_FORMAT = (
    "連携コードの形式が正しくありません。「連携」に続けて、ショップのマイページに"
    "表示されているコードを送ってください。(例: 連携 1234567890-3fa9c01b2e)"
)
UNAVAILABLE = "現在ショップ連携はご利用いただけません。"


@dataclass(frozen=True)
class LinkResult:
    """How linking a customer went: `code` for programs, `message` (Japanese) for people."""

    code: str  # linked | already | taken | invalid | unavailable
    message: str
    credits: list[Credit] = field(default_factory=list)


class ShopOrders(IntegrationPart):
    """The scenario's Shopify side: handles verified webhook events and customer links."""

    def prepare(self) -> None:
        self.config = self.scenario.integrations.shopify
        self.book = (
            ShopOrderBook(self.config, self.crm, self.actions, self.refs) if self.config else None
        )
        secret = self.settings.shopify_link_secret
        self.codes = LinkCodes(secret) if secret else None

    # --- webhook events ---------------------------------------------------------------

    async def handle(self, topic: str, event: Order | Refund | None) -> Outcome:
        """Act on one verified, parsed event (`None` for a topic not handled)."""
        if self.book is None:
            return Outcome("ignored", detail="the scenario has no integrations.shopify")
        if topic == "orders/paid" and isinstance(event, Order):
            return await self.book.paid(event)
        if topic == "refunds/create" and isinstance(event, Refund):
            return await self.book.refunded(event)
        if topic == "orders/cancelled" and isinstance(event, Order):
            return await self.book.cancelled(event)
        return Outcome("ignored", detail=f"topic {topic} is not handled")

    # --- linking customers ------------------------------------------------------------

    def looks_like_link_code(self, text: str) -> bool:
        """A message meant as a link code (cheap: no database), when the shop is set up."""
        return self.book is not None and looks_like_code(text)

    async def link_by_code(self, friend_id: int, text: str) -> str:
        """Link the customer a code names to the friend who sent it, and answer them."""
        parts = split_code(text)
        if parts is None:
            await self._say(friend_id, BAD_FORMAT)
            return "shop_link_bad_format"
        result = await self.link_customer(friend_id, parts.customer_id, parts.signature, "code")
        if result.code != "linked":
            await self._say(friend_id, result.message)
        return f"shop_link_{result.code}"

    async def link_customer(
        self, friend_id: int, customer_id: str, signature: str, via: str
    ) -> LinkResult:
        """Link after checking the customer's signature; a customer linked to another friend
        stays with them. Orders paid before are credited now, after the `linked` message."""
        if self.book is None or self.codes is None:
            return LinkResult("unavailable", UNAVAILABLE)
        if not self.codes.valid(customer_id, signature):
            log.info("shopify link refused for friend #%s: wrong signature", friend_id)
            return LinkResult("invalid", WRONG_CODE)
        customer_id = str(int(customer_id))
        holder, fresh = await self._link(friend_id, customer_id, via)
        if holder != friend_id:
            log.warning(
                "shopify customer %s is linked to friend #%s; #%s refused",
                customer_id, holder, friend_id,
            )  # fmt: skip
            return LinkResult("taken", TAKEN)
        if fresh:
            linked = (self.config.linked if self.config else None) or [
                TextMessage(type="text", text=LINKED)
            ]
            await self.actions.send(friend_id, linked, source=SOURCE)
        credits = await self.book.credit_waiting(friend_id, customer_id)
        if fresh:
            return LinkResult("linked", LINKED, credits)
        return LinkResult("already", ALREADY_LINKED, credits)

    @staticmethod
    async def _link(friend_id: int, customer_id: str, via: str) -> tuple[int, bool]:
        """The friend the customer is linked to after this (this one if they were free),
        and whether the link is new."""
        existing = await ExternalCustomer.get_or_none(provider=PROVIDER, customer_id=customer_id)
        if existing is not None:
            return existing.friend_id, False
        try:
            await ExternalCustomer.create(
                provider=PROVIDER, customer_id=customer_id, friend_id=friend_id,
                linked_at=clock.now(), via=via,
            )  # fmt: skip
        except IntegrityError:
            existing = await ExternalCustomer.get(provider=PROVIDER, customer_id=customer_id)
            return existing.friend_id, False
        return friend_id, True

    async def _say(self, friend_id: int, text: str) -> None:
        await self.actions.send(friend_id, [TextMessage(type="text", text=text)], source=SOURCE)


def setup_shopify(app: web.Application) -> None:
    """The webhook endpoint, the LIFF link page and, in sandbox mode, the test orders."""
    from bot.appkeys import SERVICES  # the app keys import the services, which import this
    from bot.integrations.shopify_webhook import shopify_webhook
    from liff.shoplink import setup_shop_link

    app.router.add_post("/integrations/shopify", shopify_webhook)
    setup_shop_link(app)
    if app[SERVICES].settings.sandbox:
        from bot.sandbox.orders import setup_sandbox_orders

        setup_sandbox_orders(app)
