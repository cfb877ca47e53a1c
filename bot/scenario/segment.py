"""The segment language (セグメント): conditions over friends, written in the scenario file.

A condition is a mapping with exactly one key (``tag``, ``field``, ``all`` ...), so a file
reads like a sentence and every key has one meaning. The models here only describe and
validate; `bot.crm.segments` compiles a condition into one SQL query.

Like schema.py, the union of condition kinds uses a callable discriminator whose tags read
like ``"cond:points"``; `errors.format_path` drops them, so an error inside a named segment
is reported as ``segments.vip.all[1].points.gte``. The one-key rule is checked before the
union is tried, so a typo says "unknown condition 'tga'" instead of a pydantic union dump.
"""

import math
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.clock import parse_duration
from bot.scenario.errors import describe_found

#: Separator in discriminator tags (see errors.format_path).
TAG_SEPARATOR = ":"

#: Every condition key, in the order the docs and error messages list them.
CONDITION_KEYS = (
    "all",
    "any",
    "not",
    "tag",
    "any_tags",
    "all_tags",
    "tag_added",
    "field",
    "birthday",
    "points",
    "score",
    "followed",
    "blocked",
    "segment",
)

#: Field types a scenario may declare (see segment_check).
FIELD_TYPES = ("text", "number", "date", "choice", "multi_choice", "bool")

Loc = tuple[str | int, ...]


def _issue(kind: str, message: str, at: Loc = ()) -> PydanticCustomError:
    """A validation error with a human message; `at` is a loc suffix below the model."""
    return PydanticCustomError(kind, message, {"at": at} if at else None)


# --- values ------------------------------------------------------------------------------


def _number_to_str(value: object) -> object:
    """Tag, field and segment names are text, but YAML reads `2024` as a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Name = Annotated[
    str,
    BeforeValidator(_number_to_str, json_schema_input_type=str | int),
    Field(min_length=1, max_length=100),
]
"""A tag, field, score or segment name."""

SegmentName = Name


def _duration(value: object) -> timedelta:
    """`7d`, `2h` ... through the same parser as every other duration in the file."""
    if not isinstance(value, str):
        raise _issue(
            "duration",
            f"must be a duration such as 30m, 2h, 7d or 1w (found {describe_found(value)})",
        )
    try:
        parsed = parse_duration(value)
    except ValueError:
        raise _issue("duration", "must be a duration such as 30m, 2h, 7d or 1w") from None
    if parsed <= timedelta():
        raise _issue("duration", "must be longer than 0")
    return parsed


Duration = Annotated[timedelta, BeforeValidator(_duration, json_schema_input_type=str)]

_TIME_POINT_RULE = (
    "must be a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM, optionally with an "
    "offset such as +09:00)"
)


def _time_point(value: object) -> datetime:
    """A date means its midnight; naive values are read in the scenario's zone later."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise _issue("time_point", _TIME_POINT_RULE)


TimePoint = Annotated[datetime, BeforeValidator(_time_point, json_schema_input_type=str)]
"""A moment: without an offset it is local time in the scenario's `timezone`."""


def _scalar(value: object) -> object:
    """Field values keep the kind YAML gave them: it picks the column when types are unknown."""
    if isinstance(value, datetime):
        raise _issue("field_value", "must be a date (YYYY-MM-DD) without a time")
    if isinstance(value, bool | int | float | date | str):
        if isinstance(value, float) and not math.isfinite(value):
            raise _issue("field_value", "must be a finite number")
        return value
    raise _issue(
        "field_value",
        f"must be text, a number, a date or true/false (found {describe_found(value)})",
    )


Scalar = Annotated[
    bool | int | float | date | str,
    BeforeValidator(_scalar, json_schema_input_type=str | float | bool),
]
"""A value compared with a field: text, a number, a date (YYYY-MM-DD) or true/false."""

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _ordered(value: object) -> object:
    """Only numbers and dates have an order; an ISO date written as text counts as a date."""
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise _issue("field_value", f"'{value}' is not a real date") from None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise _issue("field_value", "must be a number or a date (YYYY-MM-DD)")


Ordered = Annotated[
    int | float | date, BeforeValidator(_ordered, json_schema_input_type=str | float)
]


def _month_day(value: object) -> int:
    """`12-25` → 1225 (month*100+day, the value_mmdd column); Feb 29 is allowed."""
    text = value if isinstance(value, str) else ""
    match = re.fullmatch(r"\s*(\d{1,2})-(\d{1,2})\s*", text)
    if match:
        month, day = int(match.group(1)), int(match.group(2))
        if 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else _days_in(month)):
            return month * 100 + day
    raise _issue("month_day", "must be a month and day like 12-25 (MM-DD, in quotes)")


