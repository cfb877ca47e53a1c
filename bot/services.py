"""What handlers need at hand: settings, the LINE client, the outbox, the scenario, the router.

Everything built from the scenario is rebuilt in place when the scenario is reloaded
(`use_scenario`): the dispatcher, the ticks and the web handlers all hold this one object, so
the next thing any of them does uses the new scenario. What lives beyond one scenario stays:
the LINE client (its connections and rate limiters), the outbox, the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.admin.broadcasts import ChatBroadcasts
from bot.automation.actions import ActionRunner
from bot.automation.broadcasts import Broadcaster
from bot.automation.expiry_notices import ExpiryNotices
from bot.automation.links import LinkTracker
from bot.automation.outbox import Outbox
from bot.automation.rules import RuleEngine
from bot.automation.steps import StepRunner
from bot.config import Settings
from bot.crm.service import Crm
from bot.integrations.inbound import InboundHooks
from bot.integrations.refs import FriendRefs
from bot.integrations.routes import InflowRoutes
from bot.integrations.shopify import ShopOrders
from bot.integrations.stripe import StripePayments
from bot.line.client import LineClient
from bot.richmenus.assignment import MenuAssigner
from bot.richmenus.lifecycle import bring_up, keep_trying
from bot.states.lessons import LessonCourses
from bot.states.stamps import StampRallies
from bot.states.survey import SurveyTalks

if TYPE_CHECKING:
    from bot.handlers.router import Router
    from bot.scenario import Scenario

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    scenario: Scenario
    router: Router
    line: LineClient
    scenario_hash: str | None = None
    """SHA-256 of the scenario file's bytes this process runs (None: not read from it)."""
    outbox: Outbox = field(init=False)
    links: LinkTracker = field(init=False)
    crm: Crm = field(init=False)
    actions: ActionRunner = field(init=False)
    steps: StepRunner = field(init=False)
    rules: RuleEngine = field(init=False)
    broadcasts: Broadcaster = field(init=False)
    chat_broadcasts: ChatBroadcasts = field(init=False)
    expiry_notices: ExpiryNotices = field(init=False)
    surveys: SurveyTalks = field(init=False)
    stamps: StampRallies = field(init=False)
    lessons: LessonCourses = field(init=False)
    menus: MenuAssigner = field(init=False)
    refs: FriendRefs = field(init=False)
    """Signed friend references handed to Stripe and Shopify (bot/integrations/refs.py)."""
    payments: StripePayments = field(init=False)
    shop: ShopOrders = field(init=False)
    hooks: InboundHooks = field(init=False)
    routes: InflowRoutes = field(init=False)
    scenario_listeners: list[Callable[[Services], None]] = field(default_factory=list, init=False)
    """Called after each scenario swap, for parts held outside (the LIFF forms)."""
    scenario_reload_seen: int | None = field(default=None, init=False)
    """The newest `scenario_reloads` row this process has acted on (bot/admin/reload.py)."""
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    """One scenario reload at a time in this process (an admin's, or following another's)."""
    _menu_task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.line)
        self.refs = FriendRefs(self.settings.channel_secret)
        self._assemble(self.scenario, self.router, Crm(self.scenario))

    def _assemble(self, scenario: Scenario, router: Router, crm: Crm) -> None:
        """Build every part that depends on the scenario. No await in here: the event loop
        never runs anything between the first part swapped and the last."""
        self.scenario = scenario
        self.router = router
        self.crm = crm
        self.links = LinkTracker(
            scenario.delivery.track_links,
            self.settings.base_url,
            self.settings.channel_secret,
            crm.bus,
        )
        self.actions = ActionRunner(crm, self.outbox, self.links)
        self.steps = StepRunner(scenario, self.actions, self.outbox)
        self.rules = RuleEngine(scenario, crm, self.actions)
        self.broadcasts = Broadcaster(scenario, crm, self.outbox, self.links)
        self.chat_broadcasts = ChatBroadcasts(scenario, crm, self.outbox, self.broadcasts)
        self.expiry_notices = ExpiryNotices(scenario, crm, self.outbox)
        self.surveys = SurveyTalks(scenario, crm, self.actions)
        self.stamps = StampRallies(scenario, crm, self.actions)
        self.lessons = LessonCourses(scenario, self.actions)
        self.menus = MenuAssigner(scenario, crm.segments, self.line)
        self.menus.subscribe(crm.bus)
        self.actions.surveys = self.surveys
        self.actions.stamps = self.stamps
        self.actions.lessons = self.lessons
        self.actions.menus = self.menus
        wiring = (scenario, crm, self.actions, self.settings, self.refs)
        self.payments = StripePayments(*wiring)
        self.shop = ShopOrders(*wiring)
        self.hooks = InboundHooks(*wiring)
        self.routes = InflowRoutes(*wiring)

    async def use_scenario(self, scenario: Scenario, content_hash: str | None) -> None:
        """Run `scenario` from now on (a reload): every scenario part and the router are
        rebuilt on this object, the declared tags are created, and the rich menus are
        brought up again beside the server. Work already under way finishes with the parts
        it started with."""
        from bot.handlers.setup import build_router  # the handlers import this module

        router = build_router(scenario)
        crm = Crm(scenario)
        await crm.sync()
        previous = self.menus
        self._assemble(scenario, router, crm)
        self.scenario_hash = content_hash
        # Until the menus are synced again, links keep using the menus LINE has.
        self.menus.catalog = dict(previous.catalog)
        for listener in self.scenario_listeners:
            listener(self)
        await self.start_menus()

    # --- rich menus beside the server ---------------------------------------------------

    async def start_menus(self) -> None:
        """Bring the scenario's rich menus up in the background (bot/richmenus/lifecycle.py),
        stopping a bring-up still running for an earlier scenario first. Friends shown a
        menu whose content changed are moved to the new one there."""
        await self.stop_menus()
        menus = self.menus
        if not self.scenario.rich_menus:
            menus.ready.set()
            return
        attempt = functools.partial(
            bring_up,
            self.scenario,
            self.line,
            menus,
            folder=self.settings.scenario_path.parent,
            liff_id=self.settings.liff_id,
        )
        self._menu_task = asyncio.create_task(keep_trying(attempt, menus.ready))

    async def stop_menus(self) -> None:
        """Cancel the menus' bring-up if it is still running (shutdown, or a reload)."""
        task, self._menu_task = self._menu_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
