"""What handlers need at hand: settings, the LINE client, the outbox, the scenario, the router."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.automation.outbox import Outbox
from bot.config import Settings
from bot.line.client import LineClient

if TYPE_CHECKING:
    from bot.handlers.router import Router
    from bot.scenario import Scenario


@dataclass
class Services:
    settings: Settings
    scenario: Scenario
    router: Router
    line: LineClient
    outbox: Outbox = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.line)
