"""The points ledger: once-keys, no negative balance, oldest-expiring spent first, expiry,
and which earnings are due for an expiry notice."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from tortoise.transactions import in_transaction

from bot import clock
from bot.crm.events import DomainEvent, EventBus, PointsChanged
from bot.crm.points import PointService, PointsRefused, expiry_notice_threshold
from bot.db.models import Friend, PointEntry
from bot.db.runtime import close_database, open_database
from bot.scenario import ScenarioError, parse_scenario
from tests.dsl import start_at


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


# --- expiry notices: which earnings are due, and the scenario key ------------------------

TOKYO = ZoneInfo("Asia/Tokyo")


def threshold_at(local: str, before_days: int = 7, at: time = time(10, 0)) -> datetime:
    return expiry_notice_threshold(
        datetime.fromisoformat(local), before_days=before_days, at=at, zone=TOKYO
    )


def test_notice_threshold_moves_a_day_ahead_at_the_notice_time() -> None:
    # before 10:00 only expiry days up to 6 days ahead are due; from 10:00, 7 days ahead too
    assert threshold_at("2028-01-13T09:59:59+09:00") == datetime(2028, 1, 20, tzinfo=TOKYO)
    assert threshold_at("2028-01-13T10:00:00+09:00") == datetime(2028, 1, 21, tzinfo=TOKYO)
    assert threshold_at("2028-01-13T23:59:00+09:00") == datetime(2028, 1, 21, tzinfo=TOKYO)
    assert threshold_at("2028-01-14T00:00:00+09:00") == datetime(2028, 1, 21, tzinfo=TOKYO)
    # the local day and time count, whatever offset `now` is given in (00:30 UTC is 09:30 JST)
    assert threshold_at("2028-01-13T00:30:00+00:00") == datetime(2028, 1, 20, tzinfo=TOKYO)
    assert threshold_at("2028-01-13T01:00:00+00:00") == datetime(2028, 1, 21, tzinfo=TOKYO)
    assert threshold_at("2028-01-13T09:00:00+09:00", 1, time(8, 30)) == datetime(
        2028, 1, 15, tzinfo=TOKYO
    )
    # UTC, as every stored time (SQLite compares them as text)
    assert threshold_at("2028-01-13T10:00:00+09:00").utcoffset() == timedelta()


async def due_amounts(points: PointService, friend_id: int, local: str) -> list[int]:
    now = datetime.fromisoformat(local)
    threshold = threshold_at(local)
    friends = await points.friends_with_notice_due(now, threshold, limit=10)
    async with in_transaction():
        entries = await points.lock_notice_due([friend_id], now, threshold)
    assert friends == ([friend_id] if entries else [])
    return [entry.remaining for entry in entries]


async def test_earnings_fall_due_on_their_notice_day_until_told_or_expired(
    friend_id: int,
) -> None:
    points = ledger([])
    start_at("2027-01-20T15:00:00+09:00")
    await points.add(friend_id, 100, reason="1月20日", source="admin")  # expires 2028-01-20 15:00
    start_at("2027-01-21T09:00:00+09:00")
    await points.add(friend_id, 30, reason="1月21日", source="admin")  # expires 2028-01-21 09:00
    await points.add(friend_id, 50, reason="使う分", source="admin")  # expires 2028-01-21 09:00
    await points.remove(friend_id, 100, reason="交換", source="admin")  # the first 100 go

    assert await due_amounts(points, friend_id, "2028-01-12T10:00:00+09:00") == []
    assert await due_amounts(points, friend_id, "2028-01-13T09:59:00+09:00") == []
    assert await due_amounts(points, friend_id, "2028-01-13T10:00:00+09:00") == []  # spent
    assert await due_amounts(points, friend_id, "2028-01-14T09:59:00+09:00") == []
    assert await due_amounts(points, friend_id, "2028-01-14T10:00:00+09:00") == [30, 50]
    # missed (downtime): still due later, as long as the points have not expired
    assert await due_amounts(points, friend_id, "2028-01-21T08:59:00+09:00") == [30, 50]
    assert await due_amounts(points, friend_id, "2028-01-21T09:01:00+09:00") == []

    entries = await points.lock_notice_due(
        [friend_id],
        datetime.fromisoformat("2028-01-14T10:00:00+09:00"),
        threshold_at("2028-01-14T10:00:00+09:00"),
    )
    await points.mark_notified([entries[0].id], clock.now())
    assert await due_amounts(points, friend_id, "2028-01-14T10:00:00+09:00") == [50]


SETTINGS = "version: 1\npoints:\n"


def settings_problems(points: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(SETTINGS + textwrap.indent(textwrap.dedent(points), "  "), "club.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_expiry_notice_settings_load_with_their_defaults() -> None:
    scenario = parse_scenario(
        SETTINGS
        + "  expires_after: 365d\n"
        + "  expiry_notice: {before: 1w, messages: ['{{ expiring.points }}pt']}\n",
        "club.yaml",
    )
    notice = scenario.points.expiry_notice
    assert notice is not None
    assert (notice.days, notice.time_of_day) == (7, time(10, 0))


def test_expiry_notice_settings_errors_name_the_path() -> None:
    assert settings_problems(
        """
        expiry_notice: {before: 7d, messages: [x]}
        """
    ) == [
        "club.yaml: points.expiry_notice: needs points.expires_after (e.g. expires_after: "
        "365d): without it points never expire"
    ]
    assert settings_problems(
        """
        expires_after: 365d
        expiry_notice: {before: 36h, at: "25:00", messages: [x]}
        """
    ) == [
        "club.yaml: points.expiry_notice.before: must be a whole number of days such as 7d "
        "(found '36h')",
        'club.yaml: points.expiry_notice.at: must be a time of day such as "10:00"',
    ]
    assert settings_problems(
        """
        expires_after: 365d
        expiry_notice: {before: 7, messages: [x]}
        """
    ) == [
        "club.yaml: points.expiry_notice.before: must be a number of days such as 7d "
        "(found a number)"
    ]
    assert settings_problems(
        """
        expires_after: 7d
        expiry_notice: {before: 7d, messages: [x]}
        """
    ) == ["club.yaml: points.expiry_notice.before: must be shorter than expires_after (7d)"]
    assert settings_problems(
        """
        expires_after: 365d
        expiry_notice: {before: 7d}
        """
    ) == ["club.yaml: points.expiry_notice.messages: is required"]
