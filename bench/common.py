"""Helpers the benchmarks share: free ports, a sandbox server, waiting for servers, raw bulk
inserts and seeded friends."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.db.bulk import db_value, insert_many


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_up(session: aiohttp.ClientSession, url: str, timeout: float = 60) -> None:
    """Poll until the URL answers (anything below 500)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            async with session.get(url) as resp:
                if resp.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@asynccontextmanager
async def sandbox_server(
    scenario_text: str, database_url: str | None, name: str
) -> AsyncIterator[tuple[web.Application, str]]:
    """One stepbot process in sandbox mode with this scenario, listening on a free port;
    yields the app and its base URL. SQLite in a temporary folder unless a URL is given."""
    from bot.app import create_app
    from bot.config import Settings

    folder = Path(tempfile.mkdtemp(prefix=f"stepbot-bench-{name}-"))
    scenario = folder / "scenario.yaml"
    scenario.write_text(scenario_text, encoding="utf-8")
    port = free_port()
    env = {
        "STEPBOT_SCENARIO": str(scenario),
        "DATABASE_URL": database_url or f"sqlite://{folder / 'bench.db'}",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    app = create_app(Settings.from_env(env))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def backend_name(app: web.Application) -> str:
    from bot.appkeys import SERVICES

    url = app[SERVICES].settings.database_url
    return "PostgreSQL" if url.startswith(("postgres://", "postgresql://")) else "SQLite"


async def seed_friends(
    session: aiohttp.ClientSession, base: str, count: int, points: Callable[[int], int]
) -> list[str]:
    """`count` virtual friends at the sandbox and as the bot's friends (one bulk insert),
    the n-th with `points(n)` points; returns their LINE user ids in order."""
    from bot import clock
    from bot.db.models import Friend

    async with session.post(f"{base}/sandbox/api/friends/bulk", json={"count": count}) as resp:
        user_ids: list[str] = (await resp.json())["userIds"]
    stamp = db_value(Friend, "created_at", clock.now())
    await insert_many(
        "friends",
        ["line_user_id", "display_name", "blocked", "points", "created_at", "updated_at"],
        [[uid, f"友だち{n}", False, points(n), stamp, stamp] for n, uid in enumerate(user_ids)],
    )
    return user_ids
