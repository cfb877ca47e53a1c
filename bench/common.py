"""Helpers the benchmarks share: free ports, waiting for servers, raw bulk inserts."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from tortoise.connection import connections


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


def db_value(model: type, name: str, value: object) -> object:
    """A Python value as tortoise stores it in this column (same text format on SQLite)."""
    return model._meta.fields_map[name].to_db_value(value, model)  # type: ignore[attr-defined]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def insert_many(table: str, columns: list[str], rows: list[list[object]]) -> None:
    """Seeding at speed: multi-row INSERTs, sized for each database's parameter limit."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    width = len(columns)
    size = 2000 if postgres else max(1, 999 // width)
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        if postgres:
            marks = ", ".join(
                "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ")"
                for i in range(len(chunk))
            )
        else:
            marks = ", ".join("(" + ", ".join("?" * width) + ")" for _ in chunk)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {marks}"
        await conn.execute_query(sql, [v for row in chunk for v in row])