def _days_in(month: int) -> int:
    return 31 if month in (1, 3, 5, 7, 8, 10, 12) else 30


def _month(value: object) -> object:
    """One message for both spellings instead of one per union member."""
    if value == "current" or (
        isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 12
    ):
        return value
    raise _issue("month", "must be a month number 1 to 12, or current")


MonthDay = Annotated[int, BeforeValidator(_month_day, json_schema_input_type=str)]


# --- operator blocks ---------------------------------------------------------------------


class _Model(BaseModel):
    """Base of every segment object: unknown keys are errors, docstrings document keys."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        use_attribute_docstrings=True,
        field_title_generator=lambda name, _info: name,
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        """Name the allowed keys: errors.py cannot find this model below a `segments` map."""
        if isinstance(data, Mapping):
            allowed = [field.alias or name for name, field in cls.model_fields.items()]
            for key in data:
                if key not in allowed and key not in cls.model_fields:
                    raise _issue(
                        "unknown_key",
                        f"unknown key (expected one of: {', '.join(allowed)})",
                        (str(key),),
                    )
        return data

    def given(self, *keys: str) -> list[str]:
        """Which of `keys` were written (by their name in the file)."""
        return [key for key in keys if getattr(self, _attr(key)) is not None]


def _attr(key: str) -> str:
    """Attribute of a file key: `in` and `not` are Python keywords."""
    return f"{key}_" if key in ("in", "not", "from") else key


COMPARISONS = ("eq", "ne", "lt", "lte", "gt", "gte")


def _at_least_one(model: _Model, keys: tuple[str, ...], hint: str = "") -> None:
    if not model.given(*keys):
        raise _issue("no_operator", f"needs at least one of: {', '.join(keys)}{hint}")


class Comparison(_Model):
    """Whole-number comparisons; several keys must all hold (`gte: 10, lt: 20`)."""

    eq: int | None = None
    ne: int | None = None
    lt: int | None = None
    lte: int | None = None
    gt: int | None = None
    gte: int | None = None

    @model_validator(mode="after")
    def _some(self) -> "Comparison":
        _at_least_one(self, COMPARISONS)
        return self

    def holds(self, value: int) -> bool:
        """Whether `value` passes every operator (used for "a missing score is 0")."""
        checks = {
            "eq": value.__eq__,
            "ne": value.__ne__,
            "lt": value.__lt__,
            "lte": value.__le__,
            "gt": value.__gt__,
            "gte": value.__ge__,
        }
        return all(checks[key](getattr(self, key)) for key in self.given(*COMPARISONS))


class ScoreSpec(Comparison):
    """A named score; a friend without one has 0."""

    name: Name


def _check_range(after: datetime | None, before: datetime | None) -> None:
    """Catch a reversed range when both ends are comparable (both local or both absolute)."""
    if after is None or before is None:
        return
    if (after.tzinfo is None) != (before.tzinfo is None):
        return
    if before <= after:
        raise _issue("time_range", "must be later than after", ("before",))


class TimeRange(_Model):
    """A period: `after` (inclusive) and `before` (exclusive) moments, `within` the last
    duration, or `at_least` a duration ago. Given together, all must hold."""

    after: TimePoint | None = None
    """From this moment on (a date means its midnight in the scenario's time zone)."""
    before: TimePoint | None = None
    """Up to, not including, this moment."""
    within: Duration | None = None
    """In the last duration, e.g. 7d."""
    at_least: Duration | None = None
    """At least this long ago, e.g. 1d (経過期間)."""

    _RANGE_KEYS: ClassVar[tuple[str, ...]] = ("after", "before", "within", "at_least")

    @model_validator(mode="after")
    def _some(self) -> "TimeRange":
        _at_least_one(self, self._RANGE_KEYS)
        _check_range(self.after, self.before)
        return self


class TagAddedSpec(TimeRange):
    """When a tag was added. Without `ever`, only a tag the friend still holds counts."""

    tag: Name
    ever: bool = False
    """Look at every time the tag was added, even if it was removed since."""

    @model_validator(mode="after")
    def _some(self) -> "TagAddedSpec":
        if not self.ever:
            _at_least_one(
                self, self._RANGE_KEYS, " (to check that the friend has the tag, use tag: NAME)"
            )
        _check_range(self.after, self.before)
        return self


FIELD_OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "empty")


