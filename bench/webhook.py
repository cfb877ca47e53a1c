"""Webhook benchmark: N virtual friends send signed text events to a running stepbot.

Starts two processes like a real deployment: the LINE stand-in (`stepbot sandbox`) and the
bot (`stepbot run`, pointed at the stand-in with LINE_API_BASE_URL). Then posts one event per
request, `--concurrency` at a time, straight to /callback, and prints:
events/s accepted, ack latency p50/p99, and the time until every reply was accepted by the
stand-in. Usage: python bench/webhook.py [--friends 100] [--events 5000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from ulid import ULID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, percentile, wait_up  # noqa: E402
from bot.line.signature import sign  # noqa: E402

SECRET = "bench-channel-secret"
TOKEN = "bench-access-token"


def event_body(user_id: str, reply_token: str, text: str) -> bytes:
    event = {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": str(ULID()),
        "deliveryContext": {"isRedelivery": False},
        "replyToken": reply_token,
        "message": {
            "type": "text",
            "id": str(secrets.randbits(60)),
            "quoteToken": secrets.token_urlsafe(16),
            "text": text,
        },
    }
    return json.dumps({"destination": "U" + "0" * 32, "events": [event]}).encode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to see who used the cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(args: argparse.Namespace) -> None:
    line_port, bot_port = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="stepbot-bench-"))
    db_url = args.database_url or f"sqlite://{workdir / 'bench.db'}"
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env.pop("STEPBOT_TEST_CLOCK", None)
    stand_in = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "sandbox", "--port", str(line_port),
        "--webhook-url", f"http://127.0.0.1:{bot_port}/callback",
        "--channel-secret", SECRET, "--access-token", TOKEN,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    bot_env = dict(
        env,
        LINE_CHANNEL_SECRET=SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
        LINE_API_BASE_URL=f"http://127.0.0.1:{line_port}",
        DATABASE_URL=db_url,
        PORT=str(bot_port),
        STEPBOT_SCENARIO=str(ROOT / "examples" / "welcome.yaml"),
        LOG_FORMAT="json",
    )
    bot_log = open(workdir / "bot.log", "wb")  # noqa: SIM115
    wrapper = ["py-spy", "record", "-f", "raw", "-o", args.profile, "--"] if args.profile else []
    bot = await asyncio.create_subprocess_exec(
        *wrapper, sys.executable, "-m", "bot.cli", "run",
        cwd=ROOT, env=bot_env, stdout=asyncio.subprocess.DEVNULL, stderr=bot_log,
    )  # fmt: skip
    line_url, bot_url = f"http://127.0.0.1:{line_port}", f"http://127.0.0.1:{bot_port}"
    connector = aiohttp.TCPConnector(limit=512 if args.rate else args.concurrency + 8)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_up(session, line_url + "/sandbox/api/friends")
            await wait_up(session, bot_url + "/healthz")
            friends = []
            for i in range(args.friends):
                async with session.post(
                    line_url + "/sandbox/api/friends", json={"displayName": f"友だち{i}"}
                ) as resp:
                    friends.append((await resp.json())["userId"])
            for user_id in friends:
                async with session.post(f"{line_url}/sandbox/api/friends/{user_id}/follow") as r:
                    assert (await r.json())["webhookStatus"] == 200
            per_friend = -(-args.events // args.friends)
            tokens: dict[str, list[str]] = {}
            for user_id in friends:
                async with session.post(
                    f"{line_url}/sandbox/api/friends/{user_id}/reply-tokens",
                    json={"count": per_friend},
                ) as resp:
                    tokens[user_id] = (await resp.json())["replyTokens"]
            await asyncio.sleep(1.0)  # let the welcomes go out first
            async with session.get(line_url + "/sandbox/api/stats?byFriend=0") as resp:
                before = (await resp.json())["byPath"].get("POST /v2/bot/message/reply 200", 0)
            bodies = []
            for n in range(args.events):
                user_id = friends[n % len(friends)]
                body = event_body(user_id, tokens[user_id][n // len(friends)], "営業時間")
                bodies.append((body, sign(SECRET, body)))

            latencies: list[float] = []
            queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
            for item in bodies:
                queue.put_nowait(item)

            async def post(body: bytes, signature: str) -> None:
                started = time.perf_counter()
                async with session.post(
                    bot_url + "/callback",
                    data=body,
                    headers={"X-Line-Signature": signature, "Content-Type": "application/json"},
                ) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                latencies.append((time.perf_counter() - started) * 1000)

            async def worker() -> None:
                """Closed loop: each worker sends its next event as soon as one is acked."""
                while not queue.empty():
                    await post(*queue.get_nowait())

            async def paced() -> None:
                """Open loop: events leave at a fixed rate, whatever the server's answers do."""
                begin = time.perf_counter()
                tasks = []
                for n, (body, signature) in enumerate(bodies):
                    delay = begin + n / args.rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(post(body, signature)))
                await asyncio.gather(*tasks)

            pids = {"bot": bot.pid, "stand-in": stand_in.pid, "bench client": os.getpid()}
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            started = time.perf_counter()
            if args.rate:
                await paced()
            else:
                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            sent_in = time.perf_counter() - started
            cpu_used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
            while True:
                async with session.get(line_url + "/sandbox/api/stats?byFriend=0") as resp:
                    stats = await resp.json()
                done = stats["byPath"].get("POST /v2/bot/message/reply 200", 0) - before
                if done >= args.events or time.perf_counter() - started > args.timeout:
                    break
                await asyncio.sleep(0.05)
            replied_in = time.perf_counter() - started
    finally:
        for proc in (bot, stand_in):
            proc.send_signal(2 if args.profile else 15)
        await bot.wait()
        await stand_in.wait()
        bot_log.close()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    load = f"offered rate {args.rate:,.0f}/s" if args.rate else f"concurrency {args.concurrency}"
    kind = db_url.split("://")[0]
    print(f"database: {kind}; friends {args.friends}; events {args.events}; {load}")
    print(f"accepted: {args.events / sent_in:,.0f} events/s ({sent_in:.2f} s)")
    print(
        f"ack latency: p50 {statistics.median(latencies):.1f} ms, "
        f"p90 {percentile(latencies, 0.90):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )
    print(
        "CPU while accepting: "
        + ", ".join(f"{name} {sec / sent_in:.0%}" for name, sec in cpu_used.items())
    )
    print(f"every reply accepted by the stand-in after {replied_in:.2f} s "
          f"({done} of {args.events} replies)")  # fmt: skip
    if done < args.events:
        print(f"WARNING: only {done} replies arrived; see {workdir / 'bot.log'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--friends", type=int, default=100)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rate", type=float, default=0, help="open loop: send this many events/s instead"
    )
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--profile", help="record the bot with py-spy into this file")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    asyncio.run(main(parser.parse_args()))
