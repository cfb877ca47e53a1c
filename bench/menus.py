"""Rich-menu switching at scale: a tag change that moves 50,000 friends to another menu.

One stepbot process in sandbox mode (its LINE stand-in inside, rate limits off), two menus
drawn from a layout and `menu_rules` (tag 会員 → member menu, everyone else the default).
Measured:
- start-up recompute: every friend's menu computed and written (no LINE call: the default
  menu is the account's);
- bulk: the tag given to all 50,000 friends in one segment operation, until LINE (the
  stand-in) accepted every link — bulk link, 500 per request;
- single: one friend tagged, until their link was accepted (p50/p99 over N friends).

Run: .venv/bin/python bench/menus.py [--friends 50000] [--singles 300] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import backend_name, percentile, sandbox_server, seed_friends
from bot.appkeys import SERVICES
from bot.db.models import Friend
from bot.sandbox.platform import STATE_KEY

SCENARIO = """
version: 1
tags: [会員]
rich_menus:
  一般:
    size: compact
    layout:
      columns: 3
      cells:
        - {label: コース紹介, action: {type: message, text: コース紹介}}
        - {label: 入会する, action: {type: uri, uri: "https://example.com/join"}}
        - {label: お問い合わせ, action: {type: message, text: お問い合わせ}}
  会員:
    layout:
      columns: 2
      rows: 2
      cells:
        - {label: 最新レッスン, action: {type: message, text: 最新レッスン}}
        - {label: これまでの動画, action: {type: message, text: これまでの動画}}
        - {label: スタンプカード, action: {type: message, text: スタンプカード}}
        - {label: お問い合わせ, action: {type: message, text: お問い合わせ}}
menu_rules:
  - if: {tag: 会員}
    menu: 会員
  - menu: 一般
"""


async def main(args: argparse.Namespace) -> None:
    async with (
        sandbox_server(SCENARIO, args.database_url, "menus") as (app, base),
        aiohttp.ClientSession() as session,
    ):
        services = app[SERVICES]
        state = app[STATE_KEY]
        await services.menus.ready.wait()
        assert len(services.menus.catalog) == 2, services.menus.catalog
        user_ids = await seed_friends(session, base, args.friends + args.singles, lambda n: 0)
        ids = list(await Friend.all().order_by("id").values_list("id", flat=True))

        started = time.perf_counter()
        await services.menus.refresh_all()
        recompute = time.perf_counter() - started

        bulk_ids = ids[: args.friends]
        singles = ids[args.friends :]
        calls_before = len(state.calls)
        started = time.perf_counter()
        added = await services.crm.tags.add_many(bulk_ids, "会員", source="bench")
        bulk = time.perf_counter() - started
        links = sum(1 for uid in user_ids if state.rich_menus.linked_menu_id(uid))
        bulk_calls = sum(
            1 for c in list(state.calls)[calls_before:] if c.path.endswith("/richmenu/bulk/link")
        )
        assert len(added) == len(bulk_ids) == links, (len(added), links)

        latencies = []
        for fid in singles:
            started = time.perf_counter()
            await services.crm.tags.add(fid, "会員", source="bench")
            latencies.append(time.perf_counter() - started)
        linked = sum(1 for uid in user_ids if state.rich_menus.linked_menu_id(uid))
        assert linked == len(user_ids), linked
        print(f"database: {backend_name(app)}; friends: {len(ids):,}")
        print(f"start-up recompute of every friend's menu: {recompute:.2f} s (no LINE call)")
        print(
            f"tag to {len(bulk_ids):,} friends → every link accepted: {bulk:.2f} s "
            f"({bulk_calls} bulk-link requests)"
        )
        print(
            f"single friend tag → link accepted: p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms "
            f"(n={len(latencies)})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--friends", type=int, default=50_000)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
