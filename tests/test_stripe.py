"""Stripe payments end to end: events built in Stripe's format and signed as Stripe signs them
(the `stripe` library's own helper), posted to the running server over HTTP; what friends and
admins receive is read from the LINE sandbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from bot import clock
from bot.config import SANDBOX_STRIPE_SECRET
from bot.crm.admins import add_admin
from bot.crm.tags import current_tags
from bot.db.models import ExternalCustomer, FriendTag, IntegrationEvent, StepRun
from bot.integrations.stripe import WEBHOOK_PATH
from bot.sandbox.payments import (
    checkout_session,
    customer_of,
    envelope,
    invoice,
    signed,
    stripe_event,
    subscription_of,
)
from bot.services import Services
from tests.dsl import SandboxDriver, joined, start_at

SCENARIO_TEXT = """
version: 1
timezone: Asia/Tokyo
welcome: ["ようこそ"]
tags: [決済完了者, 退会者, 月額プラン, 年額プラン, 支払い確認中]
integrations:
  stripe:
    checkout:
      月額: "https://buy.stripe.com/test_monthly?prefilled_email=hanako%40example.com"
    paid:
      - add_tag: 決済完了者
      - send: ["ご入会ありがとうございます!"]
    renewed:
      - send: ["今月もご利用ありがとうございます。"]
    products:
      - {price: price_monthly, tag: 月額プラン}
      - {product: prod_yearly, tag: 年額プラン, do: [{send: ["年額プランの特典をお送りします。"]}]}
    canceled:
      - add_tag: 退会者
      - stop_steps: 会員レッスン
    payment_failed: ["お支払いを確認できませんでした。カード情報をご確認ください。"]
    payment_failed_do: [{add_tag: 支払い確認中}]
rules:
  - name: 解約のごあいさつ
    when: {subscription_canceled: true}
    do: [{send: ["ご利用ありがとうございました。またお待ちしています。"]}]
steps:
  会員レッスン:
    trigger: {payment: {price: price_monthly}}
    steps:
      - {after: 1d, at: "10:00", messages: ["レッスン1をお届けします。"]}
      - {after: 8d, at: "10:00", messages: ["レッスン2をお届けします。"]}
"""

App = tuple[SandboxDriver, Services]


async def post_stripe(
    sandbox: SandboxDriver, body: bytes, signature: str | None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    async with sandbox.session.post(
        sandbox.base_url + WEBHOOK_PATH, data=body, headers=headers
    ) as resp:
        return resp.status, await resp.json()


async def send(sandbox: SandboxDriver, event: dict[str, Any]) -> str:
    """Sign as Stripe does and post; the status the server reports."""
    status, answer = await post_stripe(sandbox, *signed(event, SANDBOX_STRIPE_SECRET))
    assert status == 200, answer
    return str(answer["status"])


def checkout(services: Services, friend_id: int, **kw: Any) -> dict[str, Any]:
    """The event of a friend's completed checkout through the pay page (their reference)."""
    return stripe_event(
        "checkout.session.completed",
        friend_id=friend_id,
        reference=services.refs.make(friend_id),
        **kw,
    )


async def tag_rows(friend_id: int, tag: str) -> int:
    return await FriendTag.filter(friend_id=friend_id, tag__name=tag).count()


async def test_forged_or_unsigned_events_are_refused_and_change_nothing(app: App) -> None:
    sandbox, services = app
    friend, friend_id = await joined(sandbox, "花子")
    event = checkout(services, friend_id, price="price_monthly")
    body, good = signed(event, SANDBOX_STRIPE_SECRET)
    _, wrong_secret = signed(event, "whsec_somebody_else")
    tampered = body.replace(b'"amount_total": 2980', b'"amount_total": 1')
    assert tampered != body
    _, stale = signed(event, SANDBOX_STRIPE_SECRET, timestamp=int(time.time()) - 3600)
    attempts = [
        (body, None, "missing Stripe-Signature header"),
        (body, wrong_secret, "invalid Stripe-Signature"),
        (body, "t=12345,v1=deadbeef", "invalid Stripe-Signature"),
        (body, "nonsense", "invalid Stripe-Signature"),
        (tampered, good, "invalid Stripe-Signature"),
        (body, stale, "invalid Stripe-Signature: Timestamp outside the tolerance zone"),
    ]
    for payload, header, error in attempts:
        status, answer = await post_stripe(sandbox, payload, header)
        assert status == 400, (header, answer)
        assert answer["error"].startswith(error), answer
    for raw in (b"{not json", b'{"object": "list", "data": []}'):
        status, answer = await post_stripe(sandbox, raw, signed_raw(raw))
        assert status == 400, answer
    huge = b" " * (600 * 1024) + body
    status, answer = await post_stripe(sandbox, huge, signed_raw(huge))
    assert (status, answer) == (413, {"error": "body larger than 524288 bytes"})
    assert await IntegrationEvent.all().count() == 0
    assert await current_tags(friend_id) == []
    await friend.nothing_more()

    assert await send(sandbox, event) == "done"  # the genuine one still works
    assert await current_tags(friend_id) == ["決済完了者", "月額プラン"]


