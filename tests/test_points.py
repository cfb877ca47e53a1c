"""The points ledger: once-keys, no negative balance, oldest-expiring spent first, expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot import clock
from bot.crm.events import DomainEvent, EventBus, PointsChanged
from bot.crm.points import PointService, PointsRefused
from bot.db.models import Friend, PointEntry
from bot.db.runtime import close_database, open_database


@pytest.fixture
async def friend_id(database_url: str) -> AsyncIterator[int]:
    ctx = await open_database(database_url)
    try:
        now = clock.now()
        friend = await Friend.create(line_user_id="U" + "1" * 32, created_at=now, updated_at=now)
        yield friend.id
    finally:
        await close_database(ctx)


def ledger(events: list[DomainEvent]) -> PointService:
    bus = EventBus()

    async def record(event: DomainEvent) -> None:
        events.append(event)

    bus.subscribe(record)
    return PointService(bus, lifetime=timedelta(days=365))


async def test_once_key_adds_once_even_when_tapped_together(friend_id: int) -> None:
    events: list[DomainEvent] = []
    points = ledger(events)
    results = await asyncio.gather(
        *(points.add(friend_id, 100, source="postback", once="bonus") for _ in range(5))
    )
    assert sum(r.applied for r in results) == 1
    assert sum(r.already for r in results) == 4
    assert await points.balance(friend_id) == 100
    assert [e.after for e in events if isinstance(e, PointsChanged)] == [100]


async def test_balance_never_goes_negative(friend_id: int) -> None:
    points = ledger([])
    await points.add(friend_id, 50, source="admin")
    with pytest.raises(PointsRefused, match="ポイントが足りません"):
        await points.remove(friend_id, 80, source="admin")
    assert await points.balance(friend_id) == 50
    assert await PointEntry.filter(friend_id=friend_id).count() == 1
    negative = PointService(EventBus(), allow_negative=True)
    result = await negative.remove(friend_id, 80, source="admin")
    assert result.balance == -30


async def test_spending_takes_the_oldest_points_and_expiry_takes_the_rest(
    friend_id: int,
) -> None:
    events: list[DomainEvent] = []
    points = ledger(events)
    await points.add(friend_id, 100, reason="4月", source="admin")
    clock.clock.advance(timedelta(days=100))
    await points.add(friend_id, 100, reason="7月", source="admin")
    await points.remove(friend_id, 130, reason="交換", source="admin")
    remaining = dict(
        await PointEntry.filter(friend_id=friend_id, kind="earn").values_list("reason", "remaining")
    )
    assert remaining == {"4月": 0, "7月": 70}
    clock.clock.advance(timedelta(days=266))  # the first earning expires: nothing left of it
    assert await points.expire_due() == 0
    clock.clock.advance(timedelta(days=100))  # the second: its 70 unspent points go
    assert await points.expire_due() == 1
    assert await points.balance(friend_id) == 0
    expiry = await PointEntry.get(friend_id=friend_id, kind="expire")
    assert expiry.delta == -70
    assert events[-1] == PointsChanged(
        friend_id, "expiry", None, before=70, after=0, reason="expired"
    )
