"""Segments compiled to SQL: one statement answers "who matches", for 10 or 100,000 friends.

A condition (see `bot.scenario.segment`) becomes a boolean SQL expression over the alias
`f` (the `friends` table). Tags, fields and scores are tested with EXISTS / NOT EXISTS
subqueries that hit the indexes on friend_tags, friend_fields and friend_scores, so the
database does the work in one query instead of Python looping over friends. The same SQL
gives the same answers on SQLite and PostgreSQL:

- every expression is two-valued (never NULL), so `not:` really is the complement;
- datetimes are passed as UTC text in tortoise's own format on SQLite (where they are
  stored as text and compared as strings) and as aware datetimes on PostgreSQL;
- text matching uses instr/strpos (case-sensitive on both) rather than LIKE.

Blocked friends are not left out implicitly: a broadcast adds `blocked: false` itself,
because admin counts and rules may well want them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.connection import connections

from bot import clock
from bot.scenario.segment import (
    AllOf,
    AllTags,
    AnyCondition,
    AnyOf,
    AnyTags,
    Birthday,
    Blocked,
    Comparison,
    Condition,
    FieldCondition,
    FieldSpec,
    Followed,
    HasTag,
    Not,
    Points,
    Score,
    SegmentRef,
    TagAdded,
    TimeRange,
    validate_condition,
)

SQLITE = "sqlite"
POSTGRES = "postgres"
DIALECTS = (SQLITE, POSTGRES)

#: Orders `friend_ids` accepts (prefix with "-" for descending); ties go by id.
ORDERS = ("id", "followed_at", "last_event_at", "points", "display_name", "created_at")

_OPERATORS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

_TRUE = "1 = 1"
_FALSE = "1 = 0"


class SegmentError(ValueError):
    """A condition cannot be compiled: it names an unknown segment or segments form a cycle."""


# --- SQL fragments -----------------------------------------------------------------------
# Fragments carry their parameters beside `?` placeholders, so composing them keeps text
# order and parameter order in step; PostgreSQL's $n numbers are applied once at the end.


@dataclass(frozen=True)
class _Sql:
    text: str
    params: tuple[Any, ...] = ()


def _lit(text: str) -> _Sql:
    return _Sql(text)


def _fmt(template: str, *parts: _Sql) -> _Sql:
    """`template` with each `{}` replaced by a fragment, parameters in the same order."""
    assert template.count("{}") == len(parts), template
    params: tuple[Any, ...] = ()
    for part in parts:
        params += part.params
    return _Sql(template.format(*(part.text for part in parts)), params)


def _join(separator: str, parts: Sequence[_Sql]) -> _Sql:
    params: tuple[Any, ...] = ()
    for part in parts:
        params += part.params
    return _Sql(separator.join(part.text for part in parts), params)


def _and(parts: Sequence[_Sql]) -> _Sql:
    if not parts:
        return _lit(_TRUE)
    if len(parts) == 1:
        return parts[0]
    return _fmt("({})", _join(" AND ", parts))


def _or(parts: Sequence[_Sql]) -> _Sql:
    if not parts:
        return _lit(_FALSE)
    if len(parts) == 1:
        return parts[0]
    return _fmt("({})", _join(" OR ", parts))


def _number_placeholders(text: str, start: int) -> str:
    """`?` → `$start`, `$start+1` ... (our SQL text has no `?` other than placeholders)."""
    pieces = text.split("?")
    out = [pieces[0]]
    for index, piece in enumerate(pieces[1:]):
        out.append(f"${start + index}{piece}")
    return "".join(out)


def _finish(fragment: _Sql, dialect: str, param_start: int) -> tuple[str, list[Any]]:
    if dialect == POSTGRES:
        return _number_placeholders(fragment.text, param_start), list(fragment.params)
    return fragment.text, list(fragment.params)


# --- the compiler ------------------------------------------------------------------------


def _resolve(moment: datetime, zone: ZoneInfo) -> datetime:
    """A moment without offset is local time in the scenario's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _membership_needles(value: str) -> list[str]:
    """How one choice appears inside a stored JSON list, with and without \\u escapes."""
    needles = [json.dumps(value, ensure_ascii=False)]
    escaped = json.dumps(value)
    if escaped != needles[0]:
        needles.append(escaped)
    return needles


