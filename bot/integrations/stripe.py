"""Stripe payments (決済連携): `POST /integrations/stripe`.

Each event is verified with the `stripe` library (the `Stripe-Signature` header and
STRIPE_WEBHOOK_SECRET), recorded by its id in the integration ledger (a replay is answered
`duplicate` and does nothing), matched to a friend and turned into the scenario's actions
(`integrations.stripe`) and a domain event that `payment:` rules and step triggers see.

Who paid: the Checkout Session's `client_reference_id` (a signed friend reference that the
LIFF pay page adds to the checkout link), `metadata.stepbot_friend` (a reference or a friend
number, set by your own server through Stripe's API), or the Stripe customer, linked to the
friend when their checkout completes. Invoices and subscriptions have no reference of their
own; they are matched by customer or metadata.

A subscription's first payment arrives twice: `checkout.session.completed` and the first
invoice's `invoice.paid` (in either order). Whichever can name the friend first owns the
payment (`first:<subscription>` in the ledger, held by that event's id): the other adds only
product actions it knows of and the owner did not run. A first invoice that arrives before
its checkout keeps its prices (`lines:<key>`) for the checkout to use.

Anything that fails answers 500: Stripe retries, and the retry finishes the event. Every
action carries a dedupe key made from the event (or payment) id, so nothing is sent twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import stripe
from aiohttp import web
from tortoise.exceptions import IntegrityError

from bot import clock
from bot.crm.admins import admin_user_ids
from bot.crm.events import PaymentFailed, PaymentReceived, SubscriptionCanceled
from bot.db.models import ExternalCustomer, Friend, IntegrationEvent
from bot.integrations import ledger
from bot.integrations.part import IntegrationPart
from bot.integrations.stripe_events import (
    FIRST_INVOICE,
    FRIEND_KEY,
    PAID_STATUSES,
    Items,
    data_object,
    invoice_items,
    invoice_metadata,
    invoice_subscription,
    metadata,
    number,
    ref_id,
    session_items,
    subscription_items,
    text,
)
from bot.scenario.integrations import StripeProduct, StripeSettings

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

PROVIDER = "stripe"
SOURCE = "stripe"
WEBHOOK_PATH = "/integrations/stripe"
MAX_BODY_BYTES = 512 * 1024
#: How old a signature's timestamp may be (Stripe's own default). Stripe signs with real
#: time and the check uses real time, so the test clock never enters into it.
TOLERANCE_S = 300

#: What admins are told an unmatched event was, by type.
_LABELS = {
    "checkout.session.completed": "決済",
    "checkout.session.async_payment_succeeded": "決済",
    "checkout.session.async_payment_failed": "決済の失敗",
    "invoice.paid": "請求の支払い",
    "invoice.payment_failed": "支払いの失敗",
    "customer.subscription.deleted": "サブスクリプションの終了",
}


@dataclass
class Outcome:
    """How an event ended, for the ledger: done, unmatched or ignored."""

    status: str
    friend_id: int | None = None
    detail: str = ""


Handler = Callable[[str, str, dict[str, Any]], Awaitable[Outcome]]


def _matches(product: StripeProduct, items: Items) -> bool:
    return (product.price is not None and product.price in items.prices) or (
        product.product is not None and product.product in items.products
    )


def _money(amount: int, currency: str) -> str:
    return f"{amount:,} {currency.upper()}" if currency else f"{amount:,}"


class StripePayments(IntegrationPart):
    def prepare(self) -> None:
        self._handlers: dict[str, Handler] = {
            "checkout.session.completed": self._checkout,
            "checkout.session.async_payment_succeeded": self._checkout,
            "checkout.session.async_payment_failed": self._checkout_failed,
            "invoice.paid": self._invoice_paid,
            "invoice.payment_failed": self._invoice_failed,
            "customer.subscription.deleted": self._subscription_deleted,
        }

    @property
    def spec(self) -> StripeSettings:
        """The scenario's `integrations.stripe` (without one, events still reach rules)."""
        return self.scenario.integrations.stripe or StripeSettings()

    # --- one event ---------------------------------------------------------------------

    async def receive(self, event: Mapping[str, Any]) -> str:
        """Process a verified event once: `done`, `unmatched`, `ignored` (a type we do not
        handle; nothing stored) or `duplicate` (seen and finished before)."""
        kind, event_id = str(event["type"]), str(event["id"])
        handler = self._handlers.get(kind)
        if handler is None:
            return "ignored"
        async with ledger.processing(PROVIDER, event_id, kind) as claim:
            if not claim.fresh:
                return "duplicate"
            outcome = await handler(event_id, kind, data_object(event))
            await ledger.finish(
                claim.row, outcome.status, friend_id=outcome.friend_id, detail=outcome.detail
            )
        log.info(
            "stripe %s %s: %s (friend #%s) %s",
            kind,
            event_id,
            outcome.status,
            outcome.friend_id,
            outcome.detail,
        )
        return outcome.status

    # --- checkout ----------------------------------------------------------------------

    async def _checkout(self, event_id: str, kind: str, session: dict[str, Any]) -> Outcome:
        friend_id = await self._checkout_friend(session)
        if friend_id is None:
            return await self._unmatched(event_id, kind, session)
        await self._link(ref_id(session.get("customer")), friend_id, "checkout")
        status = text(session, "payment_status") or ""
        if status not in PAID_STATUSES:
            # e.g. konbini: `checkout.session.async_payment_succeeded` follows when paid.
            return Outcome("done", friend_id, f"checkout {session.get('id')} waits for payment")
        # One payment, one key: a subscription's, or the invoice a one-time checkout made
        # (its `invoice.paid` reports the same payment), or the session's.
        subscription = ref_id(session.get("subscription"))
        key = subscription or ref_id(session.get("invoice")) or str(session.get("id"))
        items = session_items(session) | await self._take_waiting_lines(key, friend_id)
        result = await self._first_payment(
            event_id,
            friend_id,
            key,
            items,
            number(session, "amount_total"),
            text(session, "currency") or "",
        )
        return Outcome("done", friend_id, result)

    async def _checkout_failed(self, event_id: str, kind: str, session: dict[str, Any]) -> Outcome:
        friend_id = await self._checkout_friend(session)
        if friend_id is None:
            return await self._unmatched(event_id, kind, session)
        await self._payment_failed(
            event_id, friend_id, number(session, "amount_total"), text(session, "currency") or ""
        )
        return Outcome("done", friend_id, f"checkout {session.get('id')} payment failed")

    async def _checkout_friend(self, session: Mapping[str, Any]) -> int | None:
        reference = text(session, "client_reference_id")
        friend_id = await self._from_ref(reference)
        if friend_id is None and reference:
            log.warning("stripe checkout %s: client_reference_id is not ours", session.get("id"))
        return (
            friend_id
            or await self._from_metadata([metadata(session)])
            or await self._from_customer(ref_id(session.get("customer")))
        )

    # --- invoices ----------------------------------------------------------------------

    async def _invoice_friend(self, invoice: Mapping[str, Any]) -> int | None:
        return await self._from_metadata(invoice_metadata(invoice)) or await self._from_customer(
            ref_id(invoice.get("customer"))
        )

    async def _invoice_paid(self, event_id: str, kind: str, invoice: dict[str, Any]) -> Outcome:
        subscription = invoice_subscription(invoice)
        first = subscription is None or invoice.get("billing_reason") == FIRST_INVOICE
        items = invoice_items(invoice)
        key = subscription or str(invoice.get("id"))
        friend_id = await self._invoice_friend(invoice)
        if friend_id is None:
            if first:
                # Often ahead of its checkout, which names the friend and uses these lines.
                await self._keep_lines(key, event_id, items)
            if subscription and first:
                return Outcome("unmatched", None, f"first invoice of {key}: waits for its checkout")
            return await self._unmatched(event_id, kind, invoice)
        await self._link(ref_id(invoice.get("customer")), friend_id, "invoice")
        amount, currency = number(invoice, "amount_paid"), text(invoice, "currency") or ""
        if first:
            result = await self._first_payment(event_id, friend_id, key, items, amount, currency)
            return Outcome("done", friend_id, result)
        actions = self.spec.renewed if self.spec.renewed is not None else self.spec.paid
        if actions:
            await self._run(friend_id, actions, event_id, f"stripe:{event_id}")
        await self._announce(friend_id, items, amount, currency, renewal=True)
        return Outcome("done", friend_id, f"renewal of {subscription}")

    async def _invoice_failed(self, event_id: str, kind: str, invoice: dict[str, Any]) -> Outcome:
        friend_id = await self._invoice_friend(invoice)
        if friend_id is None:
            if invoice.get("billing_reason") == FIRST_INVOICE:
                # A card refused during checkout: the payment page told the buyer already.
                return Outcome("ignored", None, "first invoice failed during checkout")
            return await self._unmatched(event_id, kind, invoice)
        await self._link(ref_id(invoice.get("customer")), friend_id, "invoice")
        await self._payment_failed(
            event_id, friend_id, number(invoice, "amount_due"), text(invoice, "currency") or ""
        )
        return Outcome("done", friend_id, f"invoice {invoice.get('id')} failed")

    # --- subscriptions -----------------------------------------------------------------

    async def _subscription_deleted(
        self, event_id: str, kind: str, subscription: dict[str, Any]
    ) -> Outcome:
        friend_id = await self._from_metadata(
            [metadata(subscription)]
        ) or await self._from_customer(ref_id(subscription.get("customer")))
        if friend_id is None:
            return await self._unmatched(event_id, kind, subscription)
        if self.spec.canceled:
            await self._run(friend_id, self.spec.canceled, event_id, f"stripe:{event_id}")
        sub_id = str(subscription.get("id") or "")
        await self.crm.bus.publish(
            SubscriptionCanceled(friend_id, source=SOURCE, subscription=sub_id)
        )
        items = subscription_items(subscription)
        return Outcome("done", friend_id, f"subscription {sub_id} ended {list(items.prices)}")

    # --- what payments do --------------------------------------------------------------

    async def _first_payment(
        self,
        event_id: str,
        friend_id: int,
        key: str,
        items: Items,
        amount: int,
        currency: str,
    ) -> str:
        """The payment that starts a subscription, or a one-time purchase: `paid`, the
        matching `products` and PaymentReceived, once however many events report it."""
        spec = self.spec
        async with ledger.processing(PROVIDER, f"first:{key}", kind=event_id) as first:
            # Ours when we made it, or made it before and crashed halfway (Stripe's retry).
            owner = first.fresh and first.row.kind == event_id[:100]
            if owner and spec.paid:
                await self._run(friend_id, spec.paid, event_id, f"stripe:first:{key}:paid")
            products = await self._product_actions(event_id, friend_id, key, items)
            if not owner:
                return f"payment {key} counted before; products {products}"
            await self._announce(friend_id, items, amount, currency, renewal=False)
            await ledger.finish(first.row, "done", friend_id=friend_id, detail=f"by {event_id}")
            return f"payment {key} {list(items.prices)} products {products}"

    async def _run(self, friend_id: int, actions: Any, event_id: str, dedupe: str) -> None:
        """Scenario actions for a payment event: attributed to the event, and keyed so the
        retry of a half-done event repeats nothing."""
        await self.actions.run(friend_id, actions, source=SOURCE, actor=event_id, dedupe=dedupe)

    async def _announce(
        self, friend_id: int, items: Items, amount: int, currency: str, *, renewal: bool
    ) -> None:
        """Tell rules and step scenarios (`payment:` triggers) about the payment."""
        await self.crm.bus.publish(
            PaymentReceived(
                friend_id,
                source=SOURCE,
                prices=items.prices,
                products=items.products,
                amount=amount,
                currency=currency,
                renewal=renewal,
            )
        )

    async def _product_actions(
        self, event_id: str, friend_id: int, key: str, items: Items
    ) -> list[int]:
        """Each matching product's tags and actions, once per payment (the checkout and the
        first invoice may each know some of the prices)."""
        ran = []
        for index, product in enumerate(self.spec.products):
            mark = f"product:{key}:{index}"
            if not _matches(product, items) or await IntegrationEvent.exists(
                provider=PROVIDER, event_id=mark
            ):
                continue
            for tag in product.tag or ():
                await self.crm.tags.add(friend_id, tag, source=SOURCE, actor=event_id)
            if product.do:
                await self._run(
                    friend_id, product.do, event_id, f"stripe:first:{key}:product:{index}"
                )
            await ledger.once(PROVIDER, mark)
            ran.append(index)
        return ran

    async def _payment_failed(
        self, event_id: str, friend_id: int, amount: int, currency: str
    ) -> None:
        spec = self.spec
        if spec.payment_failed:
            await self.actions.send(
                friend_id,
                spec.payment_failed,
                source=SOURCE,
                dedupe=f"stripe:{event_id}:notice",
                extra={"amount": amount, "currency": currency.upper()},
            )
        if spec.payment_failed_do:
            await self._run(friend_id, spec.payment_failed_do, event_id, f"stripe:{event_id}")
        await self.crm.bus.publish(
            PaymentFailed(friend_id, source=SOURCE, amount=amount, currency=currency)
        )

    # --- the first invoice ahead of its checkout ---------------------------------------

    async def _keep_lines(self, key: str, event_id: str, items: Items) -> None:
        """Keep a first invoice's prices under its payment key, for the checkout."""
        detail = json.dumps(
            {"event": event_id, "prices": items.prices[:8], "products": items.products[:8]}
        )
        with contextlib.suppress(IntegrityError):  # kept already (a retry)
            await IntegrationEvent.create(
                provider=PROVIDER,
                event_id=f"lines:{key}"[:200],
                kind="first invoice lines",
                status="done",
                detail=detail[:500],
                received_at=clock.now(),
                done_at=clock.now(),
            )

    async def _take_waiting_lines(self, key: str, friend_id: int) -> Items:
        """The prices of a first invoice that came before the checkout; that invoice is
        marked done for this friend."""
        row = await IntegrationEvent.get_or_none(provider=PROVIDER, event_id=f"lines:{key}"[:200])
        if row is None:
            return Items()
        try:
            kept = json.loads(row.detail)
        except ValueError:
            return Items()
        waiting = await IntegrationEvent.get_or_none(
            provider=PROVIDER, event_id=str(kept.get("event", "")), status="unmatched"
        )
        if waiting is not None:
            await ledger.finish(
                waiting, "done", friend_id=friend_id, detail=f"first invoice of {key}"
            )
        return Items(
            tuple(str(p) for p in kept.get("prices", ())),
            tuple(str(p) for p in kept.get("products", ())),
        )

    # --- finding the friend ------------------------------------------------------------

    @staticmethod
    async def _existing(friend_id: int | None) -> int | None:
        if friend_id is None or not await Friend.exists(id=friend_id):
            return None
        return friend_id

    async def _from_ref(self, reference: str | None) -> int | None:
        return await self._existing(self.refs.parse(reference))

    async def _from_metadata(self, sources: Sequence[Mapping[str, str]]) -> int | None:
        """`metadata.stepbot_friend`: a reference, or a friend number (#12 or 12) that only
        your own server can have put there through Stripe's API."""
        for meta in sources:
            value = (meta.get(FRIEND_KEY) or "").strip()
            if not value:
                continue
            number_text = value.removeprefix("#")
            friend_id = int(number_text) if number_text.isdigit() else self.refs.parse(value)
            found = await self._existing(friend_id)
            if found is not None:
                return found
        return None

    @staticmethod
    async def _from_customer(customer: str | None) -> int | None:
        if not customer:
            return None
        row = await ExternalCustomer.get_or_none(provider=PROVIDER, customer_id=customer)
        return row.friend_id if row is not None else None

    @staticmethod
    async def _link(customer: str | None, friend_id: int, via: str) -> None:
        """Remember whose Stripe customer this is, for the invoices and cancellations that
        follow (the latest verified payer wins)."""
        if not customer:
            return
        now = clock.now()
        updated = await ExternalCustomer.filter(provider=PROVIDER, customer_id=customer).update(
            friend_id=friend_id, via=via, linked_at=now
        )
        if updated:
            return
        try:
            await ExternalCustomer.create(
                provider=PROVIDER, customer_id=customer, friend_id=friend_id, via=via, linked_at=now
            )
        except IntegrityError:
            await ExternalCustomer.filter(provider=PROVIDER, customer_id=customer).update(
                friend_id=friend_id, via=via, linked_at=now
            )

    async def _unmatched(self, event_id: str, kind: str, obj: Mapping[str, Any]) -> Outcome:
        """No friend to act on: kept as `unmatched`, and the admins are told (once: a replay
        is a duplicate)."""
        customer = ref_id(obj.get("customer"))
        details = obj.get("customer_details")
        email = (text(details, "email") if isinstance(details, Mapping) else None) or text(
            obj, "customer_email"
        )
        amount = (
            number(obj, "amount_total") or number(obj, "amount_paid") or number(obj, "amount_due")
        )
        what = f"{obj.get('id')} customer {customer} email {email}"
        log.warning("stripe %s %s: no friend matches (%s)", kind, event_id, what)
        if self.spec.unmatched_notice:
            lines = [
                f"Stripeの{_LABELS.get(kind, kind)}を友だちに結びつけられませんでした。",
                f"イベント: {kind} ({event_id})",
            ]
            if amount:
                lines.append(f"金額: {_money(amount, text(obj, 'currency') or '')}")
            if email:
                lines.append(f"メール: {email}")
            if customer:
                lines.append(f"顧客: {customer}")
            lines.append("Stripeのダッシュボードでご確認ください。")
            message = [{"type": "text", "text": "\n".join(lines)}]
            for admin in await admin_user_ids():
                await self.actions.outbox.send(
                    admin,
                    message,
                    source="notify_admins",
                    dedupe_key=f"stripe:{event_id}:unmatched:{admin}",
                )
        return Outcome("unmatched", None, what)


