"""Segments: the condition language, its checks, and its SQL against a real database.

Every query result is compared twice: with the ids worked out by hand, and with a small
Python evaluator that reads the same seeded data (also used for a randomized cross-check).
"""

from __future__ import annotations

import json
import operator
import random
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError
from tortoise.connection import connections

from bot import clock
from bot.crm.segments import SegmentError, Segments, compile_condition
from bot.db.models import Friend, FriendField, FriendScore, FriendTag, Tag
from bot.db.runtime import close_database, open_database
from bot.scenario.errors import issues_from_validation_error
from bot.scenario.segment import (
    AllOf,
    AllTags,
    AnyOf,
    AnyTags,
    Birthday,
    Blocked,
    Condition,
    FieldCondition,
    Followed,
    HasTag,
    NamedSegments,
    Not,
    Points,
    Score,
    SegmentRef,
    TagAdded,
    TimeRange,
    validate_condition,
)
from bot.scenario.segment_check import check_segment_refs

TOKYO = ZoneInfo("Asia/Tokyo")
#: "Now" for the hand-worked data: 2026-11-22 12:00 in Tokyo.
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)

FIELD_TYPES = {
    "gender": "choice",
    "age": "number",
    "birthday": "date",
    "foods": "multi_choice",
    "newsletter": "bool",
    "memo": "text",
}


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=TOKYO).astimezone(UTC)


# --- seeded data, described once for the database and for the reference evaluator --------

Row = dict[str, Any]


def text(value: str) -> Row:
    return {"value_text": value}


def number(value: float) -> Row:
    return {"value_number": float(value)}


def day(value: date) -> Row:
    return {"value_date": value, "value_mmdd": value.month * 100 + value.day}


def choices(*values: str) -> Row:
    return {"value_text": json.dumps(list(values), ensure_ascii=False)}


def flag(value: bool) -> Row:
    return {"value_bool": value}


@dataclass
class Person:
    name: str
    blocked: bool = False
    followed_at: datetime | None = None
    points: int = 0
    tags: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)
    fields: dict[str, Row] = field(default_factory=dict)
    scores: dict[str, int] = field(default_factory=dict)


PEOPLE = [
    Person(
        "alice",
        followed_at=T0 - 30 * DAY,
        points=1200,
        tags=[("VIP", T0 - 10 * DAY, None), ("初回購入", T0 - 2 * DAY, None)],
        fields={
            "gender": text("女性"),
            "age": number(34),
            "birthday": day(date(1990, 4, 15)),
            "foods": choices("和食", "パン"),
            "newsletter": flag(True),
            "memo": text("東京都港区"),
        },
        scores={"engagement": 15},
    ),
    Person(
        "bob",
        followed_at=T0 - 3 * DAY,
        points=300,
        tags=[
            ("VIP", T0 - 40 * DAY, T0 - 20 * DAY),
            ("VIP", T0 - timedelta(hours=1), None),
        ],
        fields={
            "gender": text("男性"),
            "age": number(20),
            "birthday": day(date(2000, 12, 30)),
            "foods": choices("ラーメン"),
            "newsletter": flag(False),
        },
        scores={"engagement": 0},
    ),
    Person(
        "carol",
        blocked=True,
        followed_at=T0 - 100 * DAY,
        tags=[("セミナー参加", T0 - 5 * DAY, T0 - 4 * DAY)],
        fields={"gender": text(""), "birthday": day(date(1985, 1, 3)), "foods": choices()},
    ),
    Person("dave", points=50, scores={"engagement": -5}),
    Person(
        "erin",
        followed_at=T0 - 7 * DAY - timedelta(hours=1),
        points=999,
        tags=[("VIP", jst(2026, 10, 15, 10), None), ("休眠", T0 - 8 * DAY, None)],
        fields={
            "gender": text("女性"),
            "age": number(34.5),
            "birthday": day(date(2000, 2, 29)),
            "memo": text("大阪府"),
        },
        scores={"engagement": 10},
    ),
    Person(
        "frank",
        blocked=True,
        followed_at=jst(2026, 10, 1),
        points=300,
        tags=[
            ("初回購入", jst(2026, 11, 1, 0, 30), None),
            ("セミナー参加", jst(2026, 10, 1), jst(2026, 10, 2)),
        ],
        fields={
            "gender": text("男性"),
            "age": number(50),
            "birthday": day(date(1970, 12, 25)),
            "foods": choices("和食"),
        },
    ),
]


@dataclass
class World:
    people: list[Person]
    ids: dict[str, int]

    def name_of(self, friend_id: int) -> str:
        return next(name for name, known in self.ids.items() if known == friend_id)


async def seed(people: list[Person], extra_tags: tuple[str, ...] = ("未使用",)) -> World:
    """Write people through the ORM exactly as the app stores them."""
    names = dict.fromkeys([tag for person in people for tag, _, _ in person.tags])
    tags = {name: await Tag.create(name=name, created_at=T0) for name in [*names, *extra_tags]}
    ids: dict[str, int] = {}
    for index, person in enumerate(people):
        friend = await Friend.create(
            line_user_id=f"U{index:032x}",
            display_name=person.name,
            blocked=person.blocked,
            followed_at=person.followed_at,
            points=person.points,
            created_at=T0,
            updated_at=T0,
        )
        ids[person.name] = friend.id
        await FriendTag.bulk_create(
            [
                FriendTag(
                    friend=friend, tag=tags[tag], added_at=added, removed_at=removed, source="t"
                )
                for tag, added, removed in person.tags
            ]
        )
        await FriendField.bulk_create(
            [
                FriendField(friend=friend, name=name, updated_at=T0, **row)
                for name, row in person.fields.items()
            ]
        )
        await FriendScore.bulk_create(
            [
                FriendScore(friend=friend, name=name, value=value, updated_at=T0)
                for name, value in person.scores.items()
            ]
        )
    return World(people, ids)