@dataclass
class _Compiler:
    named: Mapping[str, Condition]
    zone: ZoneInfo
    dialect: str
    field_types: Mapping[str, str]
    now: datetime
    stack: list[str] = field(default_factory=list)

    # parameters as each database compares them

    def timestamp(self, moment: datetime) -> _Sql:
        """SQLite compares stored text: use tortoise's format (isoformat with a space).

        isoformat drops the fraction when it is zero, exactly as tortoise stored it, which
        also keeps ordering right across "…:07+00:00" and "…:07.5+00:00" ('+' < '.').
        """
        utc = _resolve(moment, self.zone)
        if self.dialect == SQLITE:
            return _Sql("?", (utc.isoformat(sep=" "),))
        return _Sql("?", (utc,))

    def day(self, value: date) -> _Sql:
        return _Sql("?", (value.isoformat() if self.dialect == SQLITE else value,))

    def text_contains(self, column: str, needle: str) -> _Sql:
        function = "instr" if self.dialect == SQLITE else "strpos"
        return _Sql(f"{function}({column}, ?) > 0", (needle,))

    # conditions

    def compile(self, cond: Condition) -> _Sql:
        if isinstance(cond, AllOf):
            return _and([self.compile(child) for child in cond.all])
        if isinstance(cond, AnyOf):
            return _or([self.compile(child) for child in cond.any])
        if isinstance(cond, Not):
            return _fmt("NOT {}", self.group(self.compile(cond.not_)))
        if isinstance(cond, HasTag):
            return self.has_tags([cond.tag])
        if isinstance(cond, AnyTags):
            return self.has_tags(cond.any_tags)
        if isinstance(cond, AllTags):
            return _and([self.has_tags([name]) for name in dict.fromkeys(cond.all_tags)])
        if isinstance(cond, TagAdded):
            return self.tag_added(cond)
        if isinstance(cond, FieldCondition):
            return self.field(cond.field)
        if isinstance(cond, Birthday):
            return self.birthday(cond)
        if isinstance(cond, Points):
            return _and(self.comparisons("f.points", cond.points))
        if isinstance(cond, Score):
            return self.score(cond)
        if isinstance(cond, Followed):
            bounds = self.time_bounds("f.followed_at", cond.followed)
            return _and([_lit("f.followed_at IS NOT NULL"), *bounds])
        if isinstance(cond, Blocked):
            return _Sql("f.blocked = ?", (cond.blocked,))
        if isinstance(cond, SegmentRef):
            return self.reference(cond.segment)
        raise TypeError(f"not a segment condition: {cond!r}")

    @staticmethod
    def group(fragment: _Sql) -> _Sql:
        return _fmt("({})", fragment)

    def reference(self, name: str) -> _Sql:
        if name in self.stack:
            cycle = [*self.stack[self.stack.index(name) :], name]
            raise SegmentError(f"segment reference cycle: {' -> '.join(cycle)}")
        if name not in self.named:
            known = ", ".join(sorted(self.named)) or "none are defined"
            raise SegmentError(f"unknown segment '{name}' (known: {known})")
        self.stack.append(name)
        try:
            return self.group(self.compile(self.named[name]))
        finally:
            self.stack.pop()

    # tags

    @staticmethod
    def tag_ids(names: Sequence[str]) -> _Sql:
        """Tag ids by name inside the query: a tag that does not exist matches nobody."""
        unique = list(dict.fromkeys(names))
        if len(unique) == 1:
            return _Sql("= (SELECT t.id FROM tags t WHERE t.name = ?)", (unique[0],))
        marks = ", ".join("?" for _ in unique)
        return _Sql(f"IN (SELECT t.id FROM tags t WHERE t.name IN ({marks}))", tuple(unique))

    def has_tags(self, names: Sequence[str]) -> _Sql:
        return _fmt(
            "EXISTS (SELECT 1 FROM friend_tags ft WHERE ft.friend_id = f.id AND ft.tag_id {}"
            " AND ft.removed_at IS NULL)",
            self.tag_ids(names),
        )

    def tag_added(self, cond: TagAdded) -> _Sql:
        spec = cond.tag_added
        where = [_fmt("ft.tag_id {}", self.tag_ids([spec.tag]))]
        if not spec.ever:
            where.append(_lit("ft.removed_at IS NULL"))
        where += self.time_bounds("ft.added_at", spec)
        return _fmt(
            "EXISTS (SELECT 1 FROM friend_tags ft WHERE ft.friend_id = f.id AND {})",
            _join(" AND ", where),
        )

    def time_bounds(self, column: str, span: TimeRange) -> list[_Sql]:
        """`after` ≤ t < `before`; `within` d: t ≥ now − d; `at_least` d: t ≤ now − d."""
        bounds: list[_Sql] = []
        if span.after is not None:
            bounds.append(_fmt(f"{column} >= {{}}", self.timestamp(span.after)))
        if span.before is not None:
            bounds.append(_fmt(f"{column} < {{}}", self.timestamp(span.before)))
        if span.within is not None:
            bounds.append(_fmt(f"{column} >= {{}}", self.timestamp(self.now - span.within)))
        if span.at_least is not None:
            bounds.append(_fmt(f"{column} <= {{}}", self.timestamp(self.now - span.at_least)))
        return bounds

    # numbers

    @staticmethod
    def comparisons(column: str, spec: Comparison) -> list[_Sql]:
        return [
            _Sql(f"{column} {_OPERATORS[key]} ?", (getattr(spec, key),))
            for key in spec.given(*_OPERATORS)
        ]

    def score(self, cond: Score) -> _Sql:
        """A missing score is 0: if 0 passes, match everyone except rows that fail."""
        spec = cond.score
        test = _and(self.comparisons("fs.value", spec))
        head = "SELECT 1 FROM friend_scores fs WHERE fs.friend_id = f.id AND fs.name = ?"
        name = _Sql("", (spec.name,))
        if spec.holds(0):
            return _fmt(f"NOT EXISTS ({head}{{}} AND NOT {{}})", name, self.group(test))
        return _fmt(f"EXISTS ({head}{{}} AND {{}})", name, test)

    # fields

    def field_row(self, name: str, where: Sequence[_Sql], *, negate: bool = False) -> _Sql:
        """EXISTS a friend_fields row of this field meeting `where` (one row per field)."""
        keyword = "NOT EXISTS" if negate else "EXISTS"
        return _fmt(
            f"{keyword} (SELECT 1 FROM friend_fields ff WHERE ff.friend_id = f.id"
            " AND ff.name = ?{}{})",
            _Sql("", (name,)),
            _join("", [_fmt(" AND {}", part) for part in where]),
        )

    def equals(self, ftype: str | None, value: Any) -> _Sql:
        """The field equals `value` (for a multiple choice: includes it)."""
        if ftype == "multi_choice":
            return self.includes(value)
        column, param = self.column_for(ftype, value)
        if column is None:
            return _lit(_FALSE)
        return _fmt(f"{column} = {{}}", param)

    def includes(self, value: Any) -> _Sql:
        text = value.isoformat() if isinstance(value, date) else str(value)
        needles = _membership_needles(text)
        return _or([self.text_contains("ff.value_text", needle) for needle in needles])

    def column_for(self, ftype: str | None, value: Any) -> tuple[str | None, _Sql]:
        """Which column holds `value` for a field of this type, and the parameter for it.

        A declared type wins (a choice field compares `30` as the text "30"); otherwise the
        kind of value YAML gave decides. None means "no value of this field can be equal".
        """
        if ftype in ("text", "choice"):
            if isinstance(value, bool):
                return None, _lit("")
            text = value.isoformat() if isinstance(value, date) else str(value)
            return "ff.value_text", _Sql("?", (text,))
        if ftype == "number":
            number = _as_number(value)
            return (
                ("ff.value_number", _Sql("?", (number,)))
                if number is not None
                else (None, _lit(""))
            )
        if ftype == "date":
            day = _as_date(value)
            return ("ff.value_date", self.day(day)) if day is not None else (None, _lit(""))
        if ftype == "bool":
            if isinstance(value, bool):
                return "ff.value_bool", _Sql("?", (value,))
            return None, _lit("")
        if isinstance(value, bool):
            return "ff.value_bool", _Sql("?", (value,))
        if isinstance(value, int | float):
            return "ff.value_number", _Sql("?", (float(value),))
        if isinstance(value, date):
            return "ff.value_date", self.day(value)
        return "ff.value_text", _Sql("?", (str(value),))

    def ordered(self, ftype: str | None, key: str, value: Any) -> _Sql:
        """lt/lte/gt/gte: numbers against value_number, dates against value_date."""
        if ftype not in (None, "number", "date"):
            return _lit(_FALSE)
        if isinstance(value, date) and ftype in (None, "date"):
            return _fmt(f"ff.value_date {_OPERATORS[key]} {{}}", self.day(value))
        if not isinstance(value, date) and ftype in (None, "number"):
            return _Sql(f"ff.value_number {_OPERATORS[key]} ?", (float(value),))
        return _lit(_FALSE)

    def contains(self, ftype: str | None, needle: str) -> _Sql:
        if ftype == "multi_choice":
            return self.includes(needle)
        if ftype in (None, "text", "choice"):
            return self.text_contains("ff.value_text", needle)
        return _lit(_FALSE)

    @staticmethod
    def has_value() -> _Sql:
        return _lit(
            "((ff.value_text IS NOT NULL AND ff.value_text <> '' AND ff.value_text <> '[]')"
            " OR ff.value_number IS NOT NULL OR ff.value_date IS NOT NULL"
            " OR ff.value_bool IS NOT NULL)"
        )

    def field(self, spec: FieldSpec) -> _Sql:
        """Positive operators share one EXISTS; `ne` and `empty: true` are NOT EXISTS."""
        ftype = self.field_types.get(spec.name)
        row: list[_Sql] = []
        outer: list[_Sql] = []
        for key, value in spec.operators():
            if key == "eq":
                row.append(self.equals(ftype, value))
            elif key == "ne":
                outer.append(self.field_row(spec.name, [self.equals(ftype, value)], negate=True))
            elif key == "in":
                row.append(self.one_of(ftype, value))
            elif key == "contains":
                row.append(self.contains(ftype, value))
            elif key == "empty":
                if value:
                    outer.append(self.field_row(spec.name, [self.has_value()], negate=True))
                else:
                    row.append(self.has_value())
            else:
                row.append(self.ordered(ftype, key, value))
        if any(part.text == _FALSE for part in row):
            return _lit(_FALSE)
        parts = [self.field_row(spec.name, row)] if row else []
        return _and([*parts, *outer])

    def one_of(self, ftype: str | None, values: Sequence[Any]) -> _Sql:
        """Equal to any value; values of one column share an IN list."""
        if ftype == "multi_choice":
            return _or([self.includes(value) for value in values])
        by_column: dict[str, list[_Sql]] = {}
        for value in values:
            column, param = self.column_for(ftype, value)
            if column is not None:
                by_column.setdefault(column, []).append(param)
        tests = []
        for column, params in by_column.items():
            unique = list({part.params: part for part in params}.values())
            if len(unique) == 1:
                tests.append(_fmt(f"{column} = {{}}", unique[0]))
            else:
                tests.append(_fmt(f"{column} IN ({{}})", _join(", ", unique)))
        return _or(tests)

    def birthday(self, cond: Birthday) -> _Sql:
        """Month and day only (value_mmdd = month*100+day); a range may wrap past New Year."""
        spec = cond.birthday
        if spec.month is not None:
            month = self.now.astimezone(self.zone).month if spec.month == "current" else spec.month
            test = _Sql("ff.value_mmdd BETWEEN ? AND ?", (month * 100 + 1, month * 100 + 31))
        else:
            start, end = spec.from_, spec.to
            assert start is not None and end is not None  # the schema requires both
            if start <= end:
                test = _Sql("ff.value_mmdd BETWEEN ? AND ?", (start, end))
            else:
                test = _Sql("(ff.value_mmdd >= ? OR ff.value_mmdd <= ?)", (start, end))
        return self.field_row(spec.field, [test])


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool | date):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _check_dialect(dialect: str) -> str:
    if dialect not in DIALECTS:
        raise ValueError(f"unsupported database dialect {dialect!r} (expected sqlite or postgres)")
    return dialect


