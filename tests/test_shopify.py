"""Shopify orders end to end: signed webhooks over HTTP (the sandbox's store helpers sign and
post them as Shopify does), purchase labels, points and their notice, refunds and
cancellations taking points back, replays, and shop customers linking themselves to their
LINE friend with a code in chat or the LIFF link page."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.config import SANDBOX_SHOPIFY_SECRET
from bot.crm.tags import current_tags
from bot.db.models import ExternalCustomer, IntegrationEvent, PointEntry, ShopOrder
from bot.integrations.shopify_link import LinkCodes
from bot.integrations.shopify_payloads import sign
from bot.integrations.shopify_samples import ItemSpec, order_event, refund_event
from bot.sandbox.setup import standalone_app
from bot.services import Services
from tests.conftest import ROOT, free_port, make_settings, start_server
from tests.dsl import SandboxDriver, joined

SCENARIO_TEXT = """
version: 1
timezone: Asia/Tokyo
welcome: ["ようこそ"]
tags: [商品A購入, 商品B購入, 購入者, Aファン]
integrations:
  shopify:
    products:
      - {sku: A-001, tag: 商品A購入}
      - product_id: 222
        tag: 商品B購入
        do: [{send: ["商品Bの使い方ガイドです: https://example.com/guide"]}]
    paid: [{add_tag: 購入者}]
    points:
      per: 100
      points: 1
      refund_notice: ["ご返金に合わせてポイントを調整しました。"]
rules:
  - name: 商品Aのお客様
    when: [{order_paid: {sku: A-001}}]
    do: [{add_tag: Aファン}]