# --- the reference evaluator: the documented semantics, one friend at a time -------------

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def _as_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool | date):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _list_of(row: Row) -> list[str] | None:
    stored = row.get("value_text")
    if stored is None or not stored.startswith("["):
        return None
    items = json.loads(stored)
    return items if isinstance(items, list) else None


@dataclass
class Reference:
    named: Mapping[str, Condition]
    now: datetime
    field_types: Mapping[str, str] = field(default_factory=dict)
    zone: ZoneInfo = TOKYO

    def moment(self, value: datetime) -> datetime:
        return value.replace(tzinfo=self.zone) if value.tzinfo is None else value

    def in_span(self, when: datetime | None, span: TimeRange) -> bool:
        if when is None:
            return False
        return (
            (span.after is None or when >= self.moment(span.after))
            and (span.before is None or when < self.moment(span.before))
            and (span.within is None or when >= self.now - span.within)
            and (span.at_least is None or when <= self.now - span.at_least)
        )

    def equal(self, row: Row | None, ftype: str | None, value: Any) -> bool:
        if row is None:
            return False
        stored_text = row.get("value_text")
        stored_number = row.get("value_number")
        stored_date = row.get("value_date")
        stored_flag = row.get("value_bool")
        if ftype == "multi_choice":
            items = _list_of(row)
            return items is not None and _as_text(value) in items
        if ftype in ("text", "choice"):
            return not isinstance(value, bool) and stored_text == _as_text(value)
        if ftype == "number":
            wanted = _as_number(value)
            return wanted is not None and stored_number == wanted
        if ftype == "date":
            return stored_date is not None and stored_date == _as_date(value)
        if ftype == "bool":
            return isinstance(value, bool) and stored_flag is value
        if isinstance(value, bool):
            return stored_flag is value
        if isinstance(value, int | float):
            return stored_number is not None and stored_number == float(value)
        if isinstance(value, date):
            return stored_date == value
        return stored_text == value

    def ordered(self, row: Row | None, ftype: str | None, key: str, value: Any) -> bool:
        if row is None or ftype not in (None, "number", "date"):
            return False
        if isinstance(value, date):
            stored = row.get("value_date") if ftype != "number" else None
        else:
            stored = row.get("value_number") if ftype != "date" else None
            value = float(value)
        return stored is not None and _ORDER[key](stored, value)

    def contains(self, row: Row | None, ftype: str | None, needle: str) -> bool:
        if row is None:
            return False
        if ftype == "multi_choice":
            items = _list_of(row)
            return items is not None and needle in items
        stored = row.get("value_text")
        return ftype in (None, "text", "choice") and stored is not None and needle in stored

    @staticmethod
    def has_value(row: Row | None) -> bool:
        if row is None:
            return False
        stored = row.get("value_text")
        return (stored is not None and stored not in ("", "[]")) or any(
            row.get(column) is not None for column in ("value_number", "value_date", "value_bool")
        )

    def holds(self, cond: Condition, person: Person) -> bool:
        if isinstance(cond, AllOf):
            return all(self.holds(child, person) for child in cond.all)
        if isinstance(cond, AnyOf):
            return any(self.holds(child, person) for child in cond.any)
        if isinstance(cond, Not):
            return not self.holds(cond.not_, person)
        held = {tag for tag, _, removed in person.tags if removed is None}
        if isinstance(cond, HasTag):
            return cond.tag in held
        if isinstance(cond, AnyTags):
            return bool(held & set(cond.any_tags))
        if isinstance(cond, AllTags):
            return set(cond.all_tags) <= held
        if isinstance(cond, TagAdded):
            spec = cond.tag_added
            return any(
                tag == spec.tag and (spec.ever or removed is None) and self.in_span(added, spec)
                for tag, added, removed in person.tags
            )
        if isinstance(cond, FieldCondition):
            spec = cond.field
            row = person.fields.get(spec.name)
            ftype = self.field_types.get(spec.name)
            for key, value in spec.operators():
                if key == "eq":
                    ok = self.equal(row, ftype, value)
                elif key == "ne":
                    ok = not self.equal(row, ftype, value)
                elif key == "in":
                    ok = any(self.equal(row, ftype, item) for item in value)
                elif key == "contains":
                    ok = self.contains(row, ftype, value)
                elif key == "empty":
                    ok = self.has_value(row) != value
                else:
                    ok = self.ordered(row, ftype, key, value)
                if not ok:
                    return False
            return True
        if isinstance(cond, Birthday):
            spec = cond.birthday
            mmdd = (person.fields.get(spec.field) or {}).get("value_mmdd")
            if mmdd is None:
                return False
            if spec.month is not None:
                month = (
                    self.now.astimezone(self.zone).month if spec.month == "current" else spec.month
                )
                return mmdd // 100 == month
            assert spec.from_ is not None and spec.to is not None
            if spec.from_ <= spec.to:
                return spec.from_ <= mmdd <= spec.to
            return mmdd >= spec.from_ or mmdd <= spec.to
        if isinstance(cond, Points):
            return cond.points.holds(person.points)
        if isinstance(cond, Score):
            return cond.score.holds(person.scores.get(cond.score.name, 0))
        if isinstance(cond, Followed):
            return self.in_span(person.followed_at, cond.followed)
        if isinstance(cond, Blocked):
            return person.blocked is cond.blocked
        if isinstance(cond, SegmentRef):
            return self.holds(self.named[cond.segment], person)
        raise AssertionError(cond)

    def matching(self, cond: Condition, people: list[Person]) -> set[str]:
        return {person.name for person in people if self.holds(cond, person)}


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The ORM open on a fresh database; yields its dialect."""
    ctx = await open_database(database_url)
    try:
        yield str(connections.get("default").capabilities.dialect)
    finally:
        await close_database(ctx)


NAMED_DATA: dict[str, Any] = {
    "vip": {"tag": "VIP"},
    "big": {"points": {"gte": 999}},
    "vip_big": {"all": [{"segment": "vip"}, {"segment": "big"}]},
    "not_vip": {"not": {"segment": "vip"}},
}
NAMED = {name: validate_condition(data) for name, data in NAMED_DATA.items()}


@pytest.fixture
async def world(db: str) -> World:
    clock.clock.set(T0)
    return await seed(PEOPLE)


def segments(*, typed: bool = False) -> Segments:
    return Segments(NAMED, zone=TOKYO, field_types=FIELD_TYPES if typed else None)


async def expect(
    world: World, cases: list[tuple[dict[str, Any], str]], *, typed: bool = False
) -> None:
    """Each condition matches exactly the named people, in SQL and in the reference."""
    seg = segments(typed=typed)
    reference = Reference(NAMED, clock.now(), FIELD_TYPES if typed else {})
    wrong = []
    for data, names in cases:
        cond = validate_condition(data)
        expected = set(names.split())
        got = {world.name_of(friend_id) for friend_id in await seg.friend_ids(cond)}
        modelled = reference.matching(cond, world.people)
        if got != expected or modelled != expected or await seg.count(cond) != len(expected):
            wrong.append(f"{data}: sql {sorted(got)}, reference {sorted(modelled)}")
    assert not wrong, "\n".join(wrong)


# --- tags --------------------------------------------------------------------------------


async def test_tags_held_now(world: World) -> None:
    await expect(
        world,
        [
            ({"tag": "VIP"}, "alice bob erin"),
            ({"tag": "セミナー参加"}, ""),  # only removed rows
            ({"tag": "未使用"}, ""),
            ({"tag": "存在しない"}, ""),
            ({"any_tags": ["休眠", "初回購入"]}, "alice erin frank"),
            ({"any_tags": ["存在しない", "休眠"]}, "erin"),
            ({"all_tags": ["VIP", "初回購入"]}, "alice"),
            ({"all_tags": ["VIP", "VIP"]}, "alice bob erin"),
            ({"all_tags": ["VIP", "存在しない"]}, ""),
            ({"not": {"tag": "VIP"}}, "carol dave frank"),
        ],
    )


async def test_tag_added_ranges_and_history(world: World) -> None:
    await expect(
        world,
        [
            ({"tag_added": {"tag": "VIP", "within": "7d"}}, "bob"),
            ({"tag_added": {"tag": "VIP", "at_least": "1d"}}, "alice erin"),
            ({"tag_added": {"tag": "VIP", "within": "30d", "at_least": "5d"}}, "alice"),
            # bob's first VIP period was in October but he lost it: only `ever` sees it.
            ({"tag_added": {"tag": "VIP", "after": "2026-10-01", "before": "2026-11-01"}}, "erin"),
            (
                {
                    "tag_added": {
                        "tag": "VIP",
                        "ever": True,
                        "after": "2026-10-01",
                        "before": "2026-11-01",
                    }
                },
                "bob erin",
            ),
            ({"tag_added": {"tag": "セミナー参加", "ever": True}}, "carol frank"),
            # Midnight in Tokyo exactly: `after` includes it, `before` excludes it.
            (
                {
                    "tag_added": {
                        "tag": "セミナー参加",
                        "ever": True,
                        "after": "2026-10-01",
                        "before": "2026-10-02",
                    }
                },
                "frank",
            ),
            ({"tag_added": {"tag": "セミナー参加", "ever": True, "before": "2026-10-01"}}, ""),
            (
                {
                    "tag_added": {
                        "tag": "セミナー参加",
                        "ever": True,
                        "after": "2026-10-01T00:00:00.000001",
                    }
                },
                "carol",
            ),
            # frank got 初回購入 at 00:30 on Nov 1 in Tokyo (Oct 31 in UTC).
            ({"tag_added": {"tag": "初回購入", "after": "2026-10-01", "before": "2026-11-01"}}, ""),
            (
                {
                    "tag_added": {
                        "tag": "初回購入",
                        "after": "2026-10-01",
                        "before": "2026-11-01T01:00",
                    }
                },
                "frank",
            ),
            ({"tag_added": {"tag": "初回購入", "before": "2026-11-01T00:00:00Z"}}, "frank"),
            ({"tag_added": {"tag": "初回購入", "before": date(2026, 11, 1)}}, ""),
            ({"tag_added": {"tag": "存在しない", "ever": True}}, ""),
        ],
    )


async def test_tag_age_follows_the_test_clock(world: World) -> None:
    seg = segments()
    aged = {"tag_added": {"tag": "初回購入", "at_least": "3d"}}
    fresh = {"tag_added": {"tag": "VIP", "within": "1d"}}
    assert await seg.friend_ids(aged) == [world.ids["frank"]]
    assert await seg.friend_ids(fresh) == [world.ids["bob"]]
    clock.clock.advance(DAY + timedelta(minutes=1))
    assert set(await seg.friend_ids(aged)) == {world.ids["alice"], world.ids["frank"]}
    assert await seg.friend_ids(fresh) == []
    await expect(world, [(aged, "alice frank"), (fresh, "")])


# --- fields ------------------------------------------------------------------------------


async def test_field_operators(world: World) -> None:
    await expect(
        world,
        [
            ({"field": {"name": "gender", "eq": "女性"}}, "alice erin"),
            ({"field": {"name": "gender", "ne": "女性"}}, "bob carol dave frank"),
            ({"field": {"name": "gender", "in": ["男性", "その他"]}}, "bob frank"),
            ({"field": {"name": "gender", "empty": True}}, "carol dave"),
            ({"field": {"name": "gender", "empty": False}}, "alice bob erin frank"),
            ({"field": {"name": "age", "gte": 34}}, "alice erin frank"),
            ({"field": {"name": "age", "lt": 34}}, "bob"),
            ({"field": {"name": "age", "gte": 30, "lt": 40}}, "alice erin"),
            ({"field": {"name": "age", "eq": 34}}, "alice"),
            ({"field": {"name": "age", "eq": 34.5}}, "erin"),
            ({"field": {"name": "age", "ne": 34}}, "bob carol dave erin frank"),
            ({"field": {"name": "age", "in": [20, 50]}}, "bob frank"),
            ({"field": {"name": "age", "gt": 20, "ne": 50}}, "alice erin"),
            ({"field": {"name": "birthday", "gte": date(1990, 1, 1)}}, "alice bob erin"),
            ({"field": {"name": "birthday", "lt": "1985-01-04"}}, "carol frank"),
            ({"field": {"name": "birthday", "eq": date(2000, 2, 29)}}, "erin"),
            ({"field": {"name": "foods", "contains": "和食"}}, "alice frank"),
            ({"field": {"name": "foods", "contains": "パ"}}, "alice"),  # substring
            ({"field": {"name": "foods", "empty": True}}, "carol dave erin"),
            ({"field": {"name": "newsletter", "eq": True}}, "alice"),
            ({"field": {"name": "newsletter", "eq": False}}, "bob"),
            ({"field": {"name": "newsletter", "ne": True}}, "bob carol dave erin frank"),
            ({"field": {"name": "memo", "contains": "東京"}}, "alice"),
            ({"field": {"name": "memo", "contains": "府"}}, "erin"),
            ({"field": {"name": "memo", "eq": "大阪府"}}, "erin"),
            ({"field": {"name": "nickname", "empty": True}}, "alice bob carol dave erin frank"),
            ({"field": {"name": "nickname", "ne": "x"}}, "alice bob carol dave erin frank"),
            ({"not": {"field": {"name": "gender", "in": ["女性"]}}}, "bob carol dave frank"),
            # Undeclared fields compare by the kind of value: text never equals a number.
            ({"field": {"name": "age", "eq": "34"}}, ""),
        ],
    )


async def test_declared_field_types_coerce_values(world: World) -> None:
    await expect(
        world,
        [
            ({"field": {"name": "foods", "contains": "和食"}}, "alice frank"),
            ({"field": {"name": "foods", "contains": "パ"}}, ""),  # a whole choice only
            ({"field": {"name": "foods", "eq": "パン"}}, "alice"),
            ({"field": {"name": "foods", "in": ["ラーメン", "パン"]}}, "alice bob"),
            ({"field": {"name": "foods", "ne": "和食"}}, "bob carol dave erin"),
            ({"field": {"name": "age", "eq": "34"}}, "alice"),
            ({"field": {"name": "age", "contains": "3"}}, ""),
            ({"field": {"name": "birthday", "eq": "2000-02-29"}}, "erin"),
            ({"field": {"name": "gender", "gte": 3}}, ""),
            ({"field": {"name": "newsletter", "eq": "true"}}, ""),
            ({"field": {"name": "memo", "eq": True}}, ""),
        ],
        typed=True,
    )


async def test_birthdays(world: World) -> None:
    await expect(
        world,
        [
            ({"birthday": {"field": "birthday", "month": 4}}, "alice"),
            ({"birthday": {"field": "birthday", "month": 12}}, "bob frank"),
            ({"birthday": {"field": "birthday", "month": 2}}, "erin"),
            ({"birthday": {"field": "birthday", "month": "current"}}, ""),  # November
            (
                {"birthday": {"field": "birthday", "from": "12-25", "to": "01-05"}},
                "bob carol frank",
            ),
            ({"birthday": {"field": "birthday", "from": "12-26", "to": "01-02"}}, "bob"),
            ({"birthday": {"field": "birthday", "from": "02-28", "to": "03-01"}}, "erin"),
            ({"birthday": {"field": "birthday", "from": "04-15", "to": "04-15"}}, "alice"),
            ({"not": {"birthday": {"field": "birthday", "month": 12}}}, "alice carol dave erin"),
            ({"birthday": {"field": "memo", "month": 4}}, ""),
        ],
    )
    # Dec 1, 01:00 in Tokyo is still November in UTC: "current" is the scenario's month.
    clock.clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))
    await expect(world, [({"birthday": {"field": "birthday", "month": "current"}}, "bob frank")])


# --- friends' own columns, scores, nesting, names ----------------------------------------


async def test_points_scores_followed_blocked(world: World) -> None:
    await expect(
        world,
        [
            ({"points": {"gte": 300}}, "alice bob erin frank"),
            ({"points": {"lt": 300}}, "carol dave"),
            ({"points": {"eq": 300}}, "bob frank"),
            ({"points": {"ne": 300}}, "alice carol dave erin"),
            ({"points": {"gt": 300, "lte": 999}}, "erin"),
            ({"score": {"name": "engagement", "gte": 10}}, "alice erin"),
            ({"score": {"name": "engagement", "lt": 1}}, "bob carol dave frank"),
            ({"score": {"name": "engagement", "eq": 0}}, "bob carol frank"),
            ({"score": {"name": "engagement", "ne": 0}}, "alice dave erin"),
            ({"score": {"name": "engagement", "lt": 0}}, "dave"),
            ({"score": {"name": "engagement", "gte": 0, "lte": 10}}, "bob carol erin frank"),
            ({"score": {"name": "unknown", "eq": 0}}, "alice bob carol dave erin frank"),
            ({"followed": {"within": "7d"}}, "bob"),
            ({"followed": {"within": "8d"}}, "bob erin"),
            ({"followed": {"at_least": "7d"}}, "alice carol erin frank"),
            ({"not": {"followed": {"within": "7d"}}}, "alice carol dave erin frank"),
            ({"followed": {"after": "2026-10-01"}}, "alice bob erin frank"),
            ({"followed": {"before": "2026-10-01"}}, "carol"),
            ({"blocked": True}, "carol frank"),
            ({"blocked": False}, "alice bob dave erin"),
        ],
    )


async def test_nesting_and_named_segments(world: World) -> None:
    await expect(
        world,
        [
            ({"all": [{"tag": "VIP"}, {"points": {"gte": 1000}}]}, "alice"),
            ({"any": [{"tag": "休眠"}, {"blocked": True}]}, "carol erin frank"),
            ({"not": {"any_tags": ["VIP", "初回購入"]}}, "carol dave"),
            (
                {
                    "all": [
                        {"not": {"tag": "VIP"}},
                        {
                            "any": [
                                {"field": {"name": "gender", "eq": "男性"}},
                                {"score": {"name": "engagement", "lt": 0}},
                            ]
                        },
                    ]
                },
                "dave frank",
            ),
            ({"not": {"not": {"tag": "VIP"}}}, "alice bob erin"),
            ({"segment": "vip_big"}, "alice erin"),
            ({"segment": "not_vip"}, "carol dave frank"),
            ({"all": [{"segment": "not_vip"}, {"blocked": False}]}, "dave"),
            (
                {"any": [{"segment": "vip_big"}, {"segment": "not_vip"}]},
                "alice carol dave erin frank",
            ),
        ],
    )


async def test_queries_pages_single_friends_and_bulk_sql(world: World, db: str) -> None:
    seg = segments()
    ids = world.ids
    everyone = {"points": {"gte": -1_000_000}}
    assert await seg.count(everyone) == 6
    assert await seg.count("vip") == 3  # a named segment by name
    assert await seg.friend_ids(everyone, offset=1, limit=2) == [ids["bob"], ids["carol"]]
    assert await seg.friend_ids(everyone, offset=4) == [ids["erin"], ids["frank"]]
    assert await seg.friend_ids(everyone, limit=0) == []
    assert await seg.friend_ids(everyone, order="-points") == [
        ids[name] for name in ("alice", "erin", "frank", "bob", "dave", "carol")
    ]
    assert await seg.friend_ids(everyone, order="followed_at") == [
        ids[name] for name in ("carol", "frank", "alice", "erin", "bob", "dave")
    ]
    with pytest.raises(ValueError, match="unknown order"):
        await seg.friend_ids(everyone, order="line_user_id")

    assert await seg.matches({"tag": "VIP"}, ids["bob"])
    assert not await seg.matches({"tag": "VIP"}, ids["carol"])
    assert not await seg.matches({"tag": "VIP"}, 999_999)
    assert await seg.matching_among("vip", [ids["alice"], ids["carol"], ids["erin"], 999]) == {
        ids["alice"],
        ids["erin"],
    }
    assert await seg.matching_among("vip", []) == set()

    # Tag everyone in a segment with one INSERT ... SELECT, as bulk actions do.
    tag = await Tag.create(name="一括", created_at=T0)
    added = T0.isoformat(sep=" ") if db == "sqlite" else T0
    placeholders = "?, ?, ?" if db == "sqlite" else "$1, $2, $3"
    select, params = seg.sql_for({"segment": "not_vip"}, param_start=4)
    await connections.get("default").execute_query(
        "INSERT INTO friend_tags (friend_id, tag_id, added_at, source) "
        f"SELECT m.id, {placeholders} FROM ({select}) AS m",
        [tag.id, added, "bulk", *params],
    )
    await expect(
        world_with_tag(world, "一括", ["carol", "dave", "frank"]),
        [({"tag": "一括"}, "carol dave frank")],
    )


def world_with_tag(world: World, tag: str, names: list[str]) -> World:
    """The reference's copy of a tag given straight in SQL."""
    people = [
        Person(**{**vars(person), "tags": [*person.tags, (tag, T0, None)]})
        if person.name in names
        else person
        for person in world.people
    ]
    return World(people, world.ids)


