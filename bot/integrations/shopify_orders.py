"""Shop orders on the friend: purchase labels, actions, points, and taking points back.

Every order is a `shop_orders` row, unique by Shopify's order id, so a second paid webhook
for the same order finds it instead of crediting twice. An order whose customer is not linked
yet is kept with no friend and credited when they link.

Crediting is safe to repeat (a retried webhook after a crash finishes what the first attempt
started): tags are only added once, points carry a once-key per order, messages a dedupe key
per order, and `credited_at` is set by a conditional update, so the `order_paid` domain event
is published by whichever attempt sets it, once. Refunds and cancellations record what they
took back in the same transaction as a marker row per refund (or cancellation), so one
delivered twice under different webhook ids takes nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot import clock
from bot.crm.events import OrderPaid
from bot.crm.points import PointsRefused
from bot.db.models import ExternalCustomer, Friend, IntegrationEvent, PointEntry, ShopOrder
from bot.integrations.shopify_payloads import Order, Refund
from bot.scenario import TextMessage

if TYPE_CHECKING:
    from bot.automation.actions import ActionRunner
    from bot.crm.service import Crm
    from bot.integrations.refs import FriendRefs
    from bot.scenario.integrations import ShopifySettings

log = logging.getLogger(__name__)

PROVIDER = "shopify"
SOURCE = "shopify"
DEFAULT_NOTICE = (
    "ご購入ありがとうございます。{{ earned }}ポイントを付与しました"
    "(現在 {{ friend.points }}ポイント)"
)


@dataclass(frozen=True)
class Outcome:
    """What an event did, for the integration ledger and the webhook's answer."""

    status: str  # done | unmatched | ignored
    friend_id: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Credit:
    """What crediting one order gave its friend."""

    order: str
    labels: tuple[str, ...] = ()
    points: int = 0
    skipped: str = ""
    """Why nothing was given (cancelled or fully refunded before the customer linked)."""

    def describe(self) -> str:
        if self.skipped:
            return f"order {self.order}: {self.skipped}"
        labels = ", ".join(self.labels) or "no labels"
        return f"order {self.order}: {labels}, {self.points} points"


