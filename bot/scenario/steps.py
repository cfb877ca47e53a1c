"""Step scenarios (ステップ配信) and reminders (リマインダ配信).

A step is due at an offset from the run's start (`after: 1w`), optionally at a local time
on the day the offset lands (`at: "10:00"`, in the scenario's time zone). A reminder's steps
are placed around a date field instead (`before: 3d`, `on_day`, `after: 1d`). Each step may
be sent only if a condition holds, or branch to other messages by condition.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.clock import parse_duration

from .actions import ActionList
from .crm import Duration
from .rules import Trigger
from .schema import MessageList, _Model
from .segment import Condition
from .variants import AbTest, Variants, check_variant_names

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _zero_is_now(value: object) -> object:
    return "0s" if value in (0, "0") else value


Offset = Annotated[Duration, BeforeValidator(_zero_is_now, json_schema_input_type=str | int)]


def _clock_time(value: object) -> object:
    if not isinstance(value, str) or not _CLOCK.match(value.strip()):
        raise PydanticCustomError("clock_time", 'must be a time of day such as "10:00"')
    return value.strip()


ClockTime = Annotated[str, BeforeValidator(_clock_time)]


def parse_clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class Branch(_Model):
    """Alternative content for friends who match `if` (the first matching branch wins)."""

    name: str | None = None
    """A label for statistics (e.g. 男性向け)."""
    if_: Condition = Field(alias="if")
    messages: MessageList | None = None
    do: ActionList | None = None


class Step(_Model):
    """One delivery of a step scenario or reminder."""

    name: str | None = None
    """A label for statistics (e.g. レッスン2)."""
    after: Offset | None = None
    """Step scenarios: offset from the start (0, 30m, 1d, 1w). Reminders: after the date."""
    before: Offset | None = None
    """Reminders only: this long before the date (3d)."""
    on_day: bool = False
    """Reminders only: on the date itself."""
    at: ClockTime | None = None
    """Local time on the day the offset lands, e.g. "10:00"."""
    if_: Condition | None = Field(default=None, alias="if")
    """Send only to friends who match; the others skip this step."""
    branches: list[Branch] | None = None
    """Other messages for friends matching a branch; `messages` is for everyone else."""
    messages: MessageList | None = None
    variants: Variants | None = None
    """An A/B test: versions of the messages, each friend getting one (instead of messages;
    friends in a branch get the branch's messages and are not part of the test)."""
    ab_test: AbTest | None = None
    """How the variants are judged (a conversion tag, or taps)."""
    do: ActionList | None = None
    """Actions when the step is delivered, whichever branch (e.g. add_tag: レッスン2配信済)."""

    @model_validator(mode="after")
    def _has_content(self) -> Step:
        if not (self.messages or self.variants or self.branches or self.do):
            raise PydanticCustomError(
                "step_content", "a step needs messages, variants, branches or do (actions)"
            )
        if self.messages and self.variants:
            raise PydanticCustomError("step_content", "give messages or variants, not both")
        if self.ab_test is not None and self.variants is None:
            raise PydanticCustomError("ab_test", "ab_test needs variants to compare")
        if self.ab_test is not None and self.ab_test.test_share is not None:
            raise PydanticCustomError(
                "ab_test", "test_share is for broadcasts: a step's variants go to everyone"
            )
        check_variant_names(self.variants)
        given = [k for k in ("after", "before") if getattr(self, k) is not None]
        if self.on_day:
            given.append("on_day")
        if len(given) > 1:
            raise PydanticCustomError(
                "step_offset", "give one of after, before, on_day (found {found})",
                {"found": ", ".join(given)},
            )  # fmt: skip
        return self

    def offset(self) -> timedelta:
        if self.before is not None:
            return -parse_duration(self.before)
        if self.after is not None:
            return parse_duration(self.after)
        return timedelta()


class StepScenario(_Model):
    """Steps delivered to a friend in order, each at its own time."""

    trigger: list[Trigger] | None = None
    """Start automatically when one of these happens (followed, tag_added: X, …)."""
    trigger_if: Condition | None = None
    """…and the friend matches this."""
    stop_if: Condition | None = None
    """Stop the run (nothing more is sent) once the friend matches, e.g. {tag: 退会者}."""
    on_restart: Literal["ignore", "restart"] = "ignore"
    """What starting it again while it runs does."""
    steps: Annotated[list[Step], Field(min_length=1)]

    @field_validator("trigger", mode="before")
    @classmethod
    def _one_or_list(cls, value: object) -> object:
        return [value] if isinstance(value, dict | str) else value

    @model_validator(mode="after")
    def _offsets(self) -> StepScenario:
        for index, step in enumerate(self.steps):
            if step.before is not None or step.on_day:
                raise PydanticCustomError(
                    "step_offset",
                    "steps[{index}]: before / on_day are for reminders; use after",
                    {"index": index},
                )
        return self


class Reminder(_Model):
    """Messages placed around a date field of the friend (an event day, a booking)."""

    field: Annotated[str, Field(min_length=1)]
    """The date field; setting or changing it (re)schedules the reminder."""
    stop_if: Condition | None = None
    steps: Annotated[list[Step], Field(min_length=1)]


class QuietHours(_Model):
    """Deliveries due in this window wait until it ends (e.g. 22:00 to 08:00)."""

    from_: ClockTime = Field(alias="from")
    to: ClockTime


def _yaml_off(value: object) -> object:
    """YAML reads a bare `off` as false."""
    return "off" if value is False else value


class DeliverySettings(_Model):
    """How scheduled deliveries behave."""

    quiet_hours: QuietHours | None = None
    max_delay: Duration = "24h"
    """A delivery more overdue than this (after downtime) is skipped and recorded, not sent."""
    track_links: Annotated[
        Literal["off", "message", "friend"], BeforeValidator(_yaml_off, json_schema_input_type=str)
    ] = "off"
    """Count taps on `uri` actions through our redirect: `friend` knows who tapped (each
    friend gets their own link, so those messages go as pushes, not multicasts), `message`
    only counts taps (multicasts stay), `off` sends the URLs as written."""


def step_due(anchor: datetime, step: Step, zone: ZoneInfo, *, reminder: bool = False) -> datetime:
    """When a step is due: anchor + offset, at the step's local time on that day.

    For a step scenario, a local time earlier than the start on the same day means the next
    day. For a reminder the anchor is the date itself (local midnight)."""
    base = anchor + step.offset()
    if step.at is None:
        return base
    local_day: date = base.astimezone(zone).date()
    due = datetime.combine(local_day, parse_clock(step.at), tzinfo=zone)
    if not reminder and due < base - timedelta(minutes=1) and step.offset() < timedelta(days=1):
        due += timedelta(days=1)
    return due


def after_quiet_hours(due: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """Move a due time out of the quiet window, to the window's end."""
    if quiet is None:
        return due
    start, end = parse_clock(quiet.from_), parse_clock(quiet.to)
    local = due.astimezone(zone)
    moment = local.time()
    wraps = start > end
    inside = (moment >= start or moment < end) if wraps else (start <= moment < end)
    if not inside:
        return due
    day = local.date()
    if wraps and moment >= start:
        day += timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)
