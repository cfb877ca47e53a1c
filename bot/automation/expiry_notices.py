"""Points-expiry notices (`points.expiry_notice`): before points expire, the friend is told
how many and when.

Each earning is told once (`PointEntry.expiry_notified_at`), at `at` on the local day
`before` ahead of its expiry day, or at the first tick after that while it has not expired
(after downtime). A friend's earnings that fall due together go in one message. One query
picks only the earnings due (never a loop over friends); per batch of friends, the outbox
rows and the marks are written in one transaction, so a crash neither loses nor doubles a
notice, and the outbox then sends.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from bot import clock
from bot.automation.outbox import Outbox
from bot.automation.personalize import mentions_fields, template_context
from bot.crm.points import expiry_notice_threshold
from bot.crm.service import Crm
from bot.db.models import Friend, PointEntry
from bot.scenario import Scenario, render_messages
from bot.scenario.crm import ExpiryNotice

log = logging.getLogger(__name__)

SOURCE = "points-expiry"
FRIEND_BATCH = 500
#: More friends than this in one tick wait for the next tick (5 s later), so other
#: periodic work is not held up by a backlog.
MAX_FRIENDS_PER_TICK = 20_000


class ExpiryNotices:
    def __init__(self, scenario: Scenario, crm: Crm, outbox: Outbox) -> None:
        self.notice: ExpiryNotice | None = scenario.points.expiry_notice
        self.zone = scenario.zone
        self.crm = crm
        self.outbox = outbox

    async def tick(self) -> int:
        """Queue and send every notice due now; returns how many friends were told."""
        notice = self.notice
        if notice is None:
            return 0
        now = clock.now()
        threshold = expiry_notice_threshold(
            now, before_days=notice.days, at=notice.time_of_day, zone=self.zone
        )
        told = 0
        for _ in range(MAX_FRIENDS_PER_TICK // FRIEND_BATCH):
            friend_ids = await self.crm.points.friends_with_notice_due(
                now, threshold, limit=FRIEND_BATCH
            )
            if not friend_ids:
                break
            told += await self._notify(notice, friend_ids, now, threshold)
            if len(friend_ids) < FRIEND_BATCH:
                break
        if told:
            log.info("points-expiry notices queued for %s friends", told)
            await self.outbox.drain()
        return told

    async def _notify(
        self, notice: ExpiryNotice, friend_ids: list[int], now: datetime, threshold: datetime
    ) -> int:
        """One batch: outbox rows and marks together, or neither. Blocked friends get no
        message, but their earnings are marked so they are not told late after unblocking."""
        points = self.crm.points
        async with in_transaction():
            entries = await points.lock_notice_due(friend_ids, now, threshold)
            by_friend: dict[int, list[PointEntry]] = defaultdict(list)
            for entry in entries:
                by_friend[entry.friend_id].append(entry)
            friends = {f.id: f for f in await Friend.filter(id__in=list(by_friend))}
            fields: dict[int, dict[str, Any]] = {}
            if mentions_fields(notice.messages):
                fields = await self.crm.fields.get_many(list(friends))
            rows: list[dict[str, Any]] = []
            for friend_id, due in by_friend.items():
                friend = friends.get(friend_id)
                if friend is None or friend.blocked:
                    continue
                context = template_context(
                    friend,
                    self.zone,
                    fields=fields.get(friend_id),
                    now=now,
                    extra={"expiring": self._expiring(due)},
                )
                rendered = render_messages(notice.messages, context)
                if rendered:
                    first = min(entry.id for entry in due)
                    rows.append(
                        {
                            "user_id": friend.line_user_id,
                            "messages": rendered,
                            "dedupe_key": f"{SOURCE}:{friend_id}:{first}",
                        }
                    )
            if rows:
                await self.outbox.enqueue_many(rows, source=SOURCE)
            await points.mark_notified([entry.id for entry in entries], now)
        return len(rows)

    def _expiring(self, due: list[PointEntry]) -> dict[str, Any]:
        """`expiring.…` for the templates: how many points, and the local expiry days."""
        days = sorted(
            entry.expires_at.astimezone(self.zone).date() for entry in due if entry.expires_at
        )
        return {
            "points": sum(entry.remaining for entry in due),
            "date": days[0],
            "last_date": days[-1],
        }