async def test_reference_cycles_and_unknown_names_raise(db: str) -> None:
    named = {
        "a": validate_condition({"all": [{"tag": "x"}, {"segment": "b"}]}),
        "b": validate_condition({"any": [{"segment": "a"}]}),
    }
    seg = Segments(named, zone=TOKYO)
    with pytest.raises(SegmentError, match=r"segment reference cycle: a -> b -> a"):
        await seg.count("a")
    with pytest.raises(SegmentError, match=r"unknown segment 'c' \(known: a, b\)"):
        await seg.count({"not": {"segment": "c"}})


# --- randomized cross-check --------------------------------------------------------------

_TAGS = ["VIP", "初回購入", "セミナー参加", "休眠", "存在しない"]
_FOODS = ["和食", "パン", "ラーメン", "カレー"]


def random_people(rnd: random.Random, count: int) -> list[Person]:
    def when() -> datetime:
        moment = T0 - timedelta(minutes=rnd.randint(1, 60 * 24 * 60), seconds=30)
        return moment.replace(microsecond=rnd.choice([0, rnd.randint(1, 999_999)]))

    people = []
    for index in range(count):
        tags: list[tuple[str, datetime, datetime | None]] = []
        for tag in _TAGS[:4]:
            start = when()
            for _ in range(rnd.choice([0, 0, 1, 1, 2, 3])):
                end = start + timedelta(minutes=rnd.randint(1, 60 * 24 * 10))
                tags.append((tag, start, end if end < T0 else None))
                if end >= T0:
                    break
                start = end + timedelta(minutes=rnd.randint(1, 60 * 24 * 10))
                if start >= T0:
                    break
        fields: dict[str, Row] = {}
        options: dict[str, list[Row | None]] = {
            "gender": [text("男性"), text("女性"), text(""), {}, None],
            "age": [number(rnd.choice([20, 34, 34.5, 50, 61])), {}, None],
            "birthday": [
                day(date(1970, 1, 1) + timedelta(days=rnd.randint(0, 20000))),
                day(date(2000, 2, 29)),
                None,
            ],
            "foods": [choices(*rnd.sample(_FOODS, rnd.randint(0, 3))), None],
            "newsletter": [flag(True), flag(False), {}, None],
            "memo": [text(rnd.choice(["東京都港区", "大阪府", "", "パン屋"])), None],
        }
        for name, rows in options.items():
            row = rnd.choice(rows)
            if row is not None:
                fields[name] = row
        scores = {
            name: rnd.randint(-3, 20) for name in ("engagement", "loyalty") if rnd.random() < 0.6
        }
        people.append(
            Person(
                f"p{index}",
                blocked=rnd.random() < 0.2,
                followed_at=when() if rnd.random() < 0.85 else None,
                points=rnd.choice([0, 50, 300, 999, 1200, rnd.randint(0, 1500)]),
                tags=tags,
                fields=fields,
                scores=scores,
            )
        )
    return people