def signed_raw(raw: bytes) -> str:
    return stripe.WebhookSignature.generate_signature_header(raw.decode(), SANDBOX_STRIPE_SECRET)


async def test_a_replayed_event_is_processed_once(app: App) -> None:
    sandbox, services = app
    friend, friend_id = await joined(sandbox, "二度押し")
    event = checkout(services, friend_id, price="price_monthly")
    body, header = signed(event, SANDBOX_STRIPE_SECRET)
    assert await post_stripe(sandbox, body, header) == (200, {"status": "done"})
    assert await friend.texts(1) == ["ご入会ありがとうございます!"]
    # Stripe resends (same id), or someone replays a captured request, freshly signed or not.
    assert await post_stripe(sandbox, body, header) == (200, {"status": "duplicate"})
    assert await send(sandbox, event) == "duplicate"
    await friend.nothing_more()
    assert await tag_rows(friend_id, "決済完了者") == 1
    assert await tag_rows(friend_id, "月額プラン") == 1
    assert await StepRun.filter(friend_id=friend_id, scenario="会員レッスン").count() == 1

    # delivered twice at the same moment: still once
    renewal = stripe_event("invoice.paid", friend_id=friend_id, price="price_monthly")
    both = await asyncio.gather(send(sandbox, renewal), send(sandbox, renewal))
    assert sorted(both) == ["done", "duplicate"]
    assert await friend.texts(1) == ["今月もご利用ありがとうございます。"]
    await friend.nothing_more()


async def test_checkout_first_invoice_and_renewal(app: App) -> None:
    sandbox, services = app
    start_at("2027-03-01T15:00:00+09:00")
    member, member_id = await joined(sandbox, "会員さん")
    guest, _ = await joined(sandbox, "見学さん")

    # checkout: the paid actions, the product's tag, and the step scenario its price starts
    assert await send(sandbox, checkout(services, member_id, price="price_monthly")) == "done"
    assert await member.texts(1) == ["ご入会ありがとうございます!"]
    assert await current_tags(member_id) == ["決済完了者", "月額プラン"]
    link = await ExternalCustomer.get(provider="stripe", customer_id=customer_of(member_id))
    assert link.friend_id == member_id

    # the subscription's first invoice is the same payment: nothing happens twice
    first_invoice = stripe_event(
        "invoice.paid",
        friend_id=member_id,
        price="price_monthly",
        product="prod_monthly",
        billing_reason="subscription_create",
    )
    assert await send(sandbox, first_invoice) == "done"
    await member.nothing_more()
    assert await tag_rows(member_id, "決済完了者") == 1
    assert await StepRun.filter(friend_id=member_id).count() == 1

    await sandbox.advance("19h")  # 03-02 10:00: the first lesson of the payment's steps
    assert await member.texts(1) == ["レッスン1をお届けします。"]
    await guest.nothing_more()

    await sandbox.advance("7d")  # 03-09 10:00
    assert await member.texts(1) == ["レッスン2をお届けします。"]

    # a month later the subscription renews: `renewed`, and the steps do not start again
    await sandbox.set_time("2027-04-01T09:00:00+09:00")
    renewal = stripe_event("invoice.paid", friend_id=member_id, price="price_monthly")
    assert await send(sandbox, renewal) == "done"
    assert await member.texts(1) == ["今月もご利用ありがとうございます。"]
    await sandbox.advance("1d2h")
    await member.nothing_more()
    assert await StepRun.filter(friend_id=member_id).count() == 1
    row = await IntegrationEvent.get(provider="stripe", event_id=renewal["id"])
    assert (row.status, row.friend_id) == ("done", member_id)


