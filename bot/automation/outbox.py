"""The outbox: every outgoing message is a row before it is an HTTP call.

Order of work for each row: insert (pending) → claim (sending) → call LINE → mark sent or
failed. Pushes carry the row's `X-Line-Retry-Key`, so a retry after a crash or a timeout is
accepted by LINE at most once (409 = it already was). A reply whose token went stale or was
refused falls back to a push. Rows that could not be sent are retried by `retry_due()` with
backoff, honouring LINE's Retry-After.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from tortoise.connection import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from bot import clock
from bot.db.models import OutboxMessage
from bot.line.client import LineApiError, LineClient, SendResult

log = logging.getLogger(__name__)

REPLY_TOKEN_FRESH = timedelta(seconds=50)
STALE_SENDING = timedelta(seconds=45)  # longer than a call can take (15 s timeout)
MAX_ATTEMPTS = 8
MAX_BACKOFF_S = 600.0
MAX_MESSAGES_PER_REQUEST = 5
MAX_MULTICAST = 500
SENT_FIELDS = ("status", "kind", "http_status", "line_request_id", "sent_at", "error")
CLAIM_BATCH = 500
MAX_SOURCE = 150  # OutboxMessage.source
DRAIN_CONCURRENCY = 32


class Status:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    seconds = min(2.0**attempts, MAX_BACKOFF_S)
    if retry_after is not None:
        seconds = max(seconds, retry_after)
    return timedelta(seconds=seconds)


_RECIPIENT_PROPERTY = re.compile(r"^to\[(\d+)\]$")


def _refused_recipients(exc: LineApiError, recipients: list[str]) -> set[str]:
    """The recipients a 400 names (`"property": "to[3]"`), if it names any."""
    if exc.status != 400:
        return set()
    bad: set[str] = set()
    for detail in exc.details:
        if not isinstance(detail, dict):
            continue
        match = _RECIPIENT_PROPERTY.match(str(detail.get("property", "")))
        if match and int(match.group(1)) < len(recipients):
            bad.add(recipients[int(match.group(1))])
    return bad


class Outbox:
    def __init__(self, line: LineClient) -> None:
        self.line = line

    async def enqueue(
        self,
        user_id: str,
        messages: list[dict[str, Any]],
        *,
        source: str,
        reply_token: str | None = None,
        reply_expires_at: Any = None,
        dedupe_key: str | None = None,
        claimed: bool = False,
    ) -> tuple[OutboxMessage, bool]:
        """Write a pending row (the outbox's retry pass sends it), or return the one an
        earlier attempt of the same work wrote; the flag says whether this call created it.

        With `claimed`, the row is born in `sending` for a caller that sends it right away
        (one query fewer on the hot path; the retry pass takes it over if this process dies).
        """
        if not 1 <= len(messages) <= MAX_MESSAGES_PER_REQUEST:
            raise ValueError("a LINE request carries 1 to 5 messages")
        now = clock.now()
        try:
            row = await OutboxMessage.create(
                dedupe_key=dedupe_key,
                user_id=user_id,
                kind="reply" if reply_token else "push",
                reply_token=reply_token,
                reply_expires_at=reply_expires_at,
                messages=json.dumps(messages, ensure_ascii=False),
                retry_key=uuid.uuid4(),
                status=Status.SENDING if claimed else Status.PENDING,
                attempts=1 if claimed else 0,
                source=source[:MAX_SOURCE],
                created_at=now,
                next_attempt_at=now + STALE_SENDING if claimed else now,
            )
        except IntegrityError:
            if dedupe_key is None:
                raise
            return await OutboxMessage.get(dedupe_key=dedupe_key), False
        return row, True

    async def send(
        self,
        user_id: str,
        messages: list[dict[str, Any]],
        *,
        source: str,
        reply_token: str | None = None,
        reply_expires_at: Any = None,
        dedupe_key: str | None = None,
    ) -> OutboxMessage:
        """Write the row and send it now. Work done before (same dedupe key) is not redone."""
        row, created = await self.enqueue(
            user_id,
            messages,
            source=source,
            reply_token=reply_token,
            reply_expires_at=reply_expires_at,
            dedupe_key=dedupe_key,
            claimed=True,
        )
        if created:
            await self._send_claimed(row)
        return row

    async def _claim(self, row: OutboxMessage, from_status: str = Status.PENDING) -> bool:
        claimed = await OutboxMessage.filter(id=row.id, status=from_status).update(
            status=Status.SENDING,
            attempts=F("attempts") + 1,
            next_attempt_at=clock.now() + STALE_SENDING,
        )
        if claimed == 1:
            row.status = Status.SENDING
            row.attempts += 1
            return True
        return False

    async def deliver(self, row: OutboxMessage, from_status: str = Status.PENDING) -> None:
        """Claim a stored row and send it (used by the retry pass)."""
        if not await self._claim(row, from_status):
            return
        await self._send_claimed(row)

    async def _send_claimed(
        self, row: OutboxMessage, sent: list[OutboxMessage] | None = None
    ) -> None:
        messages = json.loads(row.messages)
        reply_ok = (
            row.kind == "reply"
            and row.reply_token
            and (row.reply_expires_at is None or clock.now() < row.reply_expires_at)
        )
        try:
            if row.kind == "multicast":
                result = await self._multicast(row, messages)
            elif reply_ok:
                try:
                    result = await self.line.reply(str(row.reply_token), messages)
                except LineApiError as exc:
                    if exc.status != 400:
                        raise
                    log.info("reply refused (%s); sending as push instead", exc.message)
                    row.kind = "push"
                    result = await self.line.push(row.user_id, messages, str(row.retry_key))
            else:
                row.kind = "push"
                result = await self.line.push(row.user_id, messages, str(row.retry_key))
        except LineApiError as exc:
            await self._failed(row, exc)
            return
        row.status = Status.SENT
        row.http_status = result.status
        row.line_request_id = result.request_id
        row.sent_at = clock.now()
        row.error = None
        if sent is not None:
            sent.append(row)  # the caller records a whole batch in one statement
        else:
            await row.save(update_fields=list(SENT_FIELDS))

    async def _multicast(self, row: OutboxMessage, messages: list[dict[str, Any]]) -> SendResult:
        """LINE refuses a whole multicast for one malformed user id: set those recipients
        apart as failed (with LINE's reason) and send to the others."""
        recipients: list[str] = json.loads(row.recipients or "[]")
        while True:
            try:
                return await self.line.multicast(recipients, messages, str(row.retry_key))
            except LineApiError as exc:
                bad = _refused_recipients(exc, recipients)
                if not bad or len(bad) == len(recipients):
                    raise
                recipients = [user for user in recipients if user not in bad]
                await OutboxMessage.create(
                    dedupe_key=f"{row.dedupe_key or row.id}:refused:{len(recipients)}"[:191],
                    user_id="multicast",
                    kind="multicast",
                    recipients=json.dumps(sorted(bad)),
                    recipient_count=len(bad),
                    messages=row.messages,
                    retry_key=uuid.uuid4(),
                    status=Status.FAILED,
                    source=row.source,
                    attempts=row.attempts,
                    http_status=exc.status,
                    line_request_id=exc.request_id,
                    error=exc.describe(),
                    created_at=clock.now(),
                )
                row.recipients, row.recipient_count = json.dumps(recipients), len(recipients)
                await row.save(update_fields=["recipients", "recipient_count"])
                log.warning("LINE refused %s recipient(s) of outbox #%s: %s", len(bad), row.id,
                            exc.describe())  # fmt: skip

    async def _failed(self, row: OutboxMessage, exc: LineApiError) -> None:
        row.http_status = exc.status
        row.line_request_id = exc.request_id
        row.error = exc.describe()
        if exc.retryable and row.attempts < MAX_ATTEMPTS:
            row.status = Status.PENDING
            row.next_attempt_at = clock.now() + _backoff(row.attempts, exc.retry_after)
            log.warning(
                "LINE did not take outbox #%s (attempt %s), will retry: %s",
                row.id,
                row.attempts,
                row.error,
            )
        else:
            row.status = Status.FAILED
            log.error("LINE refused outbox #%s: %s", row.id, row.error)
        await row.save(
            update_fields=[
                "status",
                "kind",
                "http_status",
                "line_request_id",
                "error",
                "next_attempt_at",
            ]
        )

    async def retry_due(self, limit: int = 200) -> int:
        """Send rows whose retry time came, and recover rows a dead process left mid-send.

        A push left in `sending` is sent again with the same retry key (LINE answers 409 if it
        had been accepted). A reply left in `sending` cannot be checked, so it is marked failed
        rather than risking a second copy.
        """
        now = clock.now()
        stale = await OutboxMessage.filter(status=Status.SENDING, next_attempt_at__lt=now).limit(
            limit
        )
        for row in stale:
            if row.kind == "reply":
                await OutboxMessage.filter(id=row.id, status=Status.SENDING).update(
                    status=Status.FAILED, error="interrupted while replying (outcome unknown)"
                )
                continue
            await self.deliver(row, from_status=Status.SENDING)
        return len(stale) + await self.drain(limit=limit)

    async def enqueue_many(self, rows: list[dict[str, Any]], *, source: str) -> int:
        """Write many pending rows at once (a broadcast, a step due for thousands).

        Each dict has `messages` and either `user_id` or `recipients` (a multicast of up to
        500), and a `dedupe_key`: rows written before (the same work after a crash) are kept
        as they are, so nothing is queued twice. A row's own `source` (e.g. the step it
        delivers, for per-step failure counts) overrides the batch's.
        """
        now = clock.now()
        models = []
        for row in rows:
            recipients = row.get("recipients")
            models.append(
                OutboxMessage(
                    dedupe_key=row["dedupe_key"],
                    user_id=row.get("user_id") or "multicast",
                    kind="multicast" if recipients else "push",
                    recipients=json.dumps(recipients) if recipients else None,
                    recipient_count=len(recipients) if recipients else 1,
                    messages=json.dumps(row["messages"], ensure_ascii=False),
                    retry_key=uuid.uuid4(),
                    status=Status.PENDING,
                    source=(row.get("source") or source)[:MAX_SOURCE],
                    created_at=now,
                    next_attempt_at=row.get("not_before") or now,
                )
            )
        for start in range(0, len(models), 1000):
            await OutboxMessage.bulk_create(models[start : start + 1000], ignore_conflicts=True)
        return len(models)

    async def _claim_batch(self, limit: int) -> list[int]:
        """Take up to `limit` due pending rows for this process (SKIP LOCKED on PostgreSQL,
        so several processes share the work; one UPDATE … RETURNING on SQLite)."""
        conn = connections.get("default")
        now_value = OutboxMessage._meta.fields_map["next_attempt_at"].to_db_value(
            clock.now(), OutboxMessage
        )
        lease = OutboxMessage._meta.fields_map["next_attempt_at"].to_db_value(
            clock.now() + STALE_SENDING, OutboxMessage
        )
        if conn.capabilities.dialect == "postgres":
            sql = (
                "UPDATE outbox_messages SET status = 'sending', attempts = attempts + 1, "
                "next_attempt_at = $1 WHERE id IN (SELECT id FROM outbox_messages "
                "WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY id LIMIT $3 "
                "FOR UPDATE SKIP LOCKED) RETURNING id"
            )
        else:
            sql = (
                "UPDATE outbox_messages SET status = 'sending', attempts = attempts + 1, "
                "next_attempt_at = ? WHERE id IN (SELECT id FROM outbox_messages "
                "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?) "
                "RETURNING id"
            )
        rows = await conn.execute_query_dict(sql, [lease, now_value, limit])
        return sorted(int(r["id"]) for r in rows)

    async def drain(self, *, limit: int = 5000, concurrency: int = DRAIN_CONCURRENCY) -> int:
        """Send due pending rows, many at once (each endpoint's rate limit still applies).

        A claimer keeps a queue of claimed rows filled while `concurrency` senders work
        through it, so the next batch is ready before the last one finishes; sent rows are
        recorded a batch per statement. If this process dies first, its rows stay `sending`
        until their lease ends and are sent again with the same retry keys: LINE answers 409.
        """
        first = await self._claim_batch(min(CLAIM_BATCH, limit))
        if not first:
            return 0  # the common case after an event: nothing waiting
        queue: asyncio.Queue[OutboxMessage | None] = asyncio.Queue(maxsize=CLAIM_BATCH)
        sent: list[OutboxMessage] = []
        claimed = len(first)

        async def record_sent() -> None:
            nonlocal sent
            if sent:
                batch, sent = sent, []
                await OutboxMessage.bulk_update(batch, fields=list(SENT_FIELDS))

        async def claim() -> None:
            nonlocal claimed
            ids = first
            while ids:
                for row in await OutboxMessage.filter(id__in=ids).order_by("id"):
                    await queue.put(row)
                if claimed >= limit:
                    break
                ids = await self._claim_batch(min(CLAIM_BATCH, limit - claimed))
                claimed += len(ids)

        async def send() -> None:
            while (row := await queue.get()) is not None:
                try:
                    await self._send_claimed(row, sent)
                except Exception:
                    # Left `sending`: its lease ends and the retry pass sends it again.
                    log.exception("sending outbox #%s failed unexpectedly", row.id)
                if len(sent) >= CLAIM_BATCH:
                    await record_sent()

        senders = [asyncio.create_task(send()) for _ in range(concurrency)]
        try:
            await claim()
            for _ in senders:
                await queue.put(None)
            await asyncio.gather(*senders)
        finally:
            # On an error or shutdown, sends in flight stop; their rows stay `sending`.
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
            await record_sent()
        return claimed

    async def billable_by_day(self, start: datetime, end: datetime, zone: Any) -> dict[str, int]:
        """Messages LINE charges for, per local day: one per push, one per multicast
        recipient (replies are free)."""
        rows = await OutboxMessage.filter(
            status=Status.SENT,
            kind__in=["push", "multicast"],
            sent_at__gte=start,
            sent_at__lt=end,
        ).values_list("sent_at", "recipient_count")
        counts: dict[str, int] = {}
        for sent_at, count in rows:
            day = sent_at.astimezone(zone).date().isoformat()
            counts[day] = counts.get(day, 0) + int(count)
        return counts

    async def cancel_pending(self, user_id: str) -> int:
        """Drop what has not gone out yet to someone who blocked the account."""
        return await OutboxMessage.filter(user_id=user_id, status=Status.PENDING).update(
            status=Status.CANCELLED, error="friend blocked the account"
        )