def compile_condition(
    cond: Condition,
    *,
    named: Mapping[str, Condition],
    zone: ZoneInfo,
    dialect: str,
    field_types: Mapping[str, str] | None = None,
    now: datetime | None = None,
    param_start: int = 1,
) -> tuple[str, list[Any]]:
    """A boolean SQL expression over alias `f` (friends) and its parameters.

    `named` resolves `segment:` references (SegmentError on unknown names and cycles);
    `field_types` (name → text, number, date, choice, multi_choice, bool) makes values
    compare as the declared type; `now` defaults to `bot.clock.now()`. On PostgreSQL the
    placeholders are numbered from `param_start`, for embedding after other parameters.
    """
    compiler = _Compiler(
        named=named,
        zone=zone,
        dialect=_check_dialect(dialect),
        field_types=field_types or {},
        now=now or clock.now(),
    )
    return _finish(compiler.compile(cond), dialect, param_start)


# --- queries -----------------------------------------------------------------------------

CondLike = Condition | str | Mapping[str, Any]
"""A condition, a named segment's name, or condition data still to validate."""


def _as_condition(cond: CondLike) -> Condition:
    if isinstance(cond, str):
        return SegmentRef(segment=cond)
    if isinstance(cond, Mapping):
        return validate_condition(cond)
    return cond


