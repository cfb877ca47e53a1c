"""Admin mode at scale: commands an admin sends in chat against 50,000 friends.

One stepbot process in sandbox mode (its LINE stand-in inside, rate limits off). Every
command goes the whole way: the admin's message through the sandbox's signed webhook, the
command, and the reply back at the sandbox. Measured, from sending to the reply arriving:
- `人数 ポイント>=1000` (a count compiled to SQL);
- `タグ追加 VIP ポイント>=1000`, then 実行する (bulk tag of half the friends);
- `統計` (the account figures and the tag chart);
- `エクスポート` and downloading the CSV of every friend;
- `配信 全員` with one text, then 今すぐ送信: until every friend's message was accepted by
  the stand-in, and until the final report reached the admin (reports go on the 5 s tick).

Run: .venv/bin/python bench/admin.py [--friends 50000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import backend_name, sandbox_server, seed_friends
from bot.crm.admins import add_admin
from bot.db.models import Admin
from bot.sandbox.platform import STATE_KEY

SCENARIO = """
version: 1
tags: [VIP]
admin:
  confirm_above: 20
"""


class AdminChat:
    """The admin's side of the chat, through the sandbox's HTTP API."""

    def __init__(self, session: aiohttp.ClientSession, base: str, user_id: str) -> None:
        self.session = session
        self.api = f"{base}/sandbox/api/friends/{user_id}"
        self.seen = 0

    async def _post(self, action: str, body: dict[str, Any]) -> None:
        async with self.session.post(f"{self.api}/{action}", json=body) as resp:
            assert resp.status == 200, await resp.text()

    async def replies(self, count: int = 1, wait: float = 600) -> list[dict[str, Any]]:
        params = {"after": self.seen, "wait": wait, "count": count}
        async with self.session.get(f"{self.api}/transcript", params=params) as resp:
            entries = (await resp.json())["entries"]
        if entries:
            self.seen = entries[-1]["seq"]
        out = [e["message"] for e in entries if e["direction"] == "out"]
        assert len(out) >= count, out
        return out

    async def say(self, text: str, count: int = 1) -> tuple[list[dict[str, Any]], float]:
        started = time.perf_counter()
        await self._post("messages", {"text": text})
        replies = await self.replies(count)
        return replies, time.perf_counter() - started

    async def tap(self, message: dict[str, Any], label: str) -> tuple[list[dict], float]:
        item = next(i for i in message["quickReply"]["items"] if i["action"]["label"] == label)
        started = time.perf_counter()
        await self._post("postbacks", {"data": item["action"]["data"], "displayText": label})
        replies = await self.replies(1)
        return replies, time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    figures: list[str] = []
    async with (
        sandbox_server(SCENARIO, args.database_url, "admin") as (app, base),
        aiohttp.ClientSession() as session,
    ):
        state = app[STATE_KEY]
        user_ids = await seed_friends(
            session, base, args.friends + 1, lambda n: 1200 if n % 2 else 0
        )
        admin_user = user_ids[0]
        await add_admin(admin_user, "owner")
        await Admin.filter(line_user_id=admin_user).update(in_admin_mode=True)
        chat = AdminChat(session, base, admin_user)

        (count,), took = await chat.say("人数 ポイント>=1000")
        figures.append(f"人数 ポイント>=1000 → reply: {took * 1000:.0f} ms ({count['text']})")

        (question,), took = await chat.say("タグ追加 VIP ポイント>=1000")
        figures.append(f"タグ追加 … → confirmation question: {took * 1000:.0f} ms")
        (done,), took = await chat.tap(question, "実行する")
        figures.append(f"実行する → tagged, reply: {took:.2f} s ({done['text']})")

        (_,), took = await chat.say("統計")
        figures.append(f"統計 → Flex reply: {took * 1000:.0f} ms")

        (link,), took = await chat.say("エクスポート")
        url = next(w for w in link["text"].split() if w.startswith("http"))
        started = time.perf_counter()
        async with session.get(url) as resp:
            body = await resp.read()
        download = time.perf_counter() - started
        rows = body.count(b"\r\n") - 1
        figures.append(
            f"エクスポート → link: {took * 1000:.0f} ms; CSV of {rows:,} friends "
            f"({len(body) / 1e6:.1f} MB) downloaded in {download:.2f} s"
        )

        await chat.say("配信 全員")
        await chat.say("ベンチマークのお知らせです")
        replies, _ = await chat.say("完了", 3)
        calls_before = len(state.calls)
        started = time.perf_counter()
        (_,), _ = await chat.tap(replies[-1], "今すぐ送信")
        expected = args.friends + 1
        while True:
            delivered = sum(
                len(c.body.get("to", [])) if c.path.endswith("/multicast") else 1
                for c in list(state.calls)[calls_before:]
                if c.status == 200 and c.path.endswith(("/multicast", "/push"))
                and "ベンチマーク" in str(c.body)
            )  # fmt: skip
            if delivered >= expected:
                break
            await asyncio.sleep(0.05)
        accepted = time.perf_counter() - started
        while True:
            (report,) = (await chat.replies(1))[-1:]
            if "送信" in report.get("text", "") and "%" not in report.get("text", ""):
                break
        reported = time.perf_counter() - started
        figures.append(
            f"配信 全員 → every one of {expected:,} recipients accepted: {accepted:.2f} s; "
            f"final report at the admin: {reported:.2f} s"
        )
    print(f"database: {backend_name(app)}; friends: {args.friends + 1:,}")
    for line in figures:
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--friends", type=int, default=50_000)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
