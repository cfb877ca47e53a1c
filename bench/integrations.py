"""Integrations at scale: signed Stripe and Shopify webhooks and inflow-route visits.

One stepbot process in sandbox mode (its LINE stand-in inside, rate limits off) with N
friends. Events are signed as Stripe and Shopify sign them and posted to the real endpoints,
16 at a time, as the services retry in parallel. Each answer comes after the event was
processed (tags, points, the ledger row, the thank-you message queued), so an event's time is
its whole handling. Measured:
- N `checkout.session.completed` events (tag 決済完了者 + price tag + a message each);
- the same N events again (replays: each recognised and answered `duplicate`);
- N Shopify `orders/paid` (purchase label, points per amount, the points notice);
- N visits of an inflow route (`GET /r/NAME`, each recorded with its code).
Then: were all the messages accepted by the stand-in, once each.

Run: .venv/bin/python bench/integrations.py [--friends 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import backend_name, percentile, sandbox_server, seed_friends
from bot.appkeys import SERVICES
from bot.config import SANDBOX_SHOPIFY_SECRET, SANDBOX_STRIPE_SECRET
from bot.db.models import Friend, FriendTag, RouteVisit
from bot.integrations.shopify_payloads import sign
from bot.integrations.shopify_samples import ItemSpec, order_event
from bot.sandbox.payments import signed, stripe_event
from bot.sandbox.platform import STATE_KEY

CONCURRENCY = 16
SCENARIO = """
version: 1
tags: [決済完了者, 月額プラン, 商品A購入]
integrations:
  stripe:
    paid:
      - add_tag: 決済完了者
      - send: ["ご入会ありがとうございます!"]
    products:
      - {price: price_monthly, tag: 月額プラン}
  shopify:
    products:
      - {sku: A-001, tag: 商品A購入}
    points: {per: 100, points: 1}
routes:
  instagram: {title: Instagram}
"""


async def run_all(
    count: int, one: Callable[[int], Awaitable[str]]
) -> tuple[float, list[float], dict[str, int]]:
    """Run `one(i)` for i in range(count), CONCURRENCY at a time: wall time, each time, and
    how many answers of each kind."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    times: list[float] = []
    answers: dict[str, int] = {}

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            started = time.perf_counter()
            answer = await one(i)
            times.append(time.perf_counter() - started)
            answers[answer] = answers.get(answer, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started, times, answers


def report(what: str, count: int, wall: float, times: list[float], answers: dict[str, int]) -> None:
    print(
        f"{what}: {count} in {wall:.2f} s = {count / wall:,.0f}/s; "
        f"p50 {percentile(times, 0.5) * 1000:.0f} ms, p95 {percentile(times, 0.95) * 1000:.0f} ms; "
        f"answers {answers}"
    )


async def main(args: argparse.Namespace) -> None:
    async with (
        aiohttp.ClientSession() as session,
        sandbox_server(SCENARIO, args.database_url, "integrations") as (app, base),
    ):
        count = args.friends
        await seed_friends(session, base, count, lambda n: 0)
        services = app[SERVICES]
        ids = [f.id for f in await Friend.all().order_by("id").only("id")]
        print(f"{backend_name(app)}, {count:,} friends, {CONCURRENCY} requests at a time")

        events = [
            signed(
                stripe_event(
                    "checkout.session.completed",
                    friend_id=fid,
                    reference=services.refs.make(fid),
                    price="price_monthly",
                ),
                SANDBOX_STRIPE_SECRET,
            )
            for fid in ids
        ]

        async def pay(i: int) -> str:
            body, header = events[i]
            async with session.post(
                f"{base}/integrations/stripe",
                data=body,
                headers={"Content-Type": "application/json", "Stripe-Signature": header},
            ) as resp:
                return f"{resp.status} {(await resp.json()).get('status')}"

        report("Stripe checkouts", count, *await run_all(count, pay))
        report("Stripe replays", count, *await run_all(count, pay))
        tagged = await FriendTag.filter(removed_at=None, tag__name="決済完了者").count()
        print(f"  tagged 決済完了者: {tagged:,}")

        now = datetime.now(ZoneInfo("Asia/Tokyo"))
        item = ItemSpec(title="商品A", price=Decimal(3000), sku="A-001")
        orders = []
        for n, fid in enumerate(ids):
            event = order_event(
                order_id=10_000_000 + n, number=1001 + n, items=[item], now=now,
                ref=services.refs.make(fid),
            )  # fmt: skip
            orders.append(json.dumps(event, ensure_ascii=False).encode())

        async def order(i: int) -> str:
            body = orders[i]
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/paid",
                "X-Shopify-Hmac-Sha256": sign(body, SANDBOX_SHOPIFY_SECRET),
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            }
            async with session.post(
                f"{base}/integrations/shopify", data=body, headers=headers
            ) as resp:
                return f"{resp.status} {(await resp.json()).get('status')}"

        report("Shopify orders", count, *await run_all(count, order))
        with_points = await Friend.filter(points=30).count()
        print(f"  friends with 30 points: {with_points:,}")

        async def visit(i: int) -> str:
            async with session.get(f"{base}/r/instagram", allow_redirects=False) as resp:
                await resp.read()
                return str(resp.status)

        report("route visits", count, *await run_all(count, visit))
        print(f"  visits recorded: {await RouteVisit.filter(route='instagram').count():,}")

        state = app[STATE_KEY]
        deadline = time.perf_counter() + 300
        wanted = 2 * count  # a welcome to the club and a points notice per friend
        while time.perf_counter() < deadline:
            delivered = sum(
                1 for c in state.calls if c.path.endswith("/message/push") and c.status == 200
            )
            if delivered >= wanted:
                break
            await asyncio.sleep(0.2)
        print(f"  pushes accepted by the stand-in: {delivered:,} (expected {wanted:,})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--friends", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
