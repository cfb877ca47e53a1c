"""The inbox: webhook events stored before the 200, claimed exactly once for processing."""

from __future__ import annotations

import json
import asyncio
from datetime import datetime, timedelta
from typing import Any

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


def _row(e: ParsedEvent, now: datetime) -> InboxEvent:
    return InboxEvent(
        webhook_event_id=e.webhook_event_id,
        user_id=e.user_id,
        event_type=e.event_type[:32],
        payload=json.dumps(e.raw, ensure_ascii=False),
        event_timestamp=e.timestamp,
        is_redelivery=e.is_redelivery,
        status=InboxStatus.PENDING if e.event is not None else InboxStatus.IGNORED,
        received_at=now,
    )


class InboxWriter:
    """Stores webhook events with group commit: one INSERT for every request waiting.

    Under load many webhook requests arrive while an INSERT is running; they are written
    together by the next one, so the database sees a few large inserts instead of many small
    ones and each request still gets its 200 only after its events are stored.
    An id we already hold (a redelivery) is left untouched.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[list[InboxEvent], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, events: list[ParsedEvent]) -> None:
        now = clock.now()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(([_row(e, now) for e in events], future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        await future

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            rows = [row for rows, _ in batch for row in rows]
            try:
                await InboxEvent.bulk_create(rows, ignore_conflicts=True)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


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


async def unfinished(older_than: timedelta = timedelta()) -> list[tuple[str, str | None]]:
    """(event id, user id) of events not yet processed, oldest first, for recovery."""
    cutoff = clock.now() - older_than
    rows = (
        await InboxEvent.filter(
            status__in=[InboxStatus.PENDING, InboxStatus.PROCESSING], received_at__lte=cutoff
        )
        .order_by("event_timestamp", "id")
        .values_list("webhook_event_id", "user_id")
    )
    return [(str(r[0]), r[1]) for r in rows]


async def release_interrupted() -> int:
    """Events a stopped process left in `processing` go back to pending (single process)."""
    return await InboxEvent.filter(status=InboxStatus.PROCESSING).update(status=InboxStatus.PENDING)