def random_condition(rnd: random.Random, depth: int = 0) -> dict[str, Any]:
    kinds = ["tag", "any_tags", "all_tags", "tag_added", "field", "field", "field", "birthday"]
    kinds += ["points", "score", "followed", "blocked", "segment"]
    if depth < 3:
        kinds += ["all", "any", "not"] * 2
    kind = rnd.choice(kinds)
    if kind in ("all", "any"):
        return {kind: [random_condition(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]}
    if kind == "not":
        return {"not": random_condition(rnd, depth + 1)}
    if kind == "tag":
        return {"tag": rnd.choice(_TAGS)}
    if kind in ("any_tags", "all_tags"):
        return {kind: rnd.sample(_TAGS, rnd.randint(1, 3))}
    if kind in ("tag_added", "followed"):
        span: dict[str, Any] = {}
        keys = rnd.sample(["after", "before", "within", "at_least"], rnd.randint(1, 2))
        start = T0 - timedelta(days=rnd.randint(1, 70))
        for key in keys:
            if key == "after":
                span["after"] = rnd.choice(
                    [start.date().isoformat(), start.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")]
                )
            elif key == "before":
                end = start + timedelta(days=rnd.randint(1, 40), hours=rnd.randint(0, 23))
                span["before"] = rnd.choice([end.date(), end.isoformat()])
            else:
                span[key] = rnd.choice(["30m", "2h", "1d", "7d", "2w", "30d"])
        if kind == "followed":
            return {"followed": span}
        ever = rnd.random() < 0.4
        return {"tag_added": {"tag": rnd.choice(_TAGS), **span, **({"ever": True} if ever else {})}}
    if kind == "field":
        name = rnd.choice([*FIELD_TYPES, "nickname"])
        scalars: list[Any] = ["男性", "女性", "", 34, 20, 34.5, "34", date(2000, 2, 29)]
        scalars += [True, False, "和食", "パン", "大阪府", "2000-02-29"]
        spec: dict[str, Any] = {"name": name}
        for key in rnd.sample(
            ["eq", "ne", "lt", "gte", "in", "contains", "empty"], rnd.randint(1, 2)
        ):
            if key in ("eq", "ne"):
                spec[key] = rnd.choice(scalars)
            elif key in ("lt", "gte"):
                spec[key] = rnd.choice([20, 34, 40, 34.5, date(1990, 1, 1), "2000-06-01"])
            elif key == "in":
                spec["in"] = rnd.sample(scalars, rnd.randint(1, 3))
            elif key == "contains":
                spec["contains"] = rnd.choice(["和食", "パ", "東京", "府", "男", "ン"])
            else:
                spec["empty"] = rnd.random() < 0.5
        if spec.get("empty") is True and len(spec) > 2:
            del spec["empty"]
        return {"field": spec}
    if kind == "birthday":
        if rnd.random() < 0.4:
            return {
                "birthday": {"field": "birthday", "month": rnd.choice([1, 2, 4, 12, "current"])}
            }
        ends = [f"{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}" for _ in range(2)]
        return {"birthday": {"field": "birthday", "from": ends[0], "to": ends[1]}}
    if kind in ("points", "score"):
        ops = {
            key: rnd.choice([-1, 0, 10, 50, 300, 999])
            for key in rnd.sample(["eq", "ne", "lt", "lte", "gt", "gte"], rnd.randint(1, 2))
        }
        if kind == "score":
            return {"score": {"name": rnd.choice(["engagement", "loyalty"]), **ops}}
        return {"points": ops}
    if kind == "blocked":
        return {"blocked": rnd.random() < 0.5}
    return {"segment": rnd.choice(["r1", "r2"])}


async def test_random_conditions_match_the_reference(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rnd = random.Random(20261122)
    monkeypatch.setattr(clock.clock, "now", lambda: T0)  # a frozen "now" for both sides
    people = random_people(rnd, 40)
    world = await seed(people)
    named: dict[str, Condition] = {
        "r1": validate_condition({"any": [{"tag": "VIP"}, {"points": {"gte": 999}}]})
    }
    named["r2"] = validate_condition({"all": [{"segment": "r1"}, {"not": {"blocked": True}}]})
    wrong = []
    sizes = set()
    for number_ in range(200):
        typed = number_ % 2 == 1
        data = random_condition(rnd)
        cond = validate_condition(data)
        types = FIELD_TYPES if typed else {}
        seg = Segments(named, zone=TOKYO, field_types=types)
        expected = Reference(named, T0, types).matching(cond, people)
        got = {world.name_of(friend_id) for friend_id in await seg.friend_ids(cond)}
        sizes.add(len(expected))
        if got != expected:
            wrong.append(
                f"{data} (typed={typed}): sql-only {got - expected}, missing {expected - got}"
            )
        elif number_ % 10 == 0:
            sample = [world.ids[person.name] for person in people[::3]]
            among = {world.name_of(i) for i in await seg.matching_among(cond, sample)}
            assert among == {name for name in expected if world.ids[name] in sample}
            assert await seg.count(cond) == len(expected)
    assert not wrong, "\n".join(wrong)
    assert len(sizes) > 10  # the conditions were not all trivially empty or full


# --- SQL shape ---------------------------------------------------------------------------


def test_postgres_placeholders_are_numbered_in_order() -> None:
    cond = validate_condition(
        {
            "all": [
                {"tag": "VIP"},
                {"field": {"name": "age", "gte": 20, "ne": 30}},
                {"points": {"lt": 5}},
            ]
        }
    )
    sql, params = compile_condition(cond, named={}, zone=TOKYO, dialect="postgres", param_start=4)
    assert "?" not in sql
    assert [int(n) for n in re.findall(r"\$(\d+)", sql)] == list(range(4, 4 + len(params)))
    assert params == ["VIP", "age", 20.0, "age", 30.0, 5]
    sqlite_sql, sqlite_params = compile_condition(cond, named={}, zone=TOKYO, dialect="sqlite")
    assert sqlite_sql.count("?") == len(sqlite_params) == 6
    with pytest.raises(ValueError, match="unsupported database dialect"):
        compile_condition(cond, named={}, zone=TOKYO, dialect="mysql")


def test_sqlite_datetimes_use_the_stored_text_format() -> None:
    cond = validate_condition(
        {"followed": {"after": "2026-10-01", "before": "2026-10-01T09:30:00.5+09:00"}}
    )
    _, params = compile_condition(cond, named={}, zone=TOKYO, dialect="sqlite")
    assert params == ["2026-09-30 15:00:00+00:00", "2026-10-01 00:30:00.500000+00:00"]
    _, pg_params = compile_condition(cond, named={}, zone=TOKYO, dialect="postgres")
    assert pg_params == [
        datetime(2026, 9, 30, 15, tzinfo=UTC),
        datetime(2026, 10, 1, 0, 30, 0, 500000, tzinfo=UTC),
    ]


# --- schema errors -----------------------------------------------------------------------


class _Doc(BaseModel):
    segments: NamedSegments


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        _Doc.model_validate({"segments": data})
    return [
        f"{issue.path}: {issue.message}"
        for issue in issues_from_validation_error(caught.value, "s.yaml", _Doc)
    ]


KEYS = "all, any, not, tag, any_tags, all_tags, tag_added, field, birthday, points, score, followed, blocked, segment"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"vip": {"all": [{"tag": "VIP"}, {"points": {"gte": "many"}}]}},
            "segments.vip.all[1].points.gte: must be a whole number",
        ),
        (
            {"x": {"tga": "VIP"}},
            f"segments.x.tga: unknown condition 'tga' (expected one of: {KEYS})",
        ),
        (
            {"x": {"tag": "VIP", "points": {"gte": 1}}},
            "segments.x: must have exactly one condition key (found tag, points); "
            "put several conditions in all: [...] or any: [...]",
        ),
        ({"x": {}}, f"segments.x: must have one condition key (one of: {KEYS})"),
        (
            {"x": {"not": None}},
            "segments.x.not: must be a condition: a mapping with one key such as tag, field or "
            "all (found nothing)",
        ),
        ({"x": {"any": []}}, "segments.x.any: must not be empty"),
        (
            {"x": {"points": {}}},
            "segments.x.points: needs at least one of: eq, ne, lt, lte, gt, gte",
        ),
        (
            {"x": {"points": {"gte": 1, "more": 2}}},
            "segments.x.points.more: unknown key (expected one of: eq, ne, lt, lte, gt, gte)",
        ),
        (
            {"x": {"score": {"gte": 1}}},
            "segments.x.score.name: is required",
        ),
        (
            {"x": {"field": {"name": "age"}}},
            "segments.x.field: needs at least one of: eq, ne, lt, lte, gt, gte, in, contains, empty",
        ),
        (
            {"x": {"field": {"name": "age", "lt": "old"}}},
            "segments.x.field.lt: must be a number or a date (YYYY-MM-DD)",
        ),
        (
            {"x": {"field": {"name": "d", "gte": "2026-02-30"}}},
            "segments.x.field.gte: '2026-02-30' is not a real date",
        ),
        (
            {"x": {"field": {"name": "g", "eq": ["a"]}}},
            "segments.x.field.eq: must be text, a number, a date or true/false (found a list)",
        ),
        (
            {"x": {"field": {"name": "g", "empty": True, "eq": "a"}}},
            "segments.x.field.empty: empty: true cannot be combined with other operators",
        ),
        (
            {"x": {"tag_added": {"tag": "VIP"}}},
            "segments.x.tag_added: needs at least one of: after, before, within, at_least "
            "(to check that the friend has the tag, use tag: NAME)",
        ),
        (
            {"x": {"tag_added": {"tag": "VIP", "within": "7days"}}},
            "segments.x.tag_added.within: must be a duration such as 30m, 2h, 7d or 1w",
        ),
        (
            {"x": {"followed": {"within": "0d"}}},
            "segments.x.followed.within: must be longer than 0",
        ),
        (
            {"x": {"followed": {"after": "2026-11-01", "before": "2026-10-01"}}},
            "segments.x.followed.before: must be later than after",
        ),
        (
            {"x": {"followed": {"after": "next week"}}},
            "segments.x.followed.after: must be a date (YYYY-MM-DD) or a date and time "
            "(YYYY-MM-DDTHH:MM, optionally with an offset such as +09:00)",
        ),
        (
            {"x": {"birthday": {"field": "b", "month": 13}}},
            "segments.x.birthday.month: must be a month number 1 to 12, or current",
        ),
        (
            {"x": {"birthday": {"field": "b", "from": "12-25"}}},
            "segments.x.birthday.to: is required with from",
        ),
        (
            {"x": {"birthday": {"field": "b"}}},
            "segments.x.birthday: needs month, or from and to (MM-DD)",
        ),
        (
            {"x": {"birthday": {"field": "b", "from": "02-30", "to": "03-01"}}},
            "segments.x.birthday.from: must be a month and day like 12-25 (MM-DD, in quotes)",
        ),
        (
            {"x": {"birthday": {"field": "b", "month": 4, "to": "03-01"}}},
            "segments.x.birthday: use either month, or from and to, not both",
        ),
        (
            {"x": {"any": [{"blocked": "maybe"}]}},
            "segments.x.any[0].blocked: must be true or false",
        ),
        ({"x": {"segment": ""}}, "segments.x.segment: must not be empty"),
    ],
)
def test_schema_errors_name_the_place(data: dict[str, Any], expected: str) -> None:
    assert problems(data) == [expected]