# --- HTTP --------------------------------------------------------------------------------


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def receive_webhook(request: web.Request, services: Services) -> web.Response:
    """Verify, then process; 2xx only when the event is done (or known)."""
    secret = services.settings.stripe_webhook_secret
    if not secret:
        log.error("a Stripe event arrived but STRIPE_WEBHOOK_SECRET is not set")
        return _error(503, "STRIPE_WEBHOOK_SECRET is not set: stepbot cannot verify Stripe events")
    too_large = f"body larger than {MAX_BODY_BYTES} bytes"
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _error(413, too_large)
    try:
        body = await request.read()  # the app's client_max_size bounds a chunked body
    except web.HTTPRequestEntityTooLarge:
        return _error(413, too_large)
    if len(body) > MAX_BODY_BYTES:
        return _error(413, too_large)
    header = request.headers.get("Stripe-Signature")
    if not header:
        return _error(400, "missing Stripe-Signature header")
    try:
        payload = body.decode("utf-8")
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=TOLERANCE_S)
    except UnicodeDecodeError:
        return _error(400, "the body is not UTF-8")
    except stripe.SignatureVerificationError as exc:
        log.warning("Stripe event refused from %s: %s", request.remote, exc.user_message)
        return _error(400, f"invalid Stripe-Signature: {exc.user_message}")
    try:
        event = json.loads(payload)
    except ValueError:
        return _error(400, "the body is not JSON")
    if not (
        isinstance(event, dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and event["id"]
        and isinstance(event.get("type"), str)
    ):
        return _error(400, 'the body is not a Stripe event (expected "object": "event", id, type)')
    try:
        status = await services.payments.receive(event)
    except Exception:
        log.exception("stripe %s %s failed; Stripe will retry it", event["type"], event["id"])
        return _error(500, "processing failed; the event will be processed when Stripe retries")
    return web.json_response({"status": status})


def setup_stripe(app: web.Application) -> None:
    """Add the webhook, the LIFF pay page and (in sandbox mode) the test-event helper."""
    from bot.appkeys import SERVICES  # bot.appkeys imports the services, which import this
    from liff.pay import setup_pay_page

    services = app[SERVICES]

    async def webhook(request: web.Request) -> web.Response:
        return await receive_webhook(request, services)

    app.router.add_post(WEBHOOK_PATH, webhook)
    setup_pay_page(app)
    if services.settings.sandbox:
        from bot.sandbox.payments import setup_stripe_sandbox

        setup_stripe_sandbox(app)