"""

App = tuple[SandboxDriver, Services]
NOW = datetime.fromisoformat("2027-06-01T10:00:00+09:00")
ORDERS = "/sandbox/api/shopify/orders"
REFUNDS = "/sandbox/api/shopify/refunds"
CANCELLATIONS = "/sandbox/api/shopify/cancellations"
A = {"sku": "A-001", "product_id": 111, "title": "商品A", "price": 2980}
B = {"sku": "B-001", "product_id": 222, "title": "商品B", "price": 1500}
GUIDE = "商品Bの使い方ガイドです: https://example.com/guide"
LINKED = "ショップのアカウントとLINEを連携しました。お買い物のポイントやご案内がLINEに届きます。"
TAKEN = (
    "このショップのアカウントは、すでに別のLINEアカウントと連携されています。"
    "お心当たりがない場合は、お手数ですがショップまでお問い合わせください。"
)
WRONG_CODE = (
    "連携コードが正しくありません。ショップのマイページに表示されているコードを、"
    "そのまま送ってください。(例: 連携 1234567890-3fa9c01b2e)"
)


def notice(earned: int, balance: int) -> str:
    return f"ご購入ありがとうございます。{earned}ポイントを付与しました(現在 {balance}ポイント)"


async def buy(sandbox: SandboxDriver, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = await sandbox.post(ORDERS, body, expect=200)
    assert data["status"] == 200, data
    return data


async def post_webhook(
    sandbox: SandboxDriver, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    url = sandbox.base_url + "/integrations/shopify"
    async with sandbox.session.post(url, data=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def link_code(sandbox: SandboxDriver, customer: int) -> dict[str, Any]:
    data: dict[str, Any] = await sandbox.get(f"/sandbox/api/shopify/customers/{customer}/link")
    return data


async def balance(services: Services, friend_id: int) -> int:
    return await services.crm.points.balance(friend_id)


# --- signatures, replays, topics ----------------------------------------------------------


async def test_forged_or_missing_signatures_are_refused_and_nothing_is_stored(
    scenario_app: App,
) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    event = order_event(
        order_id=5000000000001,
        number=1001,
        items=[ItemSpec(title="商品A", price=Decimal(3000), sku="A-001")],
        now=NOW,
        customer_id=42,
        ref=services.refs.make(friend_id),
    )
    body = json.dumps(event).encode()
    base = {"X-Shopify-Topic": "orders/paid", "X-Shopify-Webhook-Id": "w-forged"}

    forged = sign(body, "not-the-secret")
    for headers in (base, {**base, "X-Shopify-Hmac-Sha256": forged}):
        status, answer = await post_webhook(sandbox, body, headers)
        assert status == 401
        assert "X-Shopify-Hmac-Sha256" in answer["message"]
    # The right signature on a changed body is a forgery too.
    tampered = body.replace(b'"3000.00"', b'"300000.00"')
    signed = sign(body, SANDBOX_SHOPIFY_SECRET)
    status, _ = await post_webhook(sandbox, tampered, {**base, "X-Shopify-Hmac-Sha256": signed})
    assert status == 401

    # Signed but not JSON, or not an order: a clear 400, nothing kept either.
    for bad in (b"{not json", b'{"name": "#1001"}'):
        status, answer = await post_webhook(
            sandbox, bad, {**base, "X-Shopify-Hmac-Sha256": sign(bad, SANDBOX_SHOPIFY_SECRET)}
        )
        assert status == 400
        assert answer["message"]

    assert await ShopOrder.all().count() == 0
    assert await IntegrationEvent.all().count() == 0
    assert await balance(services, friend_id) == 0
    assert await current_tags(friend_id) == []
    await friend.nothing_more()

    # The genuine one goes through.
    status, answer = await post_webhook(sandbox, body, {**base, "X-Shopify-Hmac-Sha256": signed})
    assert (status, answer["status"]) == (200, "done")
    assert await balance(services, friend_id) == 30


async def test_topics_not_handled_are_recorded_as_ignored(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    body = b'{"id": 1, "email": "a@example.com"}'
    headers = {
        "X-Shopify-Topic": "customers/create",
        "X-Shopify-Webhook-Id": "w-customer",
        "X-Shopify-Hmac-Sha256": sign(body, SANDBOX_SHOPIFY_SECRET),
    }
    status, answer = await post_webhook(sandbox, body, headers)
    assert (status, answer["status"]) == (200, "ignored")
    row = await IntegrationEvent.get(provider="shopify", event_id="w-customer")
    assert (row.kind, row.status) == ("customers/create", "ignored")


# --- orders/paid --------------------------------------------------------------------------


async def test_a_paid_order_gives_labels_actions_points_and_the_notice(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")

    sent = await buy(
        sandbox, user_id=friend.user_id, items=[A, {**B, "quantity": 2}], id=5000000000002
    )
    assert sent["result"] == "done"
    order = sent["body"]
    assert order["subtotal_price"] == "5980.00" and order["currency"] == "JPY"
    assert order["created_at"].endswith("+09:00")

    # 2,980 + 1,500 × 2 = 5,980 yen: 59 points at 1 point per 100 yen.
    assert await friend.texts(2) == [GUIDE, notice(59, 59)]
    assert await balance(services, friend_id) == 59
    assert sorted(await current_tags(friend_id)) == sorted(
        ["商品A購入", "商品B購入", "購入者", "Aファン"]
    )
    entry = await PointEntry.get(friend_id=friend_id)
    assert entry.reason == "ショップでのお買い物 #1001"
    row = await ShopOrder.get(order_id="5000000000002")
    assert (row.friend_id, row.subtotal, row.points) == (friend_id, 5980, 59)


async def test_replays_and_a_second_paid_webhook_are_processed_once(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")

    first = await buy(sandbox, friend_id=friend_id, items=[A], id=5000000000003)
    assert await friend.texts(1) == [notice(29, 29)]

    replay = await buy(
        sandbox, friend_id=friend_id, items=[A], id=5000000000003, webhook_id=first["webhook_id"]
    )
    assert replay["result"] == "duplicate"
    # Shopify may also send orders/paid again under a new webhook id: the order is known.
    again = await buy(sandbox, friend_id=friend_id, items=[A], id=5000000000003)
    assert again["result"] == "done" and "before" in again["answer"]["detail"]

    await friend.nothing_more()
    assert await balance(services, friend_id) == 29
    assert await PointEntry.filter(friend_id=friend_id).count() == 1
    assert await ShopOrder.all().count() == 1


async def test_a_blocked_friend_is_credited_but_not_messaged(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    await friend.block()
    await sandbox.settle()

    await buy(sandbox, friend_id=friend_id, items=[B])
    assert await balance(services, friend_id) == 15
    assert "商品B購入" in await current_tags(friend_id)
    outs = [e for e in await friend.transcript() if e["direction"] == "out"]
    assert len(outs) == 1  # the welcome only


# --- refunds and cancellations ------------------------------------------------------------


async def test_refunds_take_points_back_in_proportion_and_a_cancellation_the_rest(
    scenario_app: App,
) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    ten = {**A, "price": 5000, "quantity": 2}
    await buy(sandbox, friend_id=friend_id, items=[ten], id=5000000000004)
    assert await friend.texts(1) == [notice(100, 100)]

    # One of the two returned: 5,000 of 10,000 yen kept earns 50, so 50 go back.
    refund = await sandbox.post(
        REFUNDS, {"order_id": 5000000000004, "items": [{"sku": "A-001", "quantity": 1}]}, 200
    )
    assert (refund["status"], refund["result"]) == (200, "done")
    assert await balance(services, friend_id) == 50
    assert await friend.texts(1) == ["ご返金に合わせてポイントを調整しました。"]

    # 1,050 yen more by hand: 3,950 yen kept earns 39 of the 100, so 11 more go back.
    manual = await sandbox.post(REFUNDS, {"order_id": 5000000000004, "amount": 1050}, 200)
    assert await balance(services, friend_id) == 39
    await friend.texts(1)

    # The same refund again (a replay, or the same refund under a new webhook id): nothing.
    replay = await sandbox.post(
        REFUNDS,
        {"order_id": 5000000000004, "amount": 1050, "webhook_id": manual["webhook_id"]},
        200,
    )
    assert replay["result"] == "duplicate"
    same = await sandbox.post(
        REFUNDS, {"order_id": 5000000000004, "amount": 1050, "id": manual["id"]}, 200
    )
    assert same["result"] == "done" and "before" in same["answer"]["detail"]
    assert await balance(services, friend_id) == 39

    # Cancelled: whatever the order still holds goes back.
    cancel = await sandbox.post(CANCELLATIONS, {"order_id": 5000000000004}, 200)
    assert cancel["result"] == "done"
    assert await balance(services, friend_id) == 0
    row = await ShopOrder.get(order_id="5000000000004")
    assert (row.points, row.points_reversed, row.refunded) == (100, 100, 10000)
    again = await sandbox.post(CANCELLATIONS, {"order_id": 5000000000004}, 200)
    assert "before" in again["answer"]["detail"]
    assert await balance(services, friend_id) == 0

    # A refund of an order never seen here is recorded as unmatched.
    body = json.dumps(
        refund_event(order_id=999, order_lines=[], now=NOW, manual_amount=Decimal(1))
    ).encode()
    headers = {
        "X-Shopify-Topic": "refunds/create",
        "X-Shopify-Webhook-Id": "w-unknown-refund",
        "X-Shopify-Hmac-Sha256": sign(body, SANDBOX_SHOPIFY_SECRET),
    }
    status, answer = await post_webhook(sandbox, body, headers)
    assert (status, answer["status"]) == (200, "unmatched")
    missing = await sandbox.post(REFUNDS, {"order_id": 999, "amount": 1}, 404)
    assert "no order 999" in missing["message"]


async def test_a_full_refund_takes_back_all_the_points(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    await buy(sandbox, friend_id=friend_id, items=[A, B], id=5000000000005)
    await friend.texts(2)
    assert await balance(services, friend_id) == 44
    await sandbox.post(
        REFUNDS, {"order_id": 5000000000005, "items": [{"sku": "A-001"}, {"sku": "B-001"}]}, 200
    )
    assert await balance(services, friend_id) == 0


# --- linking customers --------------------------------------------------------------------


async def test_an_order_before_linking_is_credited_when_the_code_is_sent(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    customer = 7012345678901

    early = await buy(sandbox, customer_id=customer, items=[A, B], id=5000000000006)
    assert early["result"] == "unmatched"
    row = await ShopOrder.get(order_id="5000000000006")
    assert row.friend_id is None and row.credited_at is None
    await friend.nothing_more()

    # A wrong code is answered clearly, and links nothing.
    await friend.say(f"連携 {customer}-0000000000")
    assert await friend.texts(1) == [WRONG_CODE]
    await friend.say("連携 12345")
    (bad_format,) = await friend.texts(1)
    assert "形式が正しくありません" in bad_format
    assert not await ExternalCustomer.exists(customer_id=str(customer))

    # The code as a phone keyboard may type it: full-width digits and a long-vowel dash.
    code = (await link_code(sandbox, customer))["code"]
    number, signature = code.removeprefix("連携 ").split("-")
    typed = "連携コード:" + number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    await friend.say(f"{typed}ー{signature.upper()}")
    assert await friend.texts(2) == [LINKED, GUIDE]
    assert await friend.texts(1) == [notice(44, 44)]
    await sandbox.settle()  # the message's processing goes on after the answers
    assert await balance(services, friend_id) == 44
    assert "商品B購入" in await current_tags(friend_id)
    link = await ExternalCustomer.get(provider="shopify", customer_id=str(customer))
    assert (link.friend_id, link.via) == (friend_id, "code")

    # Orders after linking reach the friend at once; the code again changes nothing.
    later = await buy(sandbox, customer_id=customer, items=[A], id=5000000000007)
    assert later["result"] == "done"
    assert await friend.texts(1) == [notice(29, 73)]
    await friend.say(code)
    assert await friend.texts(1) == ["このショップのアカウントは、すでにこのLINEと連携済みです。"]
    assert await balance(services, friend_id) == 73


async def test_linking_on_the_liff_page_credits_earlier_orders(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    customer = 7012345678902
    await buy(sandbox, customer_id=customer, items=[A], id=5000000000008)
    link = await link_code(sandbox, customer)
    assert link["liffUrl"].startswith("https://liff.line.me/1000000000-sandbox0/shop/link?")

    async with sandbox.session.get(sandbox.base_url + link["path"]) as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "ショップのアカウントとLINEを連携" in page
    assert 'data-api="/liff/api/shop/link"' in page

    api = sandbox.base_url + "/liff/api/shop/link"
    customer_id, sig = str(customer), link["path"].rsplit("sig=", 1)[1]
    token = await sandbox.id_token(friend.user_id)
    auth = {"Authorization": f"Bearer {token}"}

    # The friend comes from the token only: without one, nothing happens.
    async with sandbox.session.post(api, json={"customer": customer_id, "sig": sig}) as resp:
        assert resp.status == 401
    async with sandbox.session.post(
        api, json={"customer": customer_id, "sig": "0" * 64}, headers=auth
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["message"] == WRONG_CODE
    assert not await ExternalCustomer.exists(customer_id=customer_id)

    async with sandbox.session.post(
        api, json={"customer": customer_id, "sig": sig}, headers=auth
    ) as resp:
        assert resp.status == 200
        answer = await resp.json()
    assert answer["message"] == LINKED
    assert (answer["orders"], answer["points"]) == (1, 29)
    assert await friend.texts(2) == [LINKED, notice(29, 29)]
    assert (await ExternalCustomer.get(customer_id=customer_id)).via == "liff"
    assert await balance(services, friend_id) == 29


async def test_a_customer_linked_to_another_friend_is_refused(scenario_app: App) -> None:
    sandbox, services = scenario_app
    owner, owner_id = await joined(sandbox, "花子")
    other, other_id = await joined(sandbox, "太郎")
    customer = 7012345678903
    link = await link_code(sandbox, customer)

    await owner.say(link["code"])
    assert await owner.texts(1) == [LINKED]
    await other.say(link["code"])
    assert await other.texts(1) == [TAKEN]

    token = await sandbox.id_token(other.user_id)
    async with sandbox.session.post(
        sandbox.base_url + "/liff/api/shop/link",
        json={"customer": str(customer), "sig": link["path"].rsplit("sig=", 1)[1]},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 409
        assert (await resp.json())["message"] == TAKEN
    row = await ExternalCustomer.get(customer_id=str(customer))
    assert row.friend_id == owner_id

    await buy(sandbox, customer_id=customer, items=[A])
    assert await owner.texts(1) == [notice(29, 29)]
    await other.nothing_more()
    assert await balance(services, other_id) == 0


def test_link_codes_are_what_liquid_computes() -> None:
    """`{{ customer.id | hmac_sha256: SECRET }}` in the shop's theme gives the same hex."""
    # The example on Shopify's page for the filter: 'Polyjuice' | hmac_sha256: 'Polina'.
    liquid = "8e0d5d65cff1242a4af66c8f4a32854fd5fb80edcc8aabe9b302b29c7c71dc20"
    assert LinkCodes("Polina").signature("Polyjuice") == liquid
    codes = LinkCodes("secret")
    expected = hmac.new(b"secret", b"7012345678901", hashlib.sha256).hexdigest()
    assert codes.code("7012345678901") == f"7012345678901-{expected[:10]}"
    assert codes.valid("7012345678901", expected)
    assert codes.valid("7012345678901", expected[:12].upper())
    assert not codes.valid("7012345678901", expected[:9])
    assert not codes.valid("7012345678902", expected)


