"""Processing stored events: in order per friend, concurrently across friends.

Each friend (LINE user id) gets a queue and a worker task that exists while there is work.
A shared semaphore caps how many friends are processed at once, so a burst cannot exhaust
the database pool. `drain()` lets everything already accepted finish before shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from linebot.v3.webhooks import Event

from bot import inbox
from bot.crm import friends
from bot.handlers.context import EventContext
from bot.inbox import InboxStatus
from bot.services import Services

log = logging.getLogger("bot.events")

MAX_CONCURRENT_FRIENDS = 32
NO_USER = "-"


class EventDispatcher:
    def __init__(self, services: Services, concurrency: int = MAX_CONCURRENT_FRIENDS) -> None:
        self.services = services
        self._queues: dict[str, asyncio.Queue[tuple[str, dict[str, Any] | None]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(
        self, webhook_event_id: str, user_id: str | None, raw: dict[str, Any] | None = None
    ) -> None:
        """Queue an event; `raw` (the stored payload) saves reading it back from the inbox."""
        key = user_id or NO_USER
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
        queue.put_nowait((webhook_event_id, raw))
        self._idle.clear()
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key, queue))

    async def _work(
        self, key: str, queue: asyncio.Queue[tuple[str, dict[str, Any] | None]]
    ) -> None:
        try:
            while not queue.empty():
                event_id, raw = queue.get_nowait()
                async with self._slots:
                    await self.process(event_id, raw)
        finally:
            self._workers.pop(key, None)
            if queue.empty():
                self._queues.pop(key, None)
            else:  # an event arrived while we were finishing: keep going
                self._workers[key] = asyncio.create_task(self._work(key, queue))
            if not self._workers:
                self._idle.set()

    async def process(self, webhook_event_id: str, raw: dict[str, Any] | None = None) -> None:
        """Claim, handle and finish one event; a duplicate or lost race is skipped silently."""
        started = time.perf_counter()
        if not await inbox.claim(webhook_event_id):
            return
        if raw is None:
            raw = await inbox.load_payload(webhook_event_id)
        ctx = EventContext(
            services=self.services,
            event=Event.from_dict(raw),
            raw=raw,
            webhook_event_id=webhook_event_id,
        )
        status, error = InboxStatus.DONE, None
        try:
            if ctx.user_id and ctx.event_type not in ("follow", "unfollow"):
                ctx.friend = await friends.ensure_friend(ctx.user_id)
                await friends.touch(ctx.friend)
            handled_by = await self.services.router.dispatch(ctx)
            if handled_by is None:
                ctx.outcome = "no handler"
        except Exception as exc:
            status, error = InboxStatus.FAILED, f"{type(exc).__name__}: {exc}"
            ctx.outcome = "error"
            log.exception("event %s failed", webhook_event_id)
        elapsed = (time.perf_counter() - started) * 1000
        await inbox.finish(webhook_event_id, status, elapsed, error)
        log.info(
            "%s %s %s %.1fms",
            f"#{ctx.friend.id}" if ctx.friend else (ctx.user_id or "-"),
            ctx.event_type,
            ctx.outcome,
            elapsed,
            extra={
                "friend": ctx.friend.id if ctx.friend else None,
                "user_id": ctx.user_id,
                "event_type": ctx.event_type,
                "webhook_event_id": webhook_event_id,
                "outcome": ctx.outcome,
                "ms": round(elapsed, 1),
            },
        )

    async def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every accepted event has been processed; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    @property
    def busy(self) -> int:
        return len(self._workers)