def test_schema_accepts_yaml_values_and_reports_several_problems() -> None:
    cond = validate_condition(
        {
            "all": [
                {"tag": 2024},
                {"field": {"name": "birthday", "gte": date(1990, 1, 1), "in": ["a", 1, True]}},
                {"tag_added": {"tag": "VIP", "after": date(2026, 10, 1), "within": "7d"}},
                {"birthday": {"field": "birthday", "month": "current"}},
            ]
        }
    )
    assert isinstance(cond, AllOf)
    assert cond.all[0] == HasTag(tag="2024")
    assert validate_condition(cond) is cond
    assert problems({"a": {"points": {}}, "b": {"tag": None}}) == [
        "segments.a.points: needs at least one of: eq, ne, lt, lte, gt, gte",
        "segments.b.tag: must not be empty",
    ]


# --- load-time checks --------------------------------------------------------------------


def named_segments(data: dict[str, Any]) -> dict[str, Condition]:
    return {name: validate_condition(value) for name, value in data.items()}


def test_check_reports_cycles_once_with_their_path() -> None:
    named = named_segments(
        {
            "vip": {"all": [{"tag": "VIP"}, {"segment": "big"}]},
            "big": {"any": [{"points": {"gte": 1}}, {"segment": "vip"}]},
            "self": {"not": {"segment": "self"}},
            "ok": {"segment": "vip"},
        }
    )
    assert check_segment_refs(named, [], None, None) == [
        ("segments.vip.all[1].segment", "segment reference cycle: vip -> big -> vip"),
        ("segments.self.not.segment", "segment reference cycle: self -> self"),
    ]


