"""The inbox: webhook events stored before the 200, claimed exactly once for processing."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

from tortoise.connection import connections
from tortoise.expressions import F

from bot import clock
from bot.db.models import InboxEvent
from bot.line.webhook import ParsedEvent


class InboxStatus:
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"


_COLUMNS = (
    "webhook_event_id",
    "user_id",
    "event_type",
    "payload",
    "event_timestamp",
    "is_redelivery",
    "status",
    "attempts",
    "received_at",
)


def _values(e: ParsedEvent, now: datetime, claimed: bool) -> list[Any]:
    status = InboxStatus.IGNORED
    if e.event is not None:
        status = InboxStatus.PROCESSING if claimed else InboxStatus.PENDING
    python = {
        "webhook_event_id": e.webhook_event_id,
        "user_id": e.user_id,
        "event_type": e.event_type[:32],
        "payload": e.payload,
        "event_timestamp": e.timestamp,
        "is_redelivery": e.is_redelivery,
        "status": status,
        "attempts": 1 if status == InboxStatus.PROCESSING else 0,
        "received_at": now,
    }
    fields = InboxEvent._meta.fields_map
    return [fields[c].to_db_value(python[c], InboxEvent) for c in _COLUMNS]


async def insert_new(events: list[ParsedEvent], *, claimed: bool) -> set[str]:
    """Insert events whose id we do not hold yet; return the ids that were new.

    One statement (`ON CONFLICT DO NOTHING RETURNING`) both stores and deduplicates, so a
    redelivered event is recognised at the door. With `claimed`, new rows start in
    `processing`: this process hands them straight to its dispatcher.
    """
    if not events:
        return set()
    now = clock.now()
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    width = len(_COLUMNS)
    rows, values = [], []
    for n, event in enumerate(events):
        if postgres:
            rows.append("(" + ", ".join(f"${n * width + i + 1}" for i in range(width)) + ")")
        else:
            rows.append("(" + ", ".join("?" * width) + ")")
        values.extend(_values(event, now, claimed))
    sql = (
        f"INSERT INTO inbox_events ({', '.join(_COLUMNS)}) VALUES {', '.join(rows)} "
        "ON CONFLICT (webhook_event_id) DO NOTHING RETURNING webhook_event_id"
    )
    inserted = await connection.execute_query_dict(sql, values)
    return {str(row["webhook_event_id"]) for row in inserted}


class InboxWriter:
    """Stores webhook events with group commit: one INSERT for every request waiting.

    Under load many webhook requests arrive while an INSERT is running; they are written
    together by the next one, so the database sees a few large inserts instead of many small
    ones, and each request still gets its 200 only after its events are stored.
    """

    MAX_ROWS_PER_INSERT = 500

    def __init__(self) -> None:
        self._waiting: list[tuple[list[ParsedEvent], asyncio.Future[set[str]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, events: list[ParsedEvent]) -> set[str]:
        """Store the events; return the ids that were new (claimed for processing here)."""
        future: asyncio.Future[set[str]] = asyncio.get_running_loop().create_future()
        self._waiting.append((events, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        while self._waiting:
            batch: list[tuple[list[ParsedEvent], asyncio.Future[set[str]]]] = []
            size = 0
            while self._waiting and (
                not batch or size + len(self._waiting[0][0]) <= self.MAX_ROWS_PER_INSERT
            ):
                item = self._waiting.pop(0)
                batch.append(item)
                size += len(item[0])
            try:
                new = await insert_new([e for events, _ in batch for e in events], claimed=True)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(new)


async def claim(webhook_event_id: str) -> bool:
    """Move a pending event to processing; False if another worker (or an earlier run) has it."""
    claimed = await InboxEvent.filter(
        webhook_event_id=webhook_event_id, status=InboxStatus.PENDING
    ).update(status=InboxStatus.PROCESSING, attempts=F("attempts") + 1)
    return claimed == 1


async def load_payload(webhook_event_id: str) -> dict[str, Any]:
    row = await InboxEvent.get(webhook_event_id=webhook_event_id).only("id", "payload")
    return dict(json.loads(row.payload))


async def finish(
    webhook_event_id: str, status: str, duration_ms: float, error: str | None = None
) -> None:
    await InboxEvent.filter(webhook_event_id=webhook_event_id).update(
        status=status, processed_at=clock.now(), duration_ms=duration_ms, error=error
    )


async def pending(
    older_than: timedelta = timedelta(), limit: int = 10_000
) -> list[tuple[str, str | None]]:
    """(event id, user id) of events waiting to be claimed, oldest first, for recovery.

    Only `pending`: rows in `processing` belong to a live worker (a restart releases those of
    a dead one first), and skipping them keeps this cheap during a large backlog.
    """
    cutoff = clock.now() - older_than
    rows = (
        await InboxEvent.filter(status=InboxStatus.PENDING, received_at__lte=cutoff)
        .order_by("event_timestamp", "id")
        .limit(limit)
        .values_list("webhook_event_id", "user_id")
    )
    return [(str(r[0]), r[1]) for r in rows]


async def release_interrupted() -> int:
    """Events a stopped process left in `processing` go back to pending (single process)."""
    return await InboxEvent.filter(status=InboxStatus.PROCESSING).update(status=InboxStatus.PENDING)
