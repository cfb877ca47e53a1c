"""Broadcasts admins compose in chat: stored as `chat_broadcasts` rows, sent by the
broadcast machinery as the run `chat:<id>`, and followed until the last recipient is done,
with progress messages and a final report to the admin who sent it.

Everything is in the database, so several processes share the work: a row is started by
whoever claims it (`scheduled → sending`), the run is unique per name, and every message to
the admin carries a dedupe key, so nothing is sent twice.

Quiet hours (`delivery.quiet_hours`) do not apply: an admin who sends now, or picks a time,
has chosen when it goes out. `delivery.max_delay` does: a scheduled broadcast found far
overdue (the server was down) is not sent, and the admin is told.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from tortoise.exceptions import IntegrityError

from bot import clock
from bot.automation.broadcasts import (
    PREPARING,
    SKIPPED,
    Broadcaster,
    chat_broadcast,
    chat_run_name,
    experiment_key,
)
from bot.automation.outbox import Outbox, Status
from bot.clock import parse_duration
from bot.crm.segments import SegmentError
from bot.crm.service import Crm
from bot.db.models import BroadcastRun, ChatBroadcast, Friend, OutboxMessage
from bot.scenario import Scenario
from bot.scenario.broadcasts import Broadcast
from bot.scenario.errors import issues_from_validation_error
from bot.scenario.segment import validate_condition

log = logging.getLogger(__name__)

SCHEDULED = "scheduled"
SENDING = "sending"
DONE = "done"
CANCELLED = "cancelled"
NOT_SENT = "skipped"

FIRST_DRAIN_ROWS = 40
"""Requests sent at once when a broadcast starts (40 multicasts: 20,000 friends); the
outbox's retry pass sends the rest tick by tick, while progress is reported."""
MAX_REASONS = 5
MAX_REASON_CHARS = 200
_REQUEST_ID = re.compile(r"\s*\(request id [^)]*\)")
_WEEKDAYS = "月火水木金土日"


class ChatBroadcastError(ValueError):
    """The audience or the messages cannot be sent (the text says what is wrong)."""


def outbox_source(broadcast_id: int) -> str:
    """The source `Broadcaster` writes on the broadcast's outbox rows."""
    return experiment_key(chat_run_name(broadcast_id))


def report_source(broadcast_id: int) -> str:
    """The source of the messages to the admin about the broadcast."""
    return f"admin:chat_broadcast:{broadcast_id}"


@dataclass(frozen=True)
class Progress:
    """How far a broadcast has got, in recipients (a multicast counts each of them)."""

    total: int
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    pending: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    """LINE's reason (request ids left out, so equal reasons add up) → recipients."""

    @property
    def percent(self) -> int:
        """Recipients LINE accepted, in whole percent (rounded down: 100 only when all)."""
        return self.sent * 100 // self.total if self.total else 100


def _reason(error: str | None) -> str:
    text = _REQUEST_ID.sub("", error or "理由不明").strip()
    return text[:MAX_REASON_CHARS]


def _audience_condition(audience: dict[str, Any] | None) -> Any:
    """Who would receive it: friends who follow and, if given, match the audience."""
    parts: list[Any] = [{"blocked": False}]
    if audience is not None:
        parts.append(audience)
    return validate_condition({"all": parts})


def _text(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}]


