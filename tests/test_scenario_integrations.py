"""Loading the integrations and inflow routes of a scenario: what operators write is read as
meant, and mistakes are refused with the file, the path and the reason."""

from __future__ import annotations

import pytest

from bot.scenario import ScenarioError, parse_scenario
from bot.scenario.rules import OrderPaidTrigger, PaymentTrigger, RouteTrigger, WebhookTrigger

BASE = """version: 1
tags: [決済完了者, 退会者, 商品A購入, Instagram流入]
fields:
  予約日: {type: date}
steps:
  レッスン: {steps: [{after: 0, messages: [ようこそ]}]}
"""


def load(extra: str):  # type: ignore[no-untyped-def]
    return parse_scenario(BASE + extra, "school.yaml")


def problems(extra: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load(extra)
    return [str(issue) for issue in caught.value.issues]


def test_a_complete_integrations_section_loads() -> None:
    scenario = load(
        """integrations:
  stripe:
    checkout: {入会: "https://buy.stripe.com/test_1"}
    paid: [{add_tag: 決済完了者}]
    products: [{price: price_1, tag: 商品A購入}]
    canceled: [{add_tag: 退会者}, {stop_steps: レッスン}]
    payment_failed: ["お支払いを確認できませんでした。"]
  shopify:
    products: [{sku: A-001, tag: 商品A購入}]
    points: {per: 100, points: 1}
  webhooks:
    reservations: {events: [booked], fields: [予約日]}
routes:
  instagram:
    title: Instagram
    do: [{add_tag: Instagram流入}]
    conversion: {tag: 決済完了者}
rules:
  - name: 決済
    when: [payment, {order_paid: {sku: A-001}}, {webhook: {source: reservations, event: booked}},
           {route: instagram}]
    do: [{add_tag: 決済完了者}]
"""
    )
    stripe = scenario.integrations.stripe
    assert stripe is not None and stripe.checkout == {"入会": "https://buy.stripe.com/test_1"}
    assert scenario.integrations.shopify is not None
    assert scenario.integrations.shopify.points is not None
    assert scenario.integrations.shopify.points.per == 100
    assert scenario.routes["instagram"].to == "friend_add"
    assert scenario.routes["instagram"].conversion is not None
    assert scenario.routes["instagram"].conversion.within == "30d"
    payment, order, hook, route = scenario.rules[0].when
    assert isinstance(payment, PaymentTrigger) and payment.payment.price is None
    assert not payment.payment.renewals
    assert isinstance(order, OrderPaidTrigger) and order.order_paid.sku == ["A-001"]
    assert isinstance(hook, WebhookTrigger) and hook.webhook.event == ["booked"]
    assert isinstance(route, RouteTrigger) and route.route == ["instagram"]


def test_a_payment_can_start_a_step_scenario() -> None:
    scenario = parse_scenario(
        """version: 1
steps:
  コース:
    trigger: {payment: {price: [price_1, price_2]}}
    steps: [{after: 0, messages: [レッスン1]}]
""",
        "school.yaml",
    )
    trigger = scenario.steps["コース"].trigger
    assert trigger is not None
    assert isinstance(trigger[0], PaymentTrigger)
    assert trigger[0].payment.price == ["price_1", "price_2"]


def test_unknown_names_in_integrations_are_refused_with_their_path() -> None:
    assert problems(
        """integrations:
  stripe:
    products: [{price: price_1, tag: 会員}]
  shopify:
    products: [{sku: A-001, tag: 商品C購入}]
  webhooks:
    reservations: {events: [booked], fields: [来店日]}
routes:
  instagram: {conversion: {tag: 購入者}}
rules:
  - name: 予約
    when: [{webhook: {source: crm, event: booked}}, {webhook: {source: reservations, event: moved}}, {route: tiktok}]
    do: [{add_tag: 決済完了者}]
"""
    ) == [
        "school.yaml: integrations.stripe.products[0].tag: unknown tag '会員' (declared: "
        "Instagram流入, 商品A購入, 決済完了者, 退会者)",
        "school.yaml: integrations.shopify.products[0].tag: unknown tag '商品C購入' (declared: "
        "Instagram流入, 商品A購入, 決済完了者, 退会者)",
        "school.yaml: integrations.webhooks.reservations.fields: unknown field '来店日' "
        "(declared: 予約日)",
        "school.yaml: routes.instagram.conversion.tag: unknown tag '購入者' (declared: "
        "Instagram流入, 商品A購入, 決済完了者, 退会者)",
        "school.yaml: rules[0].when[0].webhook.source: unknown webhook source 'crm' "
        "(declared: reservations)",
        "school.yaml: rules[0].when[1].webhook.event: unknown event of reservations 'moved' "
        "(declared: booked)",
        "school.yaml: rules[0].when[2].route: unknown route 'tiktok' (declared: instagram)",
    ]


def test_malformed_integrations_say_what_was_expected() -> None:
    found = problems(
        """integrations:
  stripe:
    checkout: {入会: "http://buy.stripe.com/x"}
    products: [{price: price_1, product: prod_1, tag: 決済完了者}, {price: price_2}]
  webhooks:
    "予約 システム": {secret_env: my-secret}
routes:
  "insta gram": {}
  shop: {to: "ftp://example.com"}
"""
    )
    assert found == [
        "school.yaml: integrations.stripe.checkout: checkout '入会' must be an https:// URL "
        "(found 'http://buy.stripe.com/x')",
        "school.yaml: integrations.stripe.products[0]: give either price or product (not both)",
        "school.yaml: integrations.stripe.products[1]: give tag or do: what this purchase does",
        "school.yaml: integrations.webhooks.予約 システム: '予約 システム' must be 1-64 "
        "letters, digits, '-' or '_' (it is part of a URL)",
        "school.yaml: integrations.webhooks.予約 システム.secret_env: 'my-secret' is not an "
        "environment variable name (expected e.g. RESERVATIONS_SECRET)",
        "school.yaml: routes.insta gram: 'insta gram' must be 1-64 letters, digits, '-' or '_' "
        "(it is part of a URL)",
        "school.yaml: routes.shop.to: must be friend_add or an https:// URL (found "
        "'ftp://example.com')",
    ]
