"""Delivery benchmark and crash test, against the LINE stand-in in its own process.

1. N friends (default 100,000) with the same step due at the same minute: time until the
   stand-in accepted every recipient, with rate limits off, and with LINE's limits on
   (as a share of the theoretical best: requests ÷ the endpoint's limit).
2. 10,000 personalised pushes (the display name in the text) with LINE's limits on: the
   share of LINE's 2,000 pushes/s achieved.
3. Crash test: 10,000 personalised pushes, `kill -9` of the bot midway, restart: every
   friend received the message exactly once (counted by the stand-in, per friend).
4. With `--processes 2` (PostgreSQL): two bot processes share the work.

Usage: python bench/delivery.py [--friends 100000] [--database-url URL] [--processes 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tortoise.connection import connections  # noqa: E402

from bench.common import db_value, free_port, insert_many, wait_up  # noqa: E402
from bot import clock  # noqa: E402
from bot.db.models import Friend, StepRun  # noqa: E402
from bot.db.runtime import close_database, open_database  # noqa: E402

SECRET, TOKEN = "bench-secret", "bench-token"
SCENARIO = """version: 1
timezone: Asia/Tokyo
steps:
  同じ内容:
    steps:
      - after: 0
        messages: ["本日のお知らせです"]
  名前入り:
    steps:
      - after: 0
        messages: ["{{ friend.display_name }}さん、本日のお知らせです"]
"""


class Rig:
    """The stand-in, the bot process(es) and a database, for one measurement."""

    def __init__(self, db_url: str, workdir: Path, processes: int) -> None:
        self.db_url, self.workdir, self.processes = db_url, workdir, processes
        self.line_port = free_port()
        self.line_url = f"http://127.0.0.1:{self.line_port}"
        self.bots: list[asyncio.subprocess.Process] = []
        self.stand_in: asyncio.subprocess.Process | None = None
        self.env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        self.env.pop("STEPBOT_TEST_CLOCK", None)
        (workdir / "bench.yaml").write_text(SCENARIO, encoding="utf-8")

    async def start_stand_in(self, session: aiohttp.ClientSession) -> None:
        self.stand_in = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "sandbox", "--port", str(self.line_port),
            "--webhook-url", "http://127.0.0.1:9/callback", "--channel-secret", SECRET,
            "--access-token", TOKEN, cwd=ROOT, env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await wait_up(session, self.line_url + "/sandbox/api/stats")

    async def start_bots(self, session: aiohttp.ClientSession) -> None:
        for n in range(self.processes):
            port = free_port()
            env = dict(
                self.env, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
                LINE_API_BASE_URL=self.line_url, DATABASE_URL=self.db_url, PORT=str(port),
                STEPBOT_SCENARIO=str(self.workdir / "bench.yaml"), LOG_FORMAT="json",
            )  # fmt: skip
            log = open(self.workdir / f"bot{n}.log", "ab")  # noqa: SIM115
            self.bots.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "run",
                    cwd=ROOT,
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=log,
                )
            )
            await wait_up(session, f"http://127.0.0.1:{port}/healthz")

    async def stop_bots(self, sig: int = signal.SIGTERM) -> None:
        for bot in self.bots:
            if bot.returncode is None:
                bot.send_signal(sig)
        for bot in self.bots:
            await bot.wait()
        self.bots = []

    async def stop(self) -> None:
        await self.stop_bots()
        if self.stand_in is not None:
            self.stand_in.terminate()
            await self.stand_in.wait()

    async def sandbox(self, session: aiohttp.ClientSession, path: str, body: object = None) -> dict:
        method = session.post if body is not None else session.get
        async with method(self.line_url + path, json=body) as resp:
            return dict(await resp.json())


async def seed(db_url: str, user_ids: list[str], scenario: str) -> None:
    """Friends (the same user ids as the stand-in's) and a run each, due now."""
    ctx = await open_database(db_url)
    try:
        await connections.get("default").execute_script(
            "DELETE FROM step_deliveries; DELETE FROM step_runs; DELETE FROM outbox_messages;"
            " DELETE FROM friends;"
        )
        now = clock.now()
        stamp = db_value(Friend, "created_at", now)
        await insert_many(
            "friends",
            ["id", "line_user_id", "display_name", "blocked", "points", "created_at", "updated_at"],
            [[n + 1, uid, f"友だち{n}", False, 0, stamp, stamp] for n, uid in enumerate(user_ids)],
        )
        due = db_value(StepRun, "next_due_at", now - timedelta(seconds=5))
        await insert_many(
            "step_runs",
            ["friend_id", "scenario", "status", "started_at", "next_step", "next_due_at"],
            [[n + 1, scenario, "running", due, 0, due] for n in range(len(user_ids))],
        )
        if connections.get("default").capabilities.dialect == "postgres":
            await connections.get("default").execute_script(
                "SELECT setval(pg_get_serial_sequence('friends', 'id'),"
                " (SELECT MAX(id) FROM friends));"
            )
    finally:
        await close_database(ctx)


async def wait_delivered(
    rig: Rig, session: aiohttp.ClientSession, total: int, timeout: float
) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        stats = await rig.sandbox(session, "/sandbox/api/stats?byFriend=0")
        if stats["delivered"] >= total:
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def measure(args: argparse.Namespace, count: int, scenario: str, limits: bool,
                  crash: bool = False) -> dict[str, object]:  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="stepbot-delivery-"))
    db_url = args.database_url or f"sqlite://{workdir / 'bench.db'}"
    rig = Rig(db_url, workdir, args.processes)
    async with aiohttp.ClientSession() as session:
        try:
            await rig.start_stand_in(session)
            ids = (await rig.sandbox(session, "/sandbox/api/friends/bulk", {"count": count}))[
                "userIds"
            ]
            await seed(db_url, ids, scenario)
            await rig.sandbox(
                session, "/sandbox/api/settings", {"rateLimits": limits, "quota": None}
            )
            await rig.sandbox(session, "/sandbox/api/reset-stats", {})
            started = time.perf_counter()
            await rig.start_bots(session)
            if crash:
                while (await rig.sandbox(session, "/sandbox/api/stats?byFriend=0"))[
                    "delivered"
                ] < count // 3:
                    await asyncio.sleep(0.05)
                await rig.stop_bots(signal.SIGKILL)
                killed_at = (await rig.sandbox(session, "/sandbox/api/stats"))["delivered"]
                await rig.start_bots(session)
            elapsed = await wait_delivered(rig, session, count, args.timeout)
            total = time.perf_counter() - started
            stats = await rig.sandbox(session, "/sandbox/api/stats")
            per_friend = stats["deliveredByFriend"]
            result: dict[str, object] = {
                "delivered": stats["delivered"],
                "seconds": total,
                "after_start": elapsed,
                "span": stats.get("deliverySpanSeconds") or total,
                "requests": stats["byPath"],
                "friends_once": sum(1 for uid in ids if per_friend.get(uid) == 1),
                "friends_twice": sum(1 for uid in ids if per_friend.get(uid, 0) > 1),
                "friends_missing": sum(1 for uid in ids if per_friend.get(uid, 0) == 0),
            }
            if crash:
                result["killed_at"] = killed_at
            return result
        finally:
            await rig.stop()


