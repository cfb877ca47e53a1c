"""SIGTERM: stop taking webhooks, finish what was accepted, exit cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from bot.config import SANDBOX_CHANNEL_SECRET
from bot.db.models import InboxEvent
from bot.db.runtime import close_database, open_database
from tests.conftest import EXAMPLE_SCENARIO, free_port
from tests.events import body_of, post_signed, text_event, user_id

ROOT = Path(__file__).resolve().parent.parent


async def test_sigterm_finishes_accepted_events_and_exits_zero(
    database_url: str, http: aiohttp.ClientSession
) -> None:
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        PORT=str(port),
        STEPBOT_SCENARIO=str(EXAMPLE_SCENARIO),
        LOG_FORMAT="json",
    )
    env.pop("LINE_CHANNEL_ACCESS_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert b"running" in line
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert f"http://127.0.0.1:{port}/sandbox".encode() in line

    url = f"http://127.0.0.1:{port}/callback"
    events = [text_event(user_id(), "営業時間") for _ in range(60)]
    for i in range(0, len(events), 20):
        status, _ = await post_signed(
            http, url, body_of(*events[i : i + 20]), SANDBOX_CHANNEL_SECRET
        )
        assert status == 200
    # A simulator tab with its live stream open must not hold the shutdown up.
    stream = await http.get(f"http://127.0.0.1:{port}/sandbox/api/stream")
    assert stream.status == 200
    proc.send_signal(signal.SIGTERM)
    # The server's shutdown timeout is 30 s: finishing well before it means nothing hung.
    _, stderr = await asyncio.wait_for(proc.communicate(), 20)
    stream.close()
    assert proc.returncode == 0, stderr.decode()[-2000:]

    ctx = await open_database(database_url, migrate=False)
    try:
        statuses = await InboxEvent.all().values_list("status", flat=True)
    finally:
        await close_database(ctx)
    assert len(statuses) == 60
    assert set(statuses) == {"done"}, statuses
    handled_lines = [ln for ln in stderr.decode().splitlines() if '"event_type": "message"' in ln]
    assert len(handled_lines) == 60