def test_check_reports_unknown_segments_tags_and_fields() -> None:
    named = named_segments({"vip": {"tag": "VIP"}})
    used = [
        ("rules[0].if", validate_condition({"any": [{"segment": "vpi"}, {"tag": "VIPP"}]})),
        ("broadcasts[2].to", validate_condition({"all_tags": ["VIP", "新規"]})),
        ("rules[1].if", validate_condition({"tag_added": {"tag": "休眠", "within": "1d"}})),
        ("rules[2].if", validate_condition({"field": {"name": "gendr", "eq": "男性"}})),
    ]
    assert check_segment_refs(named, used, {"VIP"}, {"gender": "choice"}) == [
        ("rules[0].if.any[0].segment", "unknown segment 'vpi' (expected one of: vip)"),
        ("rules[0].if.any[1].tag", "unknown tag 'VIPP' (did you mean 'VIP'?)"),
        ("broadcasts[2].to.all_tags[1]", "unknown tag '新規'"),
        ("rules[1].if.tag_added.tag", "unknown tag '休眠'"),
        ("rules[2].if.field.name", "unknown field 'gendr' (did you mean 'gender'?)"),
    ]
    assert check_segment_refs({}, [("x", validate_condition({"segment": "a"}))], None, None) == [
        ("x.segment", "unknown segment 'a' (no segments are defined)")
    ]
    # Without lists of tags and fields, only references are checked.
    assert check_segment_refs(named, used[1:], None, None) == []


