"""SKELETON (being written): InflowRoutes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.automation.actions import ActionRunner
    from bot.config import Settings
    from bot.crm.service import Crm
    from bot.integrations.refs import FriendRefs
    from bot.scenario import Scenario


class InflowRoutes:
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

    def looks_like_visit_code(self, text: str) -> bool:
        return False

    async def claim_code(self, friend_id: int, text: str) -> str:
        raise NotImplementedError


def setup_routes(app: web.Application) -> None:
    """Add this integration's HTTP routes."""


# Called by bot/handlers/integrations.py for every text message of a friend:
def _interface_note() -> None:
    """InflowRoutes.looks_like_visit_code(text) -> bool and
    InflowRoutes.claim_code(friend_id, text) -> str (an outcome for the logs)."""
