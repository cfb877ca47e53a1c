"""Declarations of the CRM in the scenario: tags, friend fields, points and scores."""

from __future__ import annotations

from datetime import time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from bot.clock import parse_duration

from .actions import TagName, TagNames
from .errors import describe_found
from .schema import MessageList, _Model

if TYPE_CHECKING:
    # steps.py (and what it imports) needs `Duration` from here, so step times cannot be
    # imported at run time: document.py completes `ExpiryNotice` with them.
    from .steps import ClockTime


def _duration(value: object) -> object:
    if isinstance(value, str):
        try:
            parse_duration(value)
        except ValueError as exc:
            raise PydanticCustomError("duration", str(exc)) from None
    return value


Duration = Annotated[str, BeforeValidator(_duration)]


def _whole_days(value: object) -> object:
    """A notice goes out on a calendar day, so its distance from the expiry day is whole days."""
    if not isinstance(value, str):
        raise PydanticCustomError(
            "whole_days",
            "must be a number of days such as 7d (found {found})",
            {"found": describe_found(value)},
        )
    try:
        length = parse_duration(value)
    except ValueError:
        length = None
    if length is None or length < timedelta(days=1) or length % timedelta(days=1):
        raise PydanticCustomError(
            "whole_days",
            "must be a whole number of days such as 7d (found '{value}')",
            {"value": value},
        )
    return value


WholeDays = Annotated[str, BeforeValidator(_whole_days)]


class TagDeclaration(_Model):
    """A tag, optionally in a folder (folders only group tags for people)."""

    name: TagName
    folder: str | None = None


class TagFolder(_Model):
    """A folder of tags: `- folder: 流入経路` with `tags: [...]`."""

    folder: Annotated[str, Field(min_length=1, max_length=100)]
    tags: TagNames


def _tag_shorthand(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


TagEntry = Annotated[
    TagDeclaration | TagFolder,
    BeforeValidator(_tag_shorthand, json_schema_input_type=str | TagDeclaration | TagFolder),
]

FieldType = Literal["text", "number", "date", "choice", "multi_choice", "bool"]


class FieldDeclaration(_Model):
    """A friend field (友だち情報欄): its type decides what values are accepted."""

    type: FieldType
    label: str | None = None
    """How people see the field (defaults to its name)."""
    choices: list[Annotated[str, Field(min_length=1)]] | None = None
    """The allowed values of a choice or multi_choice field."""
    min: float | None = None
    """Smallest number allowed (number fields)."""
    max: float | None = None
    """Largest number allowed (number fields)."""
    max_length: Annotated[int, Field(gt=0)] = 1000
    """Longest text allowed (text fields)."""
    pattern: str | None = None
    """A regular expression a text value must match in full."""

    @model_validator(mode="after")
    def _consistent(self) -> FieldDeclaration:
        if self.type in ("choice", "multi_choice"):
            if not self.choices:
                raise PydanticCustomError(
                    "field_choices", "a {kind} field needs `choices`", {"kind": self.type}
                )
            if len(set(self.choices)) != len(self.choices):
                raise PydanticCustomError("field_choices", "choices must not repeat")
        elif self.choices is not None:
            raise PydanticCustomError(
                "field_choices", "only choice and multi_choice fields have `choices`"
            )
        if (self.min is not None or self.max is not None) and self.type != "number":
            raise PydanticCustomError("field_range", "only number fields have `min` and `max`")
        return self


class ExpiryNotice(_Model):
    """Tell friends ahead of time that points are about to expire: once per earning, and
    earnings of a friend expiring around the same time in one message."""

    before: WholeDays
    """How many days before the day the points expire, e.g. 7d (whole days)."""
    at: ClockTime = "10:00"
    """Local time of day the notice goes out (the scenario's time zone)."""
    messages: MessageList
    """1 to 5 messages; besides friend and now they may use expiring.points (how many points
    expire), expiring.date (the first day they expire) and expiring.last_date."""

    @property
    def days(self) -> int:
        """`before` in days (validated to be whole days)."""
        return parse_duration(self.before).days

    @property
    def time_of_day(self) -> time:
        from .steps import parse_clock

        return parse_clock(self.at)


class PointsSettings(_Model):
    """How points behave."""

    expires_after: Duration | None = None
    """Earned points expire this long after they were earned, e.g. 365d (default: never)."""
    allow_negative: bool = False
    """Whether removing points may take the balance below zero."""
    unit: str = "ポイント"
    """What points are called in messages."""
    expiry_notice: ExpiryNotice | None = None
    """Tell friends before their points expire, e.g. {before: 7d, at: "10:00", messages: [...]}
    (needs expires_after)."""

    @property
    def lifetime(self) -> timedelta | None:
        return parse_duration(self.expires_after) if self.expires_after else None

    @model_validator(mode="after")
    def _notice_needs_expiry(self) -> PointsSettings:
        notice = self.expiry_notice
        if notice is None:
            return self
        lifetime = self.lifetime
        if lifetime is None:
            raise PydanticCustomError(
                "expiry_notice",
                "needs points.expires_after (e.g. expires_after: 365d): "
                "without it points never expire",
                {"at": ("expiry_notice",)},
            )
        if timedelta(days=notice.days) >= lifetime:
            raise PydanticCustomError(
                "expiry_notice",
                "must be shorter than expires_after ({expires_after})",
                {"expires_after": self.expires_after, "at": ("expiry_notice", "before")},
            )
        return self


ScoreEvent = Literal[
    "message", "postback", "followed", "form_submitted", "survey_completed", "tag_added"
]


class ScoreDecay(_Model):
    """Lower the score while a friend is inactive: `by` every `every` without an event."""

    every: Duration
    by: Annotated[int, Field(gt=0)] = 1
    min: int = 0


class ScoreDeclaration(_Model):
    """A named counter beside points (スコアリング), moved by the friend's activity."""

    label: str | None = None
    events: dict[ScoreEvent, int] = Field(default_factory=dict)
    """How much each kind of event moves the score, e.g. {message: 1, postback: 2}.
    (Not `on:`, which YAML reads as true.)"""
    decay: ScoreDecay | None = None


def field_type_map(fields: dict[str, FieldDeclaration]) -> dict[str, str]:
    return {name: decl.type for name, decl in fields.items()}


def declared_tags(entries: list[Any]) -> dict[str, str | None]:
    """Tag name → folder, in file order."""
    out: dict[str, str | None] = {}
    for entry in entries:
        if isinstance(entry, TagFolder):
            for name in entry.tags:
                out[name] = entry.folder
        else:
            out[entry.name] = entry.folder
    return out