def earned_points(config: ShopifySettings, subtotal: int) -> int:
    """floor(subtotal / per) × points: 1 point per 100 yen gives 29 points for 2,980 yen."""
    if config.points is None or subtotal <= 0:
        return 0
    return (subtotal // config.points.per) * config.points.points


def reversal_due(earned: int, subtotal: int, refunded: int) -> int:
    """Of `earned` points, how many a refund of `refunded` takes back in all: what the
    amount kept would not have earned, in proportion (rounded in the shop's favour)."""
    if earned <= 0 or refunded <= 0:
        return 0
    if subtotal <= 0 or refunded >= subtotal:
        return earned
    return earned - earned * (subtotal - refunded) // subtotal


class ShopOrderBook:
    """Records orders and turns them into labels, actions and points for their friend."""

    def __init__(
        self, config: ShopifySettings, crm: Crm, actions: ActionRunner, refs: FriendRefs
    ) -> None:
        self.config = config
        self.crm = crm
        self.actions = actions
        self.refs = refs

    # --- whose order ----------------------------------------------------------------

    async def owner(self, order: Order) -> int | None:
        """The friend an order belongs to: a signed reference the cart carried (this order
        only; a forwarded cart link must not link someone's account), else the customer's
        link."""
        ref_friend = self.refs.parse(order.ref)
        if ref_friend is not None and await Friend.exists(id=ref_friend):
            return ref_friend
        if order.ref:
            log.warning("shopify order %s: unknown stepbot_ref %r ignored", order.name, order.ref)
        if order.customer_id is None:
            return None
        link = await ExternalCustomer.get_or_none(provider=PROVIDER, customer_id=order.customer_id)
        return link.friend_id if link is not None else None

    # --- orders/paid -------------------------------------------------------------------

    async def paid(self, order: Order) -> Outcome:
        friend_id = await self.owner(order)
        row = await self._record(order, friend_id)
        if row.friend_id is None:
            who = f"customer {order.customer_id}" if order.customer_id else "a guest"
            return Outcome(
                "unmatched", None, f"order {order.name} of {who} kept until they link LINE"
            )
        if row.credited_at is not None:
            return Outcome("done", row.friend_id, f"order {order.name} was credited before")
        credit = await self.credit(row)
        return Outcome("done", row.friend_id, credit.describe())

    async def _record(self, order: Order, friend_id: int | None) -> ShopOrder:
        """The order's row, created now or found (a second paid webhook, a retry)."""
        try:
            return await ShopOrder.create(
                order_id=order.order_id,
                customer_id=order.customer_id,
                friend_id=friend_id,
                name=order.name[:100],
                subtotal=order.subtotal,
                currency=order.currency,
                items=[item.stored() for item in order.items],
                paid_at=clock.now(),
            )
        except IntegrityError:
            row = await ShopOrder.get(order_id=order.order_id)
        if row.friend_id is None and friend_id is not None:
            await ShopOrder.filter(id=row.id, friend_id__isnull=True).update(friend_id=friend_id)
            await row.refresh_from_db()
        return row

    async def credit(self, row: ShopOrder) -> Credit:
        """Labels, actions, points and the notice for an order with a friend. Safe to repeat
        until `credited_at` is set; the domain event goes out with that, once."""
        friend_id = row.friend_id
        assert friend_id is not None
        key = f"shopify:order:{row.order_id}"
        if not await Friend.exists(id=friend_id):
            return Credit(row.name, skipped=f"friend #{friend_id} no longer exists")
        marker = f"cancel:{row.order_id}"
        cancelled = await IntegrationEvent.exists(provider=PROVIDER, event_id=marker)
        if cancelled or (row.subtotal > 0 and row.refunded >= row.subtotal):
            await self._mark_credited(row, earned=0, reversed_=0)
            reason = "cancelled" if cancelled else "fully refunded"
            return Credit(row.name, skipped=f"{reason} before it could be credited")

        skus = {str(item["sku"]) for item in row.items if item.get("sku")}
        product_ids = {int(item["product_id"]) for item in row.items if item.get("product_id")}
        labels: list[str] = []
        for index, product in enumerate(self.config.products):
            bought = product.sku in skus if product.sku else product.product_id in product_ids
            if not bought:
                continue
            for tag in product.tag or ():
                await self.crm.tags.add(friend_id, tag, source=SOURCE)
                labels.append(tag)
            if product.do:
                await self.actions.run(
                    friend_id, product.do, source=SOURCE, dedupe=f"{key}:product:{index}"
                )
        if self.config.paid:
            await self.actions.run(friend_id, self.config.paid, source=SOURCE, dedupe=f"{key}:paid")

        earned = earned_points(self.config, row.subtotal)
        taken_back = reversal_due(earned, row.subtotal, row.refunded)
        net = earned - taken_back
        if net > 0 and self.config.points is not None:
            await self._give_points(friend_id, net, key, row)
        if await self._mark_credited(row, earned=earned, reversed_=taken_back):
            await self.crm.bus.publish(
                OrderPaid(
                    friend_id,
                    source=SOURCE,
                    order=row.order_id,
                    skus=tuple(sorted(skus)),
                    product_ids=tuple(sorted(product_ids)),
                    total=row.subtotal,
                )
            )
        return Credit(row.name, tuple(labels), max(net, 0))

    async def _give_points(self, friend_id: int, net: int, key: str, row: ShopOrder) -> None:
        """The notice, then the points: rules reacting to the new balance (a 300-point
        reward) answer after the friend has read what they earned. The notice shows the
        balance with these points (`friend.points` of the event being answered would be the
        one from before)."""
        config = self.config.points
        assert config is not None
        notice = config.notice or [TextMessage(type="text", text=DEFAULT_NOTICE)]
        given = await PointEntry.exists(friend_id=friend_id, once_key=key)  # a retry
        friend = await Friend.get(id=friend_id)
        variables = dict((await self.actions.context_for(friend, notice))["friend"])
        variables["points"] = friend.points + (0 if given else net)
        await self.actions.send(
            friend_id,
            notice,
            source=SOURCE,
            dedupe=f"{key}:notice",
            extra={"earned": net, "order": row.name, "friend": variables},
        )
        if not given:
            await self.crm.points.add(
                friend_id, net, reason=self._reason(config.reason, row), source=SOURCE, once=key
            )

    @staticmethod
    async def _mark_credited(row: ShopOrder, *, earned: int, reversed_: int) -> bool:
        now = clock.now()
        won = await ShopOrder.filter(id=row.id, credited_at__isnull=True).update(
            credited_at=now, points=earned, points_reversed=reversed_
        )
        row.credited_at, row.points, row.points_reversed = now, earned, reversed_
        return bool(won)

    @staticmethod
    def _reason(base: str, row: ShopOrder) -> str:
        return f"{base} {row.name}".strip()[:200]

    async def credit_waiting(self, friend_id: int, customer_id: str) -> list[Credit]:
        """Orders the customer paid before linking, now the friend's (oldest first)."""
        credits = []
        waiting = await ShopOrder.filter(
            customer_id=customer_id, friend_id__isnull=True, credited_at__isnull=True
        ).order_by("paid_at", "id")
        for row in waiting:
            claimed = await ShopOrder.filter(id=row.id, friend_id__isnull=True).update(
                friend_id=friend_id
            )
            if not claimed:
                continue  # another link got there first
            row.friend_id = friend_id
            credits.append(await self.credit(row))
        return credits

    # --- refunds/create and orders/cancelled ------------------------------------------

    async def refunded(self, refund: Refund) -> Outcome:
        row = await ShopOrder.get_or_none(order_id=refund.order_id)
        if row is None:
            return Outcome("unmatched", None, f"refund {refund.refund_id} of unknown order "
                           f"{refund.order_id}")  # fmt: skip
        marker = f"refund:{refund.refund_id}"
        if await IntegrationEvent.exists(provider=PROVIDER, event_id=marker):
            return Outcome("done", row.friend_id, f"refund {refund.refund_id} was applied before")
        refunded = min(row.subtotal, row.refunded + refund.amount)
        due = 0
        if row.friend_id is not None and row.credited_at is not None:
            due = max(0, reversal_due(row.points, row.subtotal, refunded) - row.points_reversed)
        taken, note = await self._take_back(
            row, due, once=f"shopify:refund:{refund.refund_id}", why="ショップ注文の返金"
        )
        await self._apply(row, marker, refunded=refunded - row.refunded, reversed_=due)
        config = self.config.points
        if taken > 0 and config is not None and config.refund_notice and row.friend_id is not None:
            await self.actions.send(
                row.friend_id,
                config.refund_notice,
                source=SOURCE,
                dedupe=f"shopify:refund:{refund.refund_id}:notice",
                extra={"reversed": taken, "order": row.name},
            )
        detail = f"refund {refund.refund_id} of order {row.name}: {refund.amount} refunded, "
        return Outcome("done", row.friend_id, detail + f"{taken} points taken back{note}")

    async def cancelled(self, order: Order) -> Outcome:
        row = await ShopOrder.get_or_none(order_id=order.order_id)
        if row is None:
            return Outcome("unmatched", None, f"cancelled order {order.name} was never paid here")
        marker = f"cancel:{row.order_id}"
        if await IntegrationEvent.exists(provider=PROVIDER, event_id=marker):
            return Outcome("done", row.friend_id, f"order {row.name} was cancelled before")
        due = 0
        if row.friend_id is not None and row.credited_at is not None:
            due = max(0, row.points - row.points_reversed)
        taken, note = await self._take_back(
            row, due, once=f"shopify:cancel:{row.order_id}", why="ショップ注文のキャンセル"
        )
        await self._apply(row, marker, refunded=max(0, row.subtotal - row.refunded), reversed_=due)
        detail = f"order {row.name} cancelled: {taken} points taken back{note}"
        return Outcome("done", row.friend_id, detail)

    async def _take_back(self, row: ShopOrder, due: int, *, once: str, why: str) -> tuple[int, str]:
        """Remove `due` points; with too small a balance (and no negative balances) take
        what is there. Returns what was taken and a note for the ledger."""
        if due <= 0 or row.friend_id is None:
            return 0, ""
        friend_id, reason = row.friend_id, self._reason(why, row)
        for _ in range(3):  # the balance may change between reading and taking
            try:
                await self.crm.points.remove(
                    friend_id, due, reason=reason, source=SOURCE, once=once
                )
                return due, ""
            except PointsRefused:
                balance = await self.crm.points.balance(friend_id)
                if balance <= 0:
                    return 0, f" (balance 0: {due} could not be taken)"
                try:
                    await self.crm.points.remove(
                        friend_id, balance, reason=reason, source=SOURCE, once=once
                    )
                except PointsRefused:
                    continue
                return balance, f" (balance {balance}: {due - balance} could not be taken)"
        return 0, f" (balance kept changing: {due} not taken)"

    @staticmethod
    async def _apply(row: ShopOrder, marker: str, *, refunded: int, reversed_: int) -> None:
        """Record a refund or cancellation on the order, with its marker, in one go."""
        now = clock.now()
        try:
            async with in_transaction() as conn:
                await IntegrationEvent.create(
                    provider=PROVIDER, event_id=marker, kind="once", status="done",
                    received_at=now, done_at=now, friend_id=row.friend_id, using_db=conn,
                )  # fmt: skip
                await (
                    ShopOrder.filter(id=row.id)
                    .using_db(conn)
                    .update(
                        refunded=F("refunded") + refunded,
                        points_reversed=F("points_reversed") + reversed_,
                    )
                )
        except IntegrityError:
            log.info("shopify %s recorded by another delivery at the same time", marker)