async def test_a_first_invoice_ahead_of_its_checkout_lends_its_prices(app: App) -> None:
    sandbox, services = app
    admin, _ = await joined(sandbox, "管理者")
    await add_admin(admin.user_id, "owner")
    member, member_id = await joined(sandbox, "年額さん")
    first_invoice = stripe_event(
        "invoice.paid",
        friend_id=member_id,
        price="price_yearly",
        product="prod_yearly",
        billing_reason="subscription_create",
    )
    # Stripe sent the invoice first: its customer is not linked to anyone yet.
    assert await send(sandbox, first_invoice) == "unmatched"
    assert await current_tags(member_id) == []
    await admin.nothing_more()  # no alarm: the checkout that names the friend follows

    # the checkout (no price in its metadata) completes the payment with the invoice's lines
    assert await send(sandbox, checkout(services, member_id)) == "done"
    assert await member.texts(2) == [
        "ご入会ありがとうございます!",
        "年額プランの特典をお送りします。",
    ]
    assert set(await current_tags(member_id)) == {"決済完了者", "年額プラン"}
    row = await IntegrationEvent.get(provider="stripe", event_id=first_invoice["id"])
    assert (row.status, row.friend_id) == ("done", member_id)
    assert await StepRun.filter(friend_id=member_id).count() == 0  # not the monthly price
    await admin.nothing_more()


async def test_a_one_time_purchase_and_its_invoice_count_once(app: App) -> None:
    sandbox, services = app
    friend, friend_id = await joined(sandbox, "単発さん")
    session = checkout_session(
        reference=services.refs.make(friend_id),
        customer=customer_of(friend_id),
        subscription=None,
        price="price_monthly",
    )
    bill = invoice(
        customer=customer_of(friend_id),
        subscription=None,
        price="price_monthly",
        product="prod_monthly",
        billing_reason="manual",
    )
    session["invoice"] = bill["id"]  # a Payment Link with invoice creation turned on
    assert session["mode"] == "payment"
    assert await send(sandbox, envelope("checkout.session.completed", session)) == "done"
    assert await send(sandbox, envelope("invoice.paid", bill)) == "done"
    assert await friend.texts(1) == ["ご入会ありがとうございます!"]
    await friend.nothing_more()
    assert await tag_rows(friend_id, "決済完了者") == 1


async def test_a_failed_payment_warns_and_a_cancelled_subscription_ends_the_membership(
    app: App,
) -> None:
    sandbox, services = app
    start_at("2027-05-10T12:00:00+09:00")
    member, member_id = await joined(sandbox, "退会予定")
    assert await send(sandbox, checkout(services, member_id, price="price_monthly")) == "done"
    assert await member.texts(1) == ["ご入会ありがとうございます!"]

    failed = stripe_event("invoice.payment_failed", friend_id=member_id, price="price_monthly")
    assert await send(sandbox, failed) == "done"
    assert await member.texts(1) == ["お支払いを確認できませんでした。カード情報をご確認ください。"]
    assert "支払い確認中" in await current_tags(member_id)
    assert await send(sandbox, failed) == "duplicate"
    await member.nothing_more()

    deleted = stripe_event(
        "customer.subscription.deleted", friend_id=member_id, price="price_monthly"
    )
    assert deleted["data"]["object"]["id"] == subscription_of(member_id)
    assert await send(sandbox, deleted) == "done"
    assert await member.texts(1) == ["ご利用ありがとうございました。またお待ちしています。"]
    assert "退会者" in await current_tags(member_id)
    await sandbox.advance("30d")  # the lessons stopped with the subscription
    await member.nothing_more()
    run = await StepRun.get(friend_id=member_id, scenario="会員レッスン")
    assert run.status == "stopped"


async def test_an_event_naming_no_friend_is_kept_unmatched_and_the_admins_are_told(
    app: App,
) -> None:
    sandbox, _ = app
    admin, _ = await joined(sandbox, "管理者")
    await add_admin(admin.user_id, "owner")
    friend, friend_id = await joined(sandbox, "花子")
    stranger = stripe_event("checkout.session.completed", friend_id=None, price="price_monthly")
    stranger["data"]["object"]["customer_details"]["email"] = "someone@example.com"
    assert await send(sandbox, stranger) == "unmatched"
    (notice,) = await admin.texts(1)
    assert notice.startswith("Stripeの決済を友だちに結びつけられませんでした。")
    assert "金額: 2,980 JPY" in notice
    assert "メール: someone@example.com" in notice
    assert await send(sandbox, stranger) == "duplicate"
    await admin.nothing_more()

    # a reference nobody signed (someone edited the link) names nobody either
    forged = stripe_event(
        "checkout.session.completed",
        friend_id=None,
        reference=f"sb-{friend_id}-AAAAAAAAAAAA",
        price="price_monthly",
    )
    assert await send(sandbox, forged) == "unmatched"
    await admin.texts(1)
    assert await current_tags(friend_id) == []
    await friend.nothing_more()
    row = await IntegrationEvent.get(provider="stripe", event_id=forged["id"])
    assert (row.status, row.friend_id) == ("unmatched", None)


