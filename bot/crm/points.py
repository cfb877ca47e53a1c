"""The points ledger: every change is an entry, the balance is cached on the friend.

Earnings remember what is left of them (`remaining`); spending consumes the entries that
expire first, so when an earning expires exactly its unspent part goes. A once-key makes an
award idempotent per friend (unique in the database, so two fast taps cannot both win).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from bot import clock
from bot.crm.events import EventBus, PointsChanged
from bot.db.models import Friend, PointEntry


def expiry_notice_threshold(
    now: datetime, *, before_days: int, at: time, zone: ZoneInfo
) -> datetime:
    """Earnings expiring before this moment (UTC) are due for their expiry notice `now`.

    A notice belongs at `at` on the local day `before_days` ahead of the expiry day. Once
    today's `at` has passed, that covers expiry days up to today + `before_days`; before it,
    up to the day before. Earlier expiry days whose notice time passed unseen (downtime) are
    due too. One moment keeps the query a plain comparison in SQL.
    """
    local = now.astimezone(zone)
    days = before_days + (1 if local.time() >= at else 0)
    midnight = datetime.combine(local.date() + timedelta(days=days), time(0), tzinfo=zone)
    # UTC: SQLite compares stored times as text, so one offset for every row.
    return midnight.astimezone(UTC)


class PointsRefused(ValueError):
    """The change would take the balance below zero; nothing was stored."""


@dataclass(frozen=True)
class PointsResult:
    applied: bool
    balance: int
    already: bool = False  # the once-key had been used: nothing changed


class PointService:
    def __init__(
        self, bus: EventBus, *, lifetime: timedelta | None = None, allow_negative: bool = False
    ) -> None:
        self.bus = bus
        self.lifetime = lifetime
        self.allow_negative = allow_negative

    async def balance(self, friend_id: int) -> int:
        friend = await Friend.get_or_none(id=friend_id).only("id", "points")
        return friend.points if friend else 0

    async def add(
        self,
        friend_id: int,
        amount: int,
        *,
        reason: str = "",
        source: str,
        actor: str | None = None,
        once: str | None = None,
    ) -> PointsResult:
        if amount <= 0:
            raise ValueError("amount must be positive")
        now = clock.now()
        try:
            async with in_transaction():
                await PointEntry.create(
                    friend_id=friend_id,
                    kind="earn",
                    delta=amount,
                    remaining=amount,
                    reason=reason,
                    source=source,
                    actor=actor,
                    once_key=once,
                    created_at=now,
                    expires_at=now + self.lifetime if self.lifetime else None,
                )
                await Friend.filter(id=friend_id).update(points=F("points") + amount)
        except IntegrityError:
            if once is None:
                raise
            return PointsResult(False, await self.balance(friend_id), already=True)
        after = await self.balance(friend_id)
        await self.bus.publish(
            PointsChanged(
                friend_id, source, actor, before=after - amount, after=after, reason=reason
            )
        )
        return PointsResult(True, after)

    async def remove(
        self,
        friend_id: int,
        amount: int,
        *,
        reason: str = "",
        source: str,
        actor: str | None = None,
        once: str | None = None,
    ) -> PointsResult:
        if amount <= 0:
            raise ValueError("amount must be positive")
        try:
            async with in_transaction() as conn:
                friend = await Friend.filter(id=friend_id).select_for_update().using_db(conn).get()
                before = friend.points
                if before - amount < 0 and not self.allow_negative:
                    raise PointsRefused(f"ポイントが足りません(残高 {before}、必要 {amount})")
                await PointEntry.create(
                    friend_id=friend_id,
                    kind="spend",
                    delta=-amount,
                    reason=reason,
                    source=source,
                    actor=actor,
                    once_key=once,
                    created_at=clock.now(),
                    using_db=conn,
                )
                await self._consume(friend_id, amount, conn)
                await Friend.filter(id=friend_id).using_db(conn).update(points=F("points") - amount)
        except IntegrityError:
            if once is None:
                raise
            return PointsResult(False, await self.balance(friend_id), already=True)
        await self.bus.publish(
            PointsChanged(
                friend_id, source, actor, before=before, after=before - amount, reason=reason
            )
        )
        return PointsResult(True, before - amount)

    @staticmethod
    async def _consume(friend_id: int, amount: int, conn: BaseDBAsyncClient) -> None:
        """Take `amount` from the earnings that expire first (never-expiring ones last)."""
        earnings = (
            await PointEntry.filter(friend_id=friend_id, kind="earn", remaining__gt=0)
            .using_db(conn)
            .order_by("expires_at", "created_at", "id")
        )
        earnings.sort(key=lambda e: (e.expires_at is None, e.expires_at or e.created_at, e.id))
        left = amount
        for entry in earnings:
            if left <= 0:
                break
            take = min(entry.remaining, left)
            left -= take
            await (
                PointEntry.filter(id=entry.id)
                .using_db(conn)
                .update(remaining=entry.remaining - take)
            )

    async def expire_due(self, limit: int = 5000) -> int:
        """Expire what is left of earnings whose time has come; one ledger entry each."""
        now = clock.now()
        due = (
            await PointEntry.filter(kind="earn", remaining__gt=0, expires_at__lte=now)
            .order_by("expires_at")
            .limit(limit)
        )
        for entry in due:
            async with in_transaction() as conn:
                taken = (
                    await PointEntry.filter(id=entry.id, remaining=entry.remaining)
                    .using_db(conn)
                    .update(remaining=0)
                )
                if not taken:
                    continue
                await PointEntry.create(
                    friend_id=entry.friend_id,
                    kind="expire",
                    delta=-entry.remaining,
                    reason=f"有効期限切れ(#{entry.id})",
                    source="expiry",
                    created_at=now,
                    using_db=conn,
                )
                await (
                    Friend.filter(id=entry.friend_id)
                    .using_db(conn)
                    .update(points=F("points") - entry.remaining)
                )
            after = await self.balance(entry.friend_id)
            await self.bus.publish(
                PointsChanged(
                    entry.friend_id,
                    "expiry",
                    None,
                    before=after + entry.remaining,
                    after=after,
                    reason="expired",
                )
            )
        return len(due)

    @staticmethod
    def _notice_due(now: datetime, threshold: datetime) -> QuerySet[PointEntry]:
        """Earnings with points left whose expiry notice is due and not given yet."""
        return PointEntry.filter(
            kind="earn",
            remaining__gt=0,
            expiry_notified_at__isnull=True,
            # UTC: SQLite compares stored times as text, so one offset for every row.
            expires_at__gt=now.astimezone(UTC),
            expires_at__lt=threshold.astimezone(UTC),
        )

    async def friends_with_notice_due(
        self, now: datetime, threshold: datetime, *, limit: int
    ) -> list[int]:
        """Up to `limit` friends (lowest ids first) with earnings due for an expiry notice."""
        rows = (
            await self._notice_due(now, threshold)
            .distinct()
            .order_by("friend_id")
            .limit(limit)
            .values("friend_id")
        )
        return [int(row["friend_id"]) for row in rows]

    async def lock_notice_due(
        self, friend_ids: list[int], now: datetime, threshold: datetime
    ) -> list[PointEntry]:
        """These friends' earnings due for an expiry notice, locked until the transaction
        ends (call inside one): another process waits, then finds them marked."""
        return (
            await self._notice_due(now, threshold)
            .filter(friend_id__in=friend_ids)
            .select_for_update()
            .order_by("id")
        )

    async def mark_notified(self, entry_ids: list[int], now: datetime) -> None:
        """Remember that these earnings' expiry was told, so it never is again."""
        if entry_ids:
            await PointEntry.filter(id__in=entry_ids).update(expiry_notified_at=now)
