"""SKELETON (being written): StripePayments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.automation.actions import ActionRunner
    from bot.config import Settings
    from bot.crm.service import Crm
    from bot.integrations.refs import FriendRefs
    from bot.scenario import Scenario


class StripePayments:
    def __init__(
        self,
        scenario: Scenario,
        crm: Crm,
        actions: ActionRunner,
        settings: Settings,
        refs: FriendRefs,
    ) -> None:
        self.scenario = scenario
        self.crm = crm
        self.actions = actions
        self.settings = settings
        self.refs = refs


def setup_stripe(app: web.Application) -> None:
    """Add this integration's HTTP routes."""
