"""CRM benchmark: 100,000 friends with realistic tags, fields and points; then

1. a 3-condition segment count,
2. a tag added through the webhook → the dependent rule's action visible (latency at
   200 events/s, measured from each request to the rule's tag row),
3. bulk-tagging a 50,000-friend segment (one INSERT … SELECT, then a rule event each),
4. the time-based rule pass when 10,000 tags turn one day old at once.

Usage: python bench/crm.py [--friends 100000] [--database-url URL]
(default: a fresh SQLite file; for PostgreSQL pass an empty database's URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import aiohttp
from ulid import ULID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tortoise.connection import connections  # noqa: E402

from bench.common import db_value, free_port, insert_many, percentile, wait_up  # noqa: E402
from bot import clock  # noqa: E402
from bot.automation.actions import ActionRunner  # noqa: E402
from bot.automation.links import LinkTracker  # noqa: E402
from bot.automation.outbox import Outbox  # noqa: E402
from bot.automation.rules import RuleEngine  # noqa: E402
from bot.automation.steps import StepRunner  # noqa: E402
from bot.config import SANDBOX_CHANNEL_SECRET  # noqa: E402
from bot.crm.service import Crm  # noqa: E402
from bot.db.models import Friend, FriendField, FriendTag, PointEntry, Tag  # noqa: E402
from bot.db.runtime import close_database, open_database  # noqa: E402
from bot.line.client import LineClient  # noqa: E402
from bot.line.signature import sign  # noqa: E402
from bot.scenario import parse_scenario  # noqa: E402

TAGS = [f"興味:{t}" for t in ("和食", "洋食", "中華", "パン", "スイーツ", "ワイン")] + [
    "流入:Instagram", "流入:QR", "流入:検索", "会員", "VIP", "購入者", "メルマガ",
    "来店済", "アンケート回答済", "クーポン利用", "休眠", "紹介者", "体験レッスン", "退会者",
]  # fmt: skip
PREFS = ["東京都", "神奈川県", "大阪府", "愛知県", "福岡県", "北海道", "京都府", "兵庫県"]

SCENARIO = """version: 1
timezone: Asia/Tokyo
tags: [TAG_LIST, 反応, 反応2, 熟成, 熟成済, 一括]
fields:
  性別: {type: choice, choices: [男性, 女性, その他]}
  誕生日: {type: date}
  都道府県: {type: text}
  来店回数: {type: number}
rules:
  - name: 反応の連鎖
    when: [{postback: bench-react}]
    do: [{add_tag: 反応}]
  - name: 反応から反応2
    when: [{tag_added: 反応}]
    if: {not: {tag: 退会者}}
    do: [{add_tag: 反応2}]
  - name: 一日経過
    when: [{tag_age: {tag: 熟成, at_least: 1d}}]
    do: [{add_tag: 熟成済}]
