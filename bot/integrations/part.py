"""What every integration is built from: one per scenario (bot/services.py rebuilds them on a
reload), with the parts of stepbot it acts through."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.automation.actions import ActionRunner
    from bot.config import Settings
    from bot.crm.service import Crm
    from bot.integrations.refs import FriendRefs
    from bot.scenario import Scenario


class IntegrationPart:
    """Holds what every integration acts through; `prepare` is where one builds its own
    parts from them."""

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
        self.prepare()

    def prepare(self) -> None:
        """Build what this integration needs beyond the shared parts (nothing by default)."""