# --- the example and a real channel -------------------------------------------------------

POINTS_CLUB = (ROOT / "examples" / "points-club.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("scenario_app", [POINTS_CLUB], indirect=True)
async def test_points_club_shop_points_and_a_refund_larger_than_the_balance(
    scenario_app: App,
) -> None:
    """points-club.md item 5: 1 point per 100 yen with a notice; points already spent on a
    present cannot be taken back below zero (allow_negative: false): what is there is."""
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    big = {"sku": "TEA-SET", "title": "お茶セット", "price": 30000}
    await buy(sandbox, friend_id=friend_id, items=[big], id=5000000000010)
    assert await friend.texts(2) == [
        notice(300, 300),
        "300ポイント貯まりました。プレゼントと交換できます",
    ]
    await services.crm.tags.add(friend_id, "300ポイント削除(プレゼント)", source="admin")
    await friend.texts(1)
    assert await balance(services, friend_id) == 0
    await buy(sandbox, friend_id=friend_id, items=[{**big, "price": 5000}])
    await friend.texts(1)

    refund = await sandbox.post(REFUNDS, {"order_id": 5000000000010, "amount": 30000}, 200)
    assert "50 points taken back (balance 50: 250 could not be taken)" in refund["answer"]["detail"]
    assert await balance(services, friend_id) == 0


@pytest.fixture
async def live_channel(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> AsyncIterator[tuple[SandboxDriver, TestServer]]:
    """stepbot for a real channel (not sandbox mode), without SHOPIFY_WEBHOOK_SECRET."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO_TEXT, encoding="utf-8")
    line_port = free_port()
    settings = make_settings(
        database_url,
        STEPBOT_SCENARIO=str(scenario),
        LINE_CHANNEL_SECRET="channel-secret",
        LINE_CHANNEL_ACCESS_TOKEN="token",
        LINE_API_BASE_URL=f"http://127.0.0.1:{line_port}",
    )
    assert not settings.sandbox and settings.shopify_webhook_secret is None
    line = TestServer(
        standalone_app(
            webhook_url=f"{settings.base_url}/callback",
            channel_secret="channel-secret",
            expected_token="token",
        ),
        host="127.0.0.1",
        port=line_port,
    )
    await line.start_server()
    bot = await start_server(settings)
    try:
        yield SandboxDriver(settings.base_url, http), bot
    finally:
        await bot.close()
        await line.close()


async def test_without_a_secret_shopify_is_refused_and_there_are_no_sandbox_helpers(
    live_channel: tuple[SandboxDriver, TestServer],
) -> None:
    bot, _ = live_channel
    body = b'{"id": 1}'
    headers = {"X-Shopify-Topic": "orders/paid", "X-Shopify-Hmac-Sha256": sign(body, "x")}
    status, answer = await post_webhook(bot, body, headers)
    assert status == 503 and "SHOPIFY_WEBHOOK_SECRET" in answer["message"]
    async with bot.session.post(bot.base_url + ORDERS, json={"customer_id": 1}) as resp:
        assert resp.status == 404
    assert await IntegrationEvent.all().count() == 0