class FieldSpec(_Model):
    """A friend information field (友だち情報). `ne` holds when the field is empty."""

    name: Name
    eq: Scalar | None = None
    ne: Scalar | None = None
    """Not equal: true for friends with no value too."""
    lt: Ordered | None = None
    lte: Ordered | None = None
    gt: Ordered | None = None
    gte: Ordered | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    """Equal to one of these."""
    contains: Annotated[str, BeforeValidator(_number_to_str), Field(min_length=1)] | None = None
    """Text containing this, or a multiple choice including it."""
    empty: bool | None = None
    """true: no value (or an empty one); false: has a value."""

    @model_validator(mode="after")
    def _some(self) -> "FieldSpec":
        given = self.given(*FIELD_OPERATORS)
        if not given:
            raise _issue("no_operator", f"needs at least one of: {', '.join(FIELD_OPERATORS)}")
        if self.empty is True and len(given) > 1:
            raise _issue(
                "empty_conflict", "empty: true cannot be combined with other operators", ("empty",)
            )
        return self

    def operators(self) -> Iterator[tuple[str, Any]]:
        """(key in the file, value) for every operator written."""
        for key in self.given(*FIELD_OPERATORS):
            yield key, getattr(self, _attr(key))


class BirthdaySpec(_Model):
    """A date field's month and day, whatever the year: a month, or a MM-DD range."""

    field: Name
    """A date field, e.g. birthday."""
    month: Annotated[int | Literal["current"], BeforeValidator(_month)] | None = None
    """1 to 12, or current: this month in the scenario's time zone."""
    from_: MonthDay | None = Field(default=None, alias="from")
    """First day of the range, MM-DD (included)."""
    to: MonthDay | None = None
    """Last day of the range, MM-DD (included); before `from` it wraps past New Year."""

    @model_validator(mode="after")
    def _one_way(self) -> "BirthdaySpec":
        if self.month is not None:
            if self.from_ is not None or self.to is not None:
                raise _issue("birthday_kind", "use either month, or from and to, not both")
            return self
        if self.from_ is None and self.to is None:
            raise _issue("birthday_kind", "needs month, or from and to (MM-DD)")
        if self.from_ is None:
            raise _issue("required_with", "is required with to", ("from",))
        if self.to is None:
            raise _issue("required_with", "is required with from", ("to",))
        return self


# --- conditions --------------------------------------------------------------------------


class _Condition(_Model):
    """One condition: a mapping with the single key `KEY`."""

    KEY: ClassVar[str]


class AllOf(_Condition):
    """Every condition holds (AND)."""

    KEY: ClassVar[str] = "all"
    all: list["Condition"] = Field(min_length=1)


class AnyOf(_Condition):
    """At least one condition holds (OR)."""

    KEY: ClassVar[str] = "any"
    any: list["Condition"] = Field(min_length=1)


class Not(_Condition):
    """The condition does not hold."""

    KEY: ClassVar[str] = "not"
    not_: "Condition" = Field(alias="not")


class HasTag(_Condition):
    """The friend has this tag now."""

    KEY: ClassVar[str] = "tag"
    tag: Name


class AnyTags(_Condition):
    """The friend has at least one of these tags."""

    KEY: ClassVar[str] = "any_tags"
    any_tags: list[Name] = Field(min_length=1)


class AllTags(_Condition):
    """The friend has every one of these tags."""

    KEY: ClassVar[str] = "all_tags"
    all_tags: list[Name] = Field(min_length=1)


class TagAdded(_Condition):
    """A tag was added in a period (the friend still holds it unless `ever: true`)."""

    KEY: ClassVar[str] = "tag_added"
    tag_added: TagAddedSpec


class FieldCondition(_Condition):
    """A friend information field compares to values."""

    KEY: ClassVar[str] = "field"
    field: FieldSpec


class Birthday(_Condition):
    """A date field falls in a month or a MM-DD range, whatever the year."""

    KEY: ClassVar[str] = "birthday"
    birthday: BirthdaySpec


class Points(_Condition):
    """The friend's points balance compares to numbers."""

    KEY: ClassVar[str] = "points"
    points: Comparison


class Score(_Condition):
    """A named score compares to numbers (missing = 0)."""

    KEY: ClassVar[str] = "score"
    score: ScoreSpec


class Followed(_Condition):
    """When the friend (last) added the account."""

    KEY: ClassVar[str] = "followed"
    followed: TimeRange


class Blocked(_Condition):
    """Whether the friend has blocked the account."""

    KEY: ClassVar[str] = "blocked"
    blocked: bool


class SegmentRef(_Condition):
    """Another named segment, from the scenario's `segments`."""

    KEY: ClassVar[str] = "segment"
    segment: SegmentName


_MEMBERS: tuple[type[_Condition], ...] = (
    AllOf,
    AnyOf,
    Not,
    HasTag,
    AnyTags,
    AllTags,
    TagAdded,
    FieldCondition,
    Birthday,
    Points,
    Score,
    Followed,
    Blocked,
    SegmentRef,
)
assert tuple(member.KEY for member in _MEMBERS) == CONDITION_KEYS


