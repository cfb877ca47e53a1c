"""Broadcasts (一斉配信): to everyone or a segment, with exclusions, once or on a schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from apscheduler.triggers.cron import CronTrigger
from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .schema import MessageList, _Model
from .segment import Condition
from .variants import AbTest, Variants, check_variant_names


def _local_time(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("time_point", 'must be a time such as "2027-06-01 10:00"')
    try:
        return datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        raise PydanticCustomError(
            "time_point", 'must be a time such as "2027-06-01 10:00" (found {value!r})',
            {"value": value},
        ) from None  # fmt: skip


LocalTime = Annotated[datetime, BeforeValidator(_local_time, json_schema_input_type=str)]


class Broadcast(_Model):
    """Messages to everyone who follows the account, or to a segment."""

    to: Condition | None = None
    """Who gets it (a segment condition); everyone when left out. Blocked friends never."""
    exclude: Condition | None = None
    """Who does not, even if they match `to` (e.g. {tag: 決済完了者})."""
    at: LocalTime | None = None
    """Once, at this time (the scenario's time zone unless an offset is given)."""
    cron: str | None = None
    """Repeatedly, e.g. "0 10 1 * *" for 10:00 on the 1st of every month."""
    messages: MessageList | None = None
    variants: Variants | None = None
    """An A/B test: versions of the messages, each friend getting one (instead of messages)."""
    ab_test: AbTest | None = None
    """How the variants are judged, and optionally the winner sent to the rest."""

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise PydanticCustomError(
                    "cron", "invalid cron expression '{value}': {reason}",
                    {"value": value, "reason": str(exc)},
                ) from None  # fmt: skip
        return value

    @model_validator(mode="after")
    def _when(self) -> Broadcast:
        if (self.at is None) == (self.cron is None):
            raise PydanticCustomError("broadcast_when", "give exactly one of: at, cron")
        if (self.messages is None) == (self.variants is None):
            raise PydanticCustomError(
                "broadcast_content", "give exactly one of: messages, variants"
            )
        if self.ab_test is not None and self.variants is None:
            raise PydanticCustomError("ab_test", "ab_test needs variants to compare")
        if self.ab_test and self.ab_test.test_share and self.cron:
            raise PydanticCustomError(
                "ab_test",
                "test_share (winner to the rest) is for a broadcast sent once (at), not cron",
            )
        check_variant_names(self.variants)
        return self


BroadcastName = Annotated[str, Field(min_length=1, max_length=100)]

#: Broadcasts admins compose in chat are recorded under this prefix; the file cannot use it.
CHAT_BROADCAST_PREFIX = "chat:"
