"""The CRM as the rest of the bot sees it: tags, fields, points, scores and segments,
all publishing their changes on one event bus."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.crm.events import EventBus
from bot.crm.fields import FieldService
from bot.crm.points import PointService
from bot.crm.scores import ScoreService
from bot.crm.segments import Segments
from bot.crm.tags import TagService, sync_declared

if TYPE_CHECKING:
    from bot.scenario import Scenario


class Crm:
    def __init__(self, scenario: Scenario, bus: EventBus | None = None) -> None:
        self.scenario = scenario
        self.bus = bus or EventBus()
        self.tags = TagService(self.bus)
        self.fields = FieldService(self.bus, scenario.fields)
        self.points = PointService(
            self.bus,
            lifetime=scenario.points.lifetime,
            allow_negative=scenario.points.allow_negative,
        )
        self.scores = ScoreService(self.bus, scenario.scores)
        self.segments = Segments(
            scenario.segments,
            zone=scenario.zone,
            field_types={name: decl.type for name, decl in scenario.fields.items()},
        )

    async def sync(self) -> None:
        """Make the database know every tag the scenario declares."""
        await sync_declared(self.scenario.tag_folders)