def _pick(value: Any) -> str | None:
    """The union tag: the one key of a mapping, or the KEY of an already built condition."""
    if isinstance(value, _Condition):
        return f"cond{TAG_SEPARATOR}{value.KEY}"
    if isinstance(value, Mapping) and len(value) == 1:
        return f"cond{TAG_SEPARATOR}{next(iter(value))}"
    return None


_KEY_LIST = ", ".join(CONDITION_KEYS)


def _one_key(value: Any) -> Any:
    """Exactly one known key, with a message that says which rule was broken."""
    if isinstance(value, _Condition):
        return value
    if not isinstance(value, Mapping):
        raise _issue(
            "condition",
            f"must be a condition: a mapping with one key such as tag, field or all "
            f"(found {describe_found(value)})",
        )
    keys = list(value)
    for key in keys:
        if key not in CONDITION_KEYS:
            raise _issue(
                "condition_key",
                f"unknown condition '{key}' (expected one of: {_KEY_LIST})",
                (str(key),),
            )
    if not keys:
        raise _issue("condition_key", f"must have one condition key (one of: {_KEY_LIST})")
    if len(keys) > 1:
        raise _issue(
            "condition_keys",
            f"must have exactly one condition key (found {', '.join(map(str, keys))}); "
            "put several conditions in all: [...] or any: [...]",
        )
    return value


Condition = Annotated[
    Annotated[
        Annotated[AllOf, Tag("cond:all")]
        | Annotated[AnyOf, Tag("cond:any")]
        | Annotated[Not, Tag("cond:not")]
        | Annotated[HasTag, Tag("cond:tag")]
        | Annotated[AnyTags, Tag("cond:any_tags")]
        | Annotated[AllTags, Tag("cond:all_tags")]
        | Annotated[TagAdded, Tag("cond:tag_added")]
        | Annotated[FieldCondition, Tag("cond:field")]
        | Annotated[Birthday, Tag("cond:birthday")]
        | Annotated[Points, Tag("cond:points")]
        | Annotated[Score, Tag("cond:score")]
        | Annotated[Followed, Tag("cond:followed")]
        | Annotated[Blocked, Tag("cond:blocked")]
        | Annotated[SegmentRef, Tag("cond:segment")],
        Discriminator(
            _pick,
            custom_error_type="condition_key",
            custom_error_message=f"must have exactly one condition key (one of: {_KEY_LIST})",
        ),
    ],
    BeforeValidator(_one_key),
]
"""One segment condition: a mapping with exactly one of the keys in CONDITION_KEYS."""

AnyCondition = (
    AllOf
    | AnyOf
    | Not
    | HasTag
    | AnyTags
    | AllTags
    | TagAdded
    | FieldCondition
    | Birthday
    | Points
    | Score
    | Followed
    | Blocked
    | SegmentRef
)
"""The classes a validated Condition can be, for isinstance checks and type hints."""

for _member in (AllOf, AnyOf, Not):
    _member.model_rebuild()

#: The scenario's top-level `segments:` key: name → condition.
NamedSegments = dict[SegmentName, Condition]

_ADAPTER: TypeAdapter[AnyCondition] = TypeAdapter(Condition)


def validate_condition(data: Any) -> AnyCondition:
    """Validate one condition (YAML data or an already built one); raises ValidationError.

    Turn the error into readable issues with `errors.issues_from_validation_error`.
    """
    return _ADAPTER.validate_python(data)


def condition_json_schema() -> dict[str, Any]:
    """JSON Schema of one condition, for editors."""
    return _ADAPTER.json_schema(mode="validation")


def children(cond: AnyCondition) -> Iterator[tuple[Loc, AnyCondition]]:
    """The direct sub-conditions of `cond` with their location relative to it."""
    if isinstance(cond, AllOf):
        for index, child in enumerate(cond.all):
            yield ("all", index), child
    elif isinstance(cond, AnyOf):
        for index, child in enumerate(cond.any):
            yield ("any", index), child
    elif isinstance(cond, Not):
        yield ("not",), cond.not_


def walk(cond: AnyCondition, loc: Loc = ()) -> Iterator[tuple[Loc, AnyCondition]]:
    """Every condition in the tree (named references are not followed), depth first."""
    yield loc, cond
    for sub, child in children(cond):
        yield from walk(child, (*loc, *sub))


def references(cond: AnyCondition) -> Iterator[tuple[Loc, str]]:
    """Named segments `cond` refers to directly, with the location of each `segment` key."""
    for loc, node in walk(cond):
        if isinstance(node, SegmentRef):
            yield (*loc, "segment"), node.segment