""".replace("TAG_LIST", ", ".join(TAGS))

SEGMENT = {
    "all": [
        {"tag": "会員"},
        {"field": {"name": "都道府県", "in": ["東京都", "神奈川県"]}},
        {"points": {"gte": 500}},
    ]
}


async def seed(count: int) -> list[str]:
    rnd = random.Random(7)
    now = clock.now()
    user_ids = ["U" + secrets.token_hex(16) for _ in range(count)]
    friends = []
    for n, uid in enumerate(user_ids, start=1):
        followed = now - timedelta(days=rnd.randint(0, 900))
        friends.append(
            [n, uid, f"友だち{n}", False, db_value(Friend, "followed_at", followed),
             rnd.choice([0, 0, 100, 300, 500, 800, 1200, 3000]),
             db_value(Friend, "created_at", followed), db_value(Friend, "updated_at", now)]
        )  # fmt: skip
    await insert_many(
        "friends",
        ["id", "line_user_id", "display_name", "blocked", "followed_at", "points",
         "created_at", "updated_at"],
        friends,
    )  # fmt: skip
    tag_ids = {}
    for name in TAGS:
        tag_ids[name] = (await Tag.get_or_create(name=name, defaults={"created_at": now}))[0].id
    tags, fields, points = [], [], []
    for row in friends:
        fid = row[0]
        for name in rnd.sample(TAGS, rnd.randint(0, 5)):
            added = now - timedelta(days=rnd.randint(0, 400), minutes=rnd.randint(0, 1440))
            tags.append([fid, tag_ids[name], db_value(FriendTag, "added_at", added), "import"])
        birthday = date(rnd.randint(1950, 2008), rnd.randint(1, 12), rnd.randint(1, 28))
        stamp = db_value(FriendField, "updated_at", now)
        fields.append(
            [fid, "性別", rnd.choice(["男性", "女性", "その他"]), None, None, None, stamp]
        )
        fields.append([fid, "都道府県", rnd.choice(PREFS), None, None, None, stamp])
        fields.append([fid, "来店回数", None, float(rnd.randint(0, 40)), None, None, stamp])
        fields.append(
            [fid, "誕生日", None, None, db_value(FriendField, "value_date", birthday),
             birthday.month * 100 + birthday.day, stamp]
        )  # fmt: skip
        if row[5]:
            points.append(
                [fid, "earn", row[5], row[5], "移行", "import",
                 db_value(PointEntry, "created_at", now)]
            )  # fmt: skip
    await insert_many("friend_tags", ["friend_id", "tag_id", "added_at", "source"], tags)
    await insert_many(
        "friend_fields",
        ["friend_id", "name", "value_text", "value_number", "value_date", "value_mmdd",
         "updated_at"],
        fields,
    )  # fmt: skip
    await insert_many(
        "point_entries",
        ["friend_id", "kind", "delta", "remaining", "reason", "source", "created_at"],
        points,
    )
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(
            "SELECT setval(pg_get_serial_sequence('friends', 'id'), (SELECT MAX(id) FROM friends));"
            "ANALYZE;"
        )
    else:
        await conn.execute_script("ANALYZE;")
    return user_ids


async def webhook_load(
    db_url: str, user_ids: list[str], rate: float, seconds: float
) -> dict[str, float]:
    """Postbacks at `rate`/s; latency = request sent → the chained rule's tag row."""
    port = free_port()
    scenario_file = Path(tempfile.mkdtemp()) / "bench.yaml"
    scenario_file.write_text(SCENARIO, encoding="utf-8")
    env = dict(os.environ, DATABASE_URL=db_url, PORT=str(port), STEPBOT_SCENARIO=str(scenario_file),
               NO_PROXY="127.0.0.1,localhost", LOG_FORMAT="json")  # fmt: skip
    env.pop("LINE_CHANNEL_ACCESS_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    sent_at: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as session:
            await wait_up(session, url + "/healthz")
            targets = random.Random(3).sample(user_ids, int(rate * seconds))
            begin = time.time()
            tasks = []
            for n, uid in enumerate(targets):
                delay = begin + n / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                event = {
                    "type": "postback", "mode": "active", "timestamp": int(time.time() * 1000),
                    "source": {"type": "user", "userId": uid}, "webhookEventId": str(ULID()),
                    "deliveryContext": {"isRedelivery": False}, "replyToken": secrets.token_hex(16),
                    "postback": {"data": "bench-react"},
                }  # fmt: skip
                body = json.dumps({"destination": "U" + "0" * 32, "events": [event]}).encode()
                headers = {"X-Line-Signature": sign(SANDBOX_CHANNEL_SECRET, body),
                           "Content-Type": "application/json"}  # fmt: skip
                sent_at[uid] = time.time()
                tasks.append(
                    asyncio.create_task(session.post(url + "/callback", data=body, headers=headers))
                )
            for task in tasks:
                (await task).release()
            await asyncio.sleep(3)
    finally:
        proc.terminate()
        await proc.wait()
    return sent_at


async def chained_latencies(sent_at: dict[str, float]) -> list[float]:
    rows = await FriendTag.filter(tag__name="反応2").values_list("friend__line_user_id", "added_at")
    return [(added.timestamp() - sent_at[uid]) * 1000 for uid, added in rows if uid in sent_at]


async def main(args: argparse.Namespace) -> None:
    db_url = args.database_url or f"sqlite://{Path(tempfile.mkdtemp()) / 'crm.db'}"
    ctx = await open_database(db_url)
    scenario = parse_scenario(SCENARIO, "bench.yaml")
    crm = Crm(scenario)
    await crm.sync()
    started = time.perf_counter()
    user_ids = await seed(args.friends)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"database: {db_url.split('://')[0]}; {args.friends:,} friends seeded in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip

    timings = []
    for _ in range(7):
        t = time.perf_counter()
        matched = await crm.segments.count(SEGMENT)
        timings.append((time.perf_counter() - t) * 1000)
    print(f"1. segment count, 3 conditions (tag, field in, points): {matched:,} friends, "
          f"median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms")  # fmt: skip
    await close_database(ctx)

    sent_at = await webhook_load(db_url, user_ids, args.rate, args.seconds)
    ctx = await open_database(db_url, migrate=False)
    latencies = await chained_latencies(sent_at)
    crm = Crm(scenario)
    line = LineClient("unused", "http://127.0.0.1:9")
    outbox = Outbox(line)
    actions = ActionRunner(crm, outbox, LinkTracker("off", "", "", crm.bus))
    StepRunner(scenario, actions, outbox)
    rules = RuleEngine(scenario, crm, actions)
    print(f"2. webhook tag → chained rule's tag: {len(latencies):,} events at {args.rate:.0f}/s, "
          f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms, "
          f"max {max(latencies):.0f} ms")  # fmt: skip

    half = {"field": {"name": "来店回数", "lt": 20}}  # about half of everyone
    size = await crm.segments.count(half)
    t = time.perf_counter()
    added = await crm.tags.bulk_add(crm.segments, half, "一括", source="admin", actor="bench")
    print(
        f"3. bulk tag of a {size:,}-friend segment: {len(added):,} tagged, "
        f"{time.perf_counter() - t:.2f} s (one INSERT … SELECT, then a rule event each)"
    )

    await rules.tick()  # the rule starts watching now
    tag = (await Tag.get(name="熟成")).id
    ageing = min(10_000, args.friends)
    old = clock.now() - timedelta(days=1) + timedelta(seconds=30)
    await insert_many(
        "friend_tags",
        ["friend_id", "tag_id", "added_at", "source"],
        [[fid, tag, db_value(FriendTag, "added_at", old), "bench"] for fid in range(1, ageing + 1)],
    )
    clock.clock.advance(timedelta(minutes=1))
    t = time.perf_counter()
    await rules.tick()
    elapsed = time.perf_counter() - t
    done = await FriendTag.filter(tag__name="熟成済").count()
    print(f"4. time-based rule pass, {ageing:,} tags turning 1 day old: {done:,} rule actions, "
          f"{elapsed:.2f} s")  # fmt: skip
    await close_database(ctx)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--friends", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