def requests_of(result: dict[str, object], endpoint: str) -> int:
    paths = result["requests"]
    assert isinstance(paths, dict)
    return sum(n for key, n in paths.items() if f"/message/{endpoint} 200" in key or
               f"/message/{endpoint} 409" in key)  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    kind = (args.database_url or "sqlite").split("://")[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"database: {kind}; bot processes: {args.processes}")
    wanted = set(args.only or ["same", "limited", "pushes", "crash"])
    if "same" in wanted:
        await report_same(args)
    if "limited" in wanted:
        await report_limited(args)
    if "pushes" in wanted:
        await report_pushes(args)
    if "crash" in wanted:
        await report_crash(args)


async def report_same(args: argparse.Namespace) -> None:
    same = await measure(args, args.friends, "同じ内容", limits=False)
    print(
        f"1a. {args.friends:,} friends, same step, limits off: {same['delivered']:,} delivered"
        f" in {same['seconds']:.1f} s from start ({same['after_start']:.1f} s after the bot was"
        f" up); once {same['friends_once']:,}, twice {same['friends_twice']},"
        f" missing {same['friends_missing']}"
    )


async def report_limited(args: argparse.Namespace) -> None:
    limited = await measure(args, args.friends, "同じ内容", limits=True)
    calls = requests_of(limited, "multicast")
    best = calls / 200
    share = best / float(limited["seconds"])
    span = float(limited["span"])  # type: ignore[arg-type]
    print(
        f"1b. same with LINE's limits: {limited['seconds']:.1f} s for {calls} multicasts"
        f" (best possible at 200/s: {best:.1f} s, {share:.0%}); first to last delivery"
        f" {span:.1f} s ({best / span:.0%})"
    )


async def report_pushes(args: argparse.Namespace) -> None:
    pushes = await measure(args, args.pushes, "名前入り", limits=True)
    rate = args.pushes / float(pushes["seconds"])
    sustained = args.pushes / float(pushes["span"])  # type: ignore[arg-type]
    print(
        f"2. {args.pushes:,} personalised pushes with limits: {pushes['seconds']:.1f} s,"
        f" {rate:,.0f}/s = {rate / 2000:.0%} of LINE's 2,000/s with start-up;"
        f" first to last push {float(pushes['span']):.1f} s,"  # type: ignore[arg-type]
        f" {sustained:,.0f}/s = {sustained / 2000:.0%}; once {pushes['friends_once']:,}"
    )


async def report_crash(args: argparse.Namespace) -> None:
    crash = await measure(args, args.pushes, "名前入り", limits=False, crash=True)
    print(
        f"3. crash test, {args.pushes:,} pushes, kill -9 after {crash['killed_at']:,}:"
        f" once {crash['friends_once']:,}, twice {crash['friends_twice']},"
        f" missing {crash['friends_missing']} ({crash['seconds']:.1f} s in all)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--friends", type=int, default=100_000)
    parser.add_argument("--pushes", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--only",
        action="append",
        choices=["same", "limited", "pushes", "crash"],
        help="run only these measurements (repeatable; default: all four)",
    )
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
