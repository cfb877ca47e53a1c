"""The integration event ledger: every event from outside is recorded by its id first, so a
replay (a retried webhook, an attacker resending a captured one) is processed at most once.

An event is `received` while processing and `done` (or `unmatched`, `ignored`) after. A crash
in between leaves it `received`; the sender retries (we answered 500, or never answered) and
the retry processes it again. Every effect is idempotent on the event id (tags, once-keyed
points, deduplicated sends), so a half-done event finishes without doubling anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from bot import clock
from bot.db.models import IntegrationEvent

FINISHED = ("done", "unmatched", "ignored")

#: One lock per key being processed in this process, gone when nobody holds it.
_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()


@dataclass
class Claim:
    row: IntegrationEvent
    fresh: bool
    """False when the id was seen before and finished: nothing more to do."""


async def claim(provider: str, event_id: str, kind: str = "") -> Claim:
    """Record the event, or find it. A finished one comes back with `fresh=False`."""
    try:
        row = await IntegrationEvent.create(
            provider=provider, event_id=event_id[:200], kind=kind[:100], received_at=clock.now()
        )
        return Claim(row, True)
    except IntegrityError:
        row = await IntegrationEvent.get(provider=provider, event_id=event_id[:200])
        return Claim(row, row.status not in FINISHED)


async def finish(row: IntegrationEvent, status: str, *, friend_id: int | None = None,
                 detail: str = "") -> None:  # fmt: skip
    row.status = status
    row.friend_id = friend_id if friend_id is not None else row.friend_id
    row.detail = detail[:500]
    row.done_at = clock.now()
    await row.save(update_fields=["status", "friend_id", "detail", "done_at"])


async def once(provider: str, key: str) -> bool:
    """True the first time a key is seen (e.g. the first payment of a subscription)."""
    try:
        await IntegrationEvent.create(
            provider=provider, event_id=key[:200], kind="once", status="done",
            received_at=clock.now(), done_at=clock.now(),
        )  # fmt: skip
    except IntegrityError:
        return False
    return True


@contextlib.asynccontextmanager
async def exclusive(provider: str, key: str) -> AsyncIterator[None]:
    """One task at a time per key in this process: a service may deliver the same event twice
    at once, and the second must find the first one's work finished, not redo it. (Across
    processes the effects themselves are idempotent on the event id.)"""
    lock = _locks.get((provider, key))
    if lock is None:
        lock = _locks[(provider, key)] = asyncio.Lock()
    async with lock:
        yield


@contextlib.asynccontextmanager
async def processing(provider: str, event_id: str, kind: str = "") -> AsyncIterator[Claim]:
    """`claim` while holding the event's lock: inside, process a fresh claim and `finish` it;
    a claim that is not fresh was a duplicate."""
    async with exclusive(provider, event_id):
        yield await claim(provider, event_id, kind)
