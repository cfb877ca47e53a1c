"""Processing stored events: in order per friend, concurrently across friends.

Each friend (LINE user id) gets a queue and a worker task that exists while there is work.
A shared semaphore caps how many friends are processed at once, so a burst cannot exhaust
the database pool. `drain()` lets everything already accepted finish before shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass

from linebot.v3.webhooks import Event

from bot import clock, inbox
from bot.automation.actions import current_answer
from bot.crm import friends
from bot.crm.events import MessageReceived, PostbackReceived
from bot.db.models import Tap
from bot.handlers.context import EventContext
from bot.inbox import InboxStatus
from bot.services import Services

log = logging.getLogger("bot.events")

MAX_CONCURRENT_FRIENDS = 32
NO_USER = "-"
ACK_WAIT_S = 0.05
BURST_BACKLOG = 50
BURST_WAIT_S = 0.5
QUIET_S = 0.01


@dataclass(frozen=True)
class _Work:
    """A queued event. Only strings: a backlog of thousands must not slow the garbage
    collector's full passes, which pause the loop (and every webhook ack) while they run."""

    webhook_event_id: str
    payload: str | None = None


class EventDispatcher:
    def __init__(self, services: Services, concurrency: int = MAX_CONCURRENT_FRIENDS) -> None:
        self.services = services
        self._queues: dict[str, asyncio.Queue[_Work]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._acks_in_flight = 0
        self._acks_total = 0
        self._backlog = 0
        self._gate: asyncio.Future[bool] | None = None
        self._one_at_a_time = asyncio.Semaphore(1)
        self._no_acks = asyncio.Event()
        self._no_acks.set()
        self._idle = asyncio.Event()
        self._idle.set()

    def ack_started(self) -> None:
        """A webhook request is being stored: processing steps back until it is answered."""
        self._acks_in_flight += 1
        self._acks_total += 1
        self._no_acks.clear()

    def ack_finished(self) -> None:
        self._acks_in_flight -= 1
        if self._acks_in_flight == 0:
            self._no_acks.set()

    async def _yield_to_acks(self) -> bool:
        """Storing and acknowledging webhooks goes first: that is what makes them safe.

        Within capacity, processing only waits while a webhook is being stored (at most
        ACK_WAIT_S). In a burst beyond capacity (a backlog of BURST_BACKLOG events) it
        waits for a quiet moment instead, up to BURST_WAIT_S, then goes one event at a time
        (returns False): acks stay fast, and the backlog is worked off after the burst.
        """
        if self._backlog < BURST_BACKLOG:
            if self._acks_in_flight:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._no_acks.wait(), ACK_WAIT_S)
            return True
        if self._gate is None or self._gate.done():
            self._gate = asyncio.ensure_future(self._quiet_moment())
        return await asyncio.shield(self._gate)

    async def _quiet_moment(self) -> bool:
        """True once no webhook arrived for QUIET_S; False after BURST_WAIT_S."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BURST_WAIT_S
        while loop.time() < deadline:
            if self._acks_in_flight:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._no_acks.wait(), deadline - loop.time())
            seen = self._acks_total
            await asyncio.sleep(QUIET_S)
            if self._acks_total == seen and not self._acks_in_flight:
                return True
        return False

    def submit(self, webhook_event_id: str, user_id: str | None) -> None:
        """Queue a stored event that still has to be claimed (recovery after a restart)."""
        self._enqueue(user_id, _Work(webhook_event_id))

    def submit_claimed(self, webhook_event_id: str, user_id: str | None, payload: str) -> None:
        """Queue an event this process just stored as `processing` (the webhook's fast path)."""
        self._enqueue(user_id, _Work(webhook_event_id, payload))

    def _enqueue(self, user_id: str | None, work: _Work) -> None:
        key = user_id or NO_USER
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
        queue.put_nowait(work)
        self._backlog += 1
        self._idle.clear()
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key, queue))

    async def _work(self, key: str, queue: asyncio.Queue[_Work]) -> None:
        try:
            while not queue.empty():
                work = queue.get_nowait()
                async with self._slots:
                    if await self._yield_to_acks():
                        self._backlog -= 1
                        await self.process(work)
                    else:
                        async with self._one_at_a_time:
                            self._backlog -= 1
                            await self.process(work)
        finally:
            self._workers.pop(key, None)
            if queue.empty():
                self._queues.pop(key, None)
            else:  # an event arrived while we were finishing: keep going
                self._workers[key] = asyncio.create_task(self._work(key, queue))
            if not self._workers:
                self._idle.set()

    async def process(self, work: _Work) -> None:
        """Handle and finish one event; one another worker already took is skipped silently."""
        started = time.perf_counter()
        webhook_event_id = work.webhook_event_id
        if work.payload is not None:
            raw = json.loads(work.payload)
        else:
            if not await inbox.claim(webhook_event_id):
                return
            raw = await inbox.load_payload(webhook_event_id)
        event = Event.from_dict(raw)
        ctx = EventContext(
            services=self.services,
            event=event,
            raw=raw,
            webhook_event_id=webhook_event_id,
        )
        status, error = InboxStatus.DONE, None
        try:
            if ctx.user_id and ctx.event_type not in ("follow", "unfollow"):
                ctx.friend = await friends.ensure_friend(ctx.user_id)
                await friends.touch(ctx.friend)
            answering = current_answer.set(ctx)
            try:
                handled_by = await self.services.router.dispatch(ctx)
                if handled_by is None:
                    ctx.outcome = "no handler"
                await self._publish_activity(ctx)
            finally:
                current_answer.reset(answering)
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

    async def _publish_activity(self, ctx: EventContext) -> None:
        """Tell rules and scores about a message or a tap (after any auto-reply answered)."""
        if ctx.friend is None or ctx.admin_traffic:
            return
        crm = self.services.crm
        if ctx.text is not None:
            await crm.bus.publish(MessageReceived(ctx.friend.id, "message", text=ctx.text))
            await crm.scores.on_activity(ctx.friend.id, "message")
        elif ctx.postback_data is not None:
            await Tap.create(friend_id=ctx.friend.id, data=ctx.postback_data[:300], at=clock.now())
            params = ctx.raw.get("postback", {}).get("params") or {}
            await crm.bus.publish(
                PostbackReceived(ctx.friend.id, "postback", data=ctx.postback_data, params=params)
            )
            await crm.scores.on_activity(ctx.friend.id, "postback")

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