def test_check_reports_operators_that_do_not_fit_the_field_type() -> None:
    fields = {
        "memo": "text",
        "age": "number",
        "birthday": "date",
        "foods": "multi_choice",
        "newsletter": "bool",
        "gender": "choice",
    }
    cases = {
        "a": {"field": {"name": "memo", "gte": 3}},
        "b": {"field": {"name": "age", "contains": "3"}},
        "c": {"field": {"name": "age", "eq": "thirty"}},
        "d": {"field": {"name": "birthday", "lt": 3}},
        "e": {"field": {"name": "newsletter", "eq": "yes"}},
        "f": {"field": {"name": "gender", "in": ["男性", True]}},
        "g": {"birthday": {"field": "memo", "month": 4}},
        "h": {"field": {"name": "foods", "lt": 3}},
        "ok": {
            "all": [
                {"field": {"name": "age", "gte": 30, "in": [1, 2.5, "3"]}},
                {"field": {"name": "birthday", "gte": "2000-01-01", "eq": date(2000, 1, 1)}},
                {"field": {"name": "foods", "contains": "和食", "eq": "パン"}},
                {"field": {"name": "newsletter", "eq": True, "empty": False}},
                {"birthday": {"field": "birthday", "from": "12-25", "to": "01-05"}},
            ]
        },
    }
    assert check_segment_refs(named_segments(cases), [], None, fields) == [
        (
            "segments.a.field.gte",
            "gte does not apply to a text field (use eq, ne, in, contains, empty)",
        ),
        (
            "segments.b.field.contains",
            "contains does not apply to a number field (use eq, ne, lt, lte, gt, gte, in, empty)",
        ),
        ("segments.c.field.eq", "must be a number for a number field"),
        ("segments.d.field.lt", "must be a date (YYYY-MM-DD) for a date field"),
        ("segments.e.field.eq", "must be true or false for a true/false field"),
        ("segments.f.field.in[1]", "must be text for a choice field (put it in quotes)"),
        ("segments.g.birthday.field", "birthday needs a date field ('memo' is a text field)"),
        (
            "segments.h.field.lt",
            "lt does not apply to a multiple-choice field (use contains, in, eq, ne, empty)",
        ),
    ]