def _order_by(order: str) -> str:
    descending = order.startswith("-")
    column = order.removeprefix("-")
    if column not in ORDERS:
        raise ValueError(f"unknown order {order!r} (expected one of: {', '.join(ORDERS)})")
    direction = " DESC" if descending else ""
    if column == "id":
        return f"f.id{direction}"
    # NULLs last on both databases (their defaults differ), then id for stable pages.
    return f"(f.{column} IS NULL), f.{column}{direction}, f.id{direction}"


class Segments:
    """Segment queries bound to the scenario's named segments, time zone and field types.

    Blocked friends are included unless the condition says `blocked: false`.
    """

    def __init__(
        self,
        named: Mapping[str, Condition] | None = None,
        *,
        zone: ZoneInfo,
        field_types: Mapping[str, str] | None = None,
        connection: str = "default",
    ) -> None:
        self.named: Mapping[str, Condition] = dict(named or {})
        self.zone = zone
        self.field_types: Mapping[str, str] = dict(field_types or {})
        self.connection = connection

    def _db(self) -> Any:
        return connections.get(self.connection)

    @property
    def dialect(self) -> str:
        return str(self._db().capabilities.dialect)

    def compile(self, cond: CondLike, *, param_start: int = 1) -> tuple[str, list[Any]]:
        """The WHERE expression over alias `f` for `cond`, and its parameters."""
        return compile_condition(
            _as_condition(cond),
            named=self.named,
            zone=self.zone,
            dialect=self.dialect,
            field_types=self.field_types,
            param_start=param_start,
        )

    def sql_for(self, cond: CondLike, *, param_start: int = 1) -> tuple[str, list[Any]]:
        """`SELECT f.id FROM friends f WHERE ...`, e.g. for one INSERT ... SELECT in bulk.

        On PostgreSQL pass `param_start` = 1 + the number of parameters placed before it.
        """
        where, params = self.compile(cond, param_start=param_start)
        return f"SELECT f.id FROM friends f WHERE {where}", params

    async def _rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._db().execute_query_dict(sql, params)
        return rows

    def _next(self, params: list[Any]) -> str:
        """The placeholder for one more parameter after `params`."""
        return "?" if self.dialect == SQLITE else f"${len(params) + 1}"

    async def count(self, cond: CondLike) -> int:
        where, params = self.compile(cond)
        rows = await self._rows(f"SELECT COUNT(*) AS n FROM friends f WHERE {where}", params)
        return int(rows[0]["n"])

    async def friend_ids(
        self,
        cond: CondLike,
        *,
        offset: int = 0,
        limit: int | None = None,
        order: str = "id",
    ) -> list[int]:
        """Matching friend ids, a page at a time (`order` from ORDERS, "-" for descending)."""
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("offset and limit must not be negative")
        where, params = self.compile(cond)
        sql = f"SELECT f.id AS id FROM friends f WHERE {where} ORDER BY {_order_by(order)}"
        if limit is not None:
            sql += f" LIMIT {self._next(params)}"
            params.append(limit)
        elif offset and self.dialect == SQLITE:
            sql += " LIMIT -1"  # SQLite has no OFFSET without LIMIT
        if offset:
            sql += f" OFFSET {self._next(params)}"
            params.append(offset)
        return [int(row["id"]) for row in await self._rows(sql, params)]

    async def matches(self, cond: CondLike, friend_id: int) -> bool:
        """Whether one friend matches (the same SQL, limited to that friend)."""
        where, params = self.compile(cond)
        sql = f"SELECT 1 AS hit FROM friends f WHERE {where} AND f.id = {self._next(params)}"
        return bool(await self._rows(sql, [*params, friend_id]))

    async def matching_among(self, cond: CondLike, friend_ids: Iterable[int]) -> set[int]:
        """Which of these friends match, in one query however many ids there are."""
        ids = sorted({int(friend_id) for friend_id in friend_ids})
        if not ids:
            return set()
        where, params = self.compile(cond)
        mark = self._next(params)
        if self.dialect == SQLITE:
            among = f"f.id IN (SELECT value FROM json_each({mark}))"
            params.append(json.dumps(ids))
        else:
            among = f"f.id = ANY({mark}::int[])"
            params.append(ids)
        sql = f"SELECT f.id AS id FROM friends f WHERE {where} AND {among}"
        return {int(row["id"]) for row in await self._rows(sql, params)}


__all__ = [
    "DIALECTS",
    "ORDERS",
    "AnyCondition",
    "CondLike",
    "SegmentError",
    "Segments",
    "compile_condition",
]