async def test_the_pay_page_link_carries_a_reference_that_the_payment_brings_back(
    app: App,
) -> None:
    sandbox, services = app
    friend, friend_id = await joined(sandbox, "花子")
    token = await sandbox.id_token(friend.user_id)
    url = f"{sandbox.base_url}/liff/api/pay/月額"
    async with sandbox.session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200
        answer = await resp.json()
    link = urlsplit(answer["url"])
    assert (link.scheme, link.netloc, link.path) == ("https", "buy.stripe.com", "/test_monthly")
    query = parse_qs(link.query)
    assert query["prefilled_email"] == ["hanako@example.com"]
    (reference,) = query["client_reference_id"]
    assert services.refs.parse(reference) == friend_id

    # Stripe hands the reference back in the checkout event (its customer is new to us)
    event = stripe_event(
        "checkout.session.completed", friend_id=None, reference=reference, price="price_monthly"
    )
    assert await send(sandbox, event) == "done"
    assert await friend.texts(1) == ["ご入会ありがとうございます!"]
    assert "決済完了者" in await current_tags(friend_id)

    async with sandbox.session.get(url) as resp:  # no ID token: nobody to pay for
        assert resp.status == 401
    async with sandbox.session.get(f"{sandbox.base_url}/liff/pay/月額") as resp:
        assert resp.status == 200
        assert "お支払い" in await resp.text()
    async with sandbox.session.get(f"{sandbox.base_url}/liff/pay/年額") as resp:
        assert resp.status == 404
        assert "お支払いページが見つかりません" in await resp.text()


async def test_the_sandbox_helper_sends_signed_events_for_one_customer_per_friend(
    app: App,
) -> None:
    sandbox, _ = app
    friend, friend_id = await joined(sandbox, "試し太郎")
    paid = await sandbox.post(
        "/sandbox/api/stripe/events",
        {"user_id": friend.user_id, "type": "checkout.session.completed", "id": "evt_demo_1"},
    )
    assert (paid["id"], paid["status"], paid["body"]) == ("evt_demo_1", 200, {"status": "done"})
    assert await friend.texts(1) == ["ご入会ありがとうございます!"]
    assert await current_tags(friend_id) == ["決済完了者", "月額プラン"]  # the first product
    again = await sandbox.post(
        "/sandbox/api/stripe/events",
        {"friend_id": friend_id, "type": "checkout.session.completed", "id": "evt_demo_1"},
    )
    assert again["body"] == {"status": "duplicate"}
    cancelled = await sandbox.post(
        "/sandbox/api/stripe/events",
        {"friend_id": friend_id, "type": "customer.subscription.deleted"},
    )
    assert cancelled["body"] == {"status": "done"}  # found by the checkout's customer
    assert "退会者" in await current_tags(friend_id)
    bad = await sandbox.post(
        "/sandbox/api/stripe/events", {"friend_id": 999, "type": "invoice.paid"}, expect=404
    )
    assert bad["message"] == "no such friend"


async def test_an_event_left_half_done_by_a_crash_is_finished_by_the_retry(app: App) -> None:
    sandbox, services = app
    friend, friend_id = await joined(sandbox, "途中さん")
    event = checkout(services, friend_id, price="price_monthly")
    # As a crash leaves it: the event and its payment claimed, the first action done,
    # the answer never sent (so Stripe retries).
    now = clock.now()
    await IntegrationEvent.create(
        provider="stripe", event_id=event["id"], kind=event["type"], received_at=now
    )
    await IntegrationEvent.create(
        provider="stripe",
        event_id=f"first:{subscription_of(friend_id)}",
        kind=event["id"],
        received_at=now,
    )
    await services.crm.tags.add(friend_id, "決済完了者", source="stripe", actor=event["id"])

    assert await send(sandbox, event) == "done"
    assert await friend.texts(1) == ["ご入会ありがとうございます!"]
    assert await current_tags(friend_id) == ["決済完了者", "月額プラン"]
    assert await tag_rows(friend_id, "決済完了者") == 1
    assert await send(sandbox, event) == "duplicate"
    await friend.nothing_more()


@pytest.fixture
async def app(scenario_app: App) -> App:
    return scenario_app


async def test_without_a_webhook_secret_events_are_refused_with_503(
    live_line_server: SandboxDriver,
) -> None:
    event = stripe_event("invoice.paid", friend_id=1)
    status, answer = await post_stripe(live_line_server, *signed(event, "whsec_anything"))
    assert status == 503
    assert "STRIPE_WEBHOOK_SECRET is not set" in answer["error"]
    assert await IntegrationEvent.all().count() == 0
    async with live_line_server.session.post(
        live_line_server.base_url + "/sandbox/api/stripe/events", json={}
    ) as resp:
        assert resp.status == 404  # no sandbox helpers outside sandbox mode