class ChatBroadcasts:
    def __init__(
        self, scenario: Scenario, crm: Crm, outbox: Outbox, broadcaster: Broadcaster
    ) -> None:
        self.scenario = scenario
        self.crm = crm
        self.outbox = outbox
        self.broadcaster = broadcaster
        self.progress_every = parse_duration(scenario.admin.progress_every)

    # --- for the admin's commands ---------------------------------------------------------

    def _check(
        self, audience: dict[str, Any] | None, messages: list[dict[str, Any]], at: datetime
    ) -> None:
        """The same checks a broadcast in the scenario file passes, and a known segment."""
        try:
            Broadcast.model_validate({"to": audience, "at": at, "messages": messages})
        except ValidationError as exc:
            issues = issues_from_validation_error(exc, "配信", Broadcast)
            raise ChatBroadcastError("\n".join(str(issue) for issue in issues)) from None
        try:
            self.crm.segments.compile(_audience_condition(audience))
        except SegmentError as exc:
            raise ChatBroadcastError(str(exc)) from None

    async def count(self, audience: dict[str, Any] | None) -> int:
        """How many friends would receive it now: they follow and match `audience`."""
        try:
            return await self.crm.segments.count(_audience_condition(audience))
        except (ValidationError, SegmentError) as exc:
            raise ChatBroadcastError(str(exc)) from None

    async def create(
        self,
        admin_user_id: str,
        audience: dict[str, Any] | None,
        label: str,
        messages: list[dict[str, Any]],
        send_at: datetime | None,
    ) -> ChatBroadcast:
        """Store a broadcast: `audience` a segment condition (None: everyone who follows),
        `messages` 1 to 5 LINE message objects, `send_at` None for now (a time without a
        zone is the scenario's local time). One that is due starts here and now; progress
        and the report reach the admin from the ticks. Raises ChatBroadcastError."""
        now = clock.now()
        when = now if send_at is None else send_at
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.scenario.zone)
        when = when.astimezone(UTC)
        self._check(audience, messages, when)
        row = await ChatBroadcast.create(
            admin_user_id=admin_user_id,
            audience=audience,
            audience_label=label[:300],
            messages=messages,
            status=SCHEDULED,
            send_at=when,
            created_at=now,
        )
        if when <= now:
            await self._start(row)
        return row

    async def cancel(self, broadcast_id: int) -> bool:
        """Cancel a broadcast that has not started; False if it started, ended or is unknown."""
        cancelled = await ChatBroadcast.filter(id=broadcast_id, status=SCHEDULED).update(
            status=CANCELLED, finished_at=clock.now()
        )
        return cancelled == 1

    async def scheduled(self) -> list[ChatBroadcast]:
        """Broadcasts waiting for their time, soonest first."""
        return await ChatBroadcast.filter(status=SCHEDULED).order_by("send_at", "id")

    # --- sending ----------------------------------------------------------------------------

    async def tick(self) -> None:
        """Start what is due, then follow every broadcast being sent: progress messages
        while recipients are pending, the final report once none are."""
        now = clock.now()
        for row in await ChatBroadcast.filter(status=SCHEDULED, send_at__lte=now).order_by(
            "send_at", "id"
        ):
            await self._start(row)
        for row in await ChatBroadcast.filter(status=SENDING).order_by("id"):
            await self._follow(row, clock.now())

    async def _start(self, row: ChatBroadcast) -> None:
        """Claim the row (so a cancel or another process cannot also act on it), queue its
        messages and send the first requests."""
        claimed = await ChatBroadcast.filter(id=row.id, status=SCHEDULED).update(status=SENDING)
        if not claimed:
            return
        row.status = SENDING
        await self._queue(row)
        await self.outbox.drain(limit=FIRST_DRAIN_ROWS)

    async def _queue(self, row: ChatBroadcast) -> None:
        """Queue the run `chat:<id>` (once: the run's name is unique). A row that cannot be
        sent any more (e.g. its segment left the scenario) gets a skipped run, reported."""
        name = chat_run_name(row.id)
        try:
            broadcast = chat_broadcast(row)
        except ValidationError as exc:
            await self._record_not_sent(row, f"invalid: {exc.error_count()} problem(s)")
            return
        try:
            run = await self.broadcaster.queue(name, broadcast, row.send_at)
        except SegmentError as exc:
            await BroadcastRun.filter(name=name, status=PREPARING).update(
                status=SKIPPED, reason=str(exc)[:100]
            )
            return
        if run is not None:
            row.recipients = run.recipients
            await ChatBroadcast.filter(id=row.id).update(recipients=run.recipients)

    async def _record_not_sent(self, row: ChatBroadcast, reason: str) -> None:
        with contextlib.suppress(IntegrityError):  # another process queued or skipped it
            await BroadcastRun.create(
                name=chat_run_name(row.id),
                occurrence=row.send_at,
                status=SKIPPED,
                reason=reason[:100],
                created_at=clock.now(),
            )

    async def _follow(self, row: ChatBroadcast, now: datetime) -> None:
        run = await BroadcastRun.filter(name=chat_run_name(row.id)).order_by("id").first()
        if run is None:  # claimed by a process that stopped before queueing it
            await self._queue(row)
            return
        if run.status == PREPARING:  # being prepared (Broadcaster resumes a dead process's)
            return
        if run.status == SKIPPED:
            await self._finish(row, NOT_SENT, self._not_sent_text(row, run.reason))
            return
        progress = await self.progress(row.id, run.recipients)
        if progress.pending:
            await self._report_progress(row, progress, now)
            return
        blocked = await self._blocked_since(row.id, run.created_at)
        await self._finish(row, DONE, self._final_text(row, progress, blocked))

    async def progress(self, broadcast_id: int, total: int) -> Progress:
        """Recipients sent, failed (with LINE's reasons), cancelled and still pending."""
        counts = {Status.SENT: 0, Status.FAILED: 0, Status.CANCELLED: 0}
        pending = 0
        failures: dict[str, int] = {}
        for status, recipients, error in await OutboxMessage.filter(
            source=outbox_source(broadcast_id)
        ).values_list("status", "recipient_count", "error"):
            if status in counts:
                counts[status] += int(recipients)
            else:
                pending += int(recipients)
            if status == Status.FAILED:
                reason = _reason(error)
                failures[reason] = failures.get(reason, 0) + int(recipients)
        return Progress(
            total=total,
            sent=counts[Status.SENT],
            failed=counts[Status.FAILED],
            cancelled=counts[Status.CANCELLED],
            pending=pending,
            failures=failures,
        )

    async def _blocked_since(self, broadcast_id: int, queued_at: datetime) -> int:
        """Recipients LINE accepted who had blocked the account by then (a multicast is
        accepted for them, but nothing reaches them)."""
        gone = set(
            await Friend.filter(blocked=True, unfollowed_at__gte=queued_at).values_list(
                "line_user_id", flat=True
            )
        )
        if not gone:
            return 0
        blocked = 0
        for kind, user_id, recipients in await OutboxMessage.filter(
            source=outbox_source(broadcast_id), status=Status.SENT
        ).values_list("kind", "user_id", "recipients"):
            users = json.loads(recipients) if kind == "multicast" and recipients else [user_id]
            blocked += sum(1 for user in users if user in gone)
        return blocked

    async def _report_progress(self, row: ChatBroadcast, progress: Progress, now: datetime) -> None:
        """At most every `admin.progress_every`, and only when the percentage moved."""
        if row.reported_at is not None and now - row.reported_at < self.progress_every:
            return
        percent = progress.percent
        if percent <= row.reported_percent:
            return
        text = f"{self._title(row)}\n配信中… {percent}% ({progress.sent:,} / {progress.total:,}人)"
        await self.outbox.send(
            row.admin_user_id,
            _text(text),
            source=report_source(row.id),
            dedupe_key=f"chatbc:{row.id}:progress:{percent}",
        )
        await ChatBroadcast.filter(id=row.id, reported_percent__lt=percent).update(
            reported_percent=percent, reported_at=now
        )

    async def _finish(self, row: ChatBroadcast, status: str, text: str) -> None:
        """Tell the admin (once, whichever process gets here), then close the row."""
        await self.outbox.send(
            row.admin_user_id,
            _text(text),
            source=report_source(row.id),
            dedupe_key=f"chatbc:{row.id}:final",
        )
        now = clock.now()
        await ChatBroadcast.filter(id=row.id, status=SENDING).update(
            status=status, finished_at=now, reported_at=now
        )

    # --- what the admin reads ---------------------------------------------------------------

    def _title(self, row: ChatBroadcast) -> str:
        return f"配信 #{row.id}「{row.audience_label or '全員'}」"

    def _local(self, when: datetime) -> str:
        local = when.astimezone(self.scenario.zone)
        return f"{local:%m月%d日}({_WEEKDAYS[local.weekday()]}) {local:%H:%M}"

    def _not_sent_text(self, row: ChatBroadcast, reason: str | None) -> str:
        if reason == "too old":
            why = f"予定時刻({self._local(row.send_at)})を大きく過ぎていたため"
        elif reason == "removed" or (reason or "").startswith("invalid"):
            why = "メッセージの内容を LINE が受け付けない形になっていたため"
        else:
            why = f"配信先を決められなかったため({reason or '理由不明'})"
        return f"{self._title(row)}\n{why}、送信しませんでした。"

    def _final_text(self, row: ChatBroadcast, progress: Progress, blocked: int) -> str:
        if progress.total == 0:
            return (
                f"{self._title(row)}\n配信先に当てはまる友だちがいなかったため、"
                "送信しませんでした(0人)。"
            )
        lines = [
            f"{self._title(row)} の配信が終わりました。",
            f"送信 {progress.sent - blocked:,}人",
            f"失敗 {progress.failed:,}人",
        ]
        reasons = sorted(progress.failures.items(), key=lambda item: -item[1])
        lines += [f"・{reason}: {count:,}人" for reason, count in reasons[:MAX_REASONS]]
        if len(reasons) > MAX_REASONS:
            lines.append(f"・ほか{len(reasons) - MAX_REASONS}種類の理由")
        lines.append(f"対象外 {progress.cancelled + blocked:,}人(配信までにブロックされたなど)")
        return "\n".join(lines)
