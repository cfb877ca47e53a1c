"""Step scenarios (ステップ配信), minimal form: steps at offsets from the start.

The delivery engine issue adds local send times, branching, quiet hours and analytics.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field

from bot.clock import parse_duration

from .actions import ActionList
from .crm import Duration
from .schema import MessageList, _Model


class Step(_Model):
    """One delivery: `after` the scenario started (0 = at once)."""

    after: Duration | Literal[0] = 0
    """Offset from the start, e.g. 0, 30m, 1d, 1w."""
    messages: MessageList | None = None
    do: ActionList | None = None
    """Actions run when the step is delivered (e.g. add_tag: レッスン1配信済)."""

    @property
    def offset(self) -> timedelta:
        return timedelta() if self.after in (0, "0") else parse_duration(str(self.after))


class StepScenario(_Model):
    """Steps delivered to a friend in order, each at its offset from the start."""

    on_restart: Literal["ignore", "restart"] = "ignore"
    """What starting it again while it runs does."""
    steps: Annotated[list[Step], Field(min_length=1)]
