"""SQLite write-ahead-log checkpoints off the request path.

By default SQLite checkpoints inside whichever commit makes the WAL pass 1,000 pages, and that
commit then waits for an fsync of the database (about 100 ms here) — a webhook answered late.
stepbot raises that in-line threshold and checkpoints from a separate connection in a worker
thread on every scheduler tick instead; a PASSIVE checkpoint does not block writers.
"""

from __future__ import annotations

import asyncio
import sqlite3
from urllib.parse import urlsplit

INLINE_CHECKPOINT_PAGES = 20_000  # a safety net only, used if the tick stops running


def sqlite_path(database_url: str) -> str | None:
    if not database_url.startswith("sqlite://"):
        return None
    path = database_url[len("sqlite://") :].split("?", 1)[0]
    return None if path in ("", ":memory:") else urlsplit("file://" + path).path or path


def _checkpoint(path: str) -> None:
    with sqlite3.connect(path, timeout=5) as connection:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


async def checkpoint(database_url: str) -> None:
    path = sqlite_path(database_url)
    if path is not None:
        await asyncio.to_thread(_checkpoint, path)
