"""The inbox: webhook events stored before the 200, claimed exactly once for processing."""

from __future__ import annotations

import json
from datetime import timedelta

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


async def store_events(events: list[ParsedEvent]) -> None:
    """Insert one row per event; an id we already hold (a redelivery) is left untouched."""
    now = clock.now()
    rows = [
        InboxEvent(
            webhook_event_id=e.webhook_event_id,
            user_id=e.user_id,
            event_type=e.event_type[:32],
            payload=json.dumps(e.raw, ensure_ascii=False),
            event_timestamp=e.timestamp,
            is_redelivery=e.is_redelivery,
            status=InboxStatus.PENDING if e.event is not None else InboxStatus.IGNORED,
            received_at=now,
        )
        for e in events
    ]
    await InboxEvent.bulk_create(rows, ignore_conflicts=True)


async def claim(webhook_event_id: str) -> InboxEvent | None:
    """Move a pending event to processing; None if another worker (or an earlier run) has it."""
    claimed = await InboxEvent.filter(
        webhook_event_id=webhook_event_id, status=InboxStatus.PENDING
    ).update(status=InboxStatus.PROCESSING, attempts=F("attempts") + 1)
    if claimed != 1:
        return None
    return await InboxEvent.get(webhook_event_id=webhook_event_id)


async def finish(row: InboxEvent, status: str, duration_ms: float, error: str | None = None) -> None:
    await InboxEvent.filter(id=row.id).update(
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
    return await InboxEvent.filter(status=InboxStatus.PROCESSING).update(
        status=InboxStatus.PENDING
    )
