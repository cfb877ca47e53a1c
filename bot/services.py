"""What handlers need at hand: settings, the LINE client, the outbox, the scenario, the router."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.automation.actions import ActionRunner
from bot.automation.broadcasts import Broadcaster
from bot.automation.expiry_notices import ExpiryNotices
from bot.automation.links import LinkTracker
from bot.automation.outbox import Outbox
from bot.automation.rules import RuleEngine
from bot.automation.steps import StepRunner
from bot.config import Settings
from bot.crm.service import Crm
from bot.line.client import LineClient
from bot.richmenus.assignment import MenuAssigner
from bot.states.lessons import LessonCourses
from bot.states.stamps import StampRallies
from bot.states.survey import SurveyTalks

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
    links: LinkTracker = field(init=False)
    crm: Crm = field(init=False)
    actions: ActionRunner = field(init=False)
    steps: StepRunner = field(init=False)
    rules: RuleEngine = field(init=False)
    broadcasts: Broadcaster = field(init=False)
    expiry_notices: ExpiryNotices = field(init=False)
    surveys: SurveyTalks = field(init=False)
    stamps: StampRallies = field(init=False)
    lessons: LessonCourses = field(init=False)
    menus: MenuAssigner = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.line)
        self.crm = Crm(self.scenario)
        self.links = LinkTracker(
            self.scenario.delivery.track_links,
            self.settings.base_url,
            self.settings.channel_secret,
            self.crm.bus,
        )
        self.actions = ActionRunner(self.crm, self.outbox, self.links)
        self.steps = StepRunner(self.scenario, self.actions, self.outbox)
        self.rules = RuleEngine(self.scenario, self.crm, self.actions)
        self.broadcasts = Broadcaster(self.scenario, self.crm, self.outbox, self.links)
        self.expiry_notices = ExpiryNotices(self.scenario, self.crm, self.outbox)
        self.surveys = SurveyTalks(self.scenario, self.crm, self.actions)
        self.stamps = StampRallies(self.scenario, self.crm, self.actions)
        self.lessons = LessonCourses(self.scenario, self.actions)
        self.menus = MenuAssigner(self.scenario, self.crm.segments, self.line)
        self.menus.subscribe(self.crm.bus)
        self.actions.surveys = self.surveys
        self.actions.stamps = self.stamps
        self.actions.lessons = self.lessons
        self.actions.menus = self.menus
