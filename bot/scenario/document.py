"""The scenario file as a whole: messages, CRM declarations, segments, rules and steps."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from .actions import NotifyAdmins
from .admin import AdminSettings
from .broadcasts import Broadcast
from .conversations import Course, StampRally, Survey
from .crm import (
    ExpiryNotice,
    FieldDeclaration,
    PointsSettings,
    ScoreDeclaration,
    TagEntry,
    declared_tags,
)
from .forms import Form
from .integrations import InflowRoute, Integrations, UrlName
from .menu_rules import MenuRule
from .richmenus import RichMenu
from .rules import Rule
from .schema import MAX_MESSAGES, AnyMessage, AutoReply, Message, MessageList, _Model
from .segment import Condition
from .steps import ClockTime, DeliverySettings, Reminder, StepScenario
from .walk import Loc, walk

# crm.py cannot import steps.py at run time (steps.py imports crm.py): the points settings
# get the steps' local time of day here, where both are loaded.
ExpiryNotice.model_rebuild(_types_namespace={"ClockTime": ClockTime})
PointsSettings.model_rebuild(force=True)


#: The message classes (AnyMessage's members), to recognise a message wherever it sits.
_MESSAGE_CLASSES: tuple[type[BaseModel], ...] = typing.get_args(AnyMessage)


class Scenario(_Model):
    """A stepbot scenario file (version 1)."""

    version: Literal[1]
    """Format version of this file; only 1 exists."""
    name: str | None = None
    """The account or project name, for people reading the file and logs."""
    timezone: str = "Asia/Tokyo"
    """IANA time zone of the account, used for dates and times (e.g. Asia/Tokyo)."""
    welcome: list[Message] = Field(default_factory=list, max_length=MAX_MESSAGES)
    """0 to 5 messages sent when someone adds the account as a friend."""
    welcome_on_unblock: bool = True
    """Send the welcome again when a friend who blocked the account unblocks it."""
    auto_replies: list[AutoReply] = Field(default_factory=list)
    """Keyword replies; the first one that matches a text message answers it."""
    default_reply: MessageList | None = None
    """1 to 5 messages sent when no auto-reply matches a text message."""
    tags: list[TagEntry] = Field(default_factory=list)
    """The account's tags, optionally in folders (rules and segments may only use these)."""
    fields: dict[str, FieldDeclaration] = Field(default_factory=dict)
    """Friend fields (友だち情報欄) by name, with their types."""
    points: PointsSettings = Field(default_factory=PointsSettings)
    """How points expire and whether a balance may go negative."""
    scores: dict[str, ScoreDeclaration] = Field(default_factory=dict)
    """Named scores moved by activity (スコアリング)."""
    segments: dict[str, Condition] = Field(default_factory=dict)
    """Named segments (ユーザーグループ) for rules, broadcasts and admins."""
    rules: list[Rule] = Field(default_factory=list)
    """Automation: when something happens and the friend matches, do actions."""
    steps: dict[str, StepScenario] = Field(default_factory=dict)
    """Step scenarios (ステップ配信) by name."""
    reminders: dict[str, Reminder] = Field(default_factory=dict)
    """Reminders (リマインダ配信) by name: steps around a date field."""
    broadcasts: dict[str, Broadcast] = Field(default_factory=dict)
    """Broadcasts (一斉配信) by name: to everyone or a segment, once or on a schedule."""
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    """Quiet hours and how late a delivery may still go out."""
    surveys: dict[str, Survey] = Field(default_factory=dict)
    """Surveys (アンケート) held in chat, by name."""
    stamp_rallies: dict[str, StampRally] = Field(default_factory=dict)
    """Stamp rallies (スタンプラリー) by name."""
    courses: dict[str, Course] = Field(default_factory=dict)
    """Lesson courses by name: lessons delivered by steps and marked watched by friends."""
    rich_menus: dict[str, RichMenu] = Field(default_factory=dict)
    """Rich menus (リッチメニュー) by name."""
    menu_rules: list[MenuRule] = Field(default_factory=list)
    """Which rich menu each friend sees: the first rule they match (the last, without
    `if`, is the default)."""
    forms: dict[str, Form] = Field(default_factory=dict)
    """LIFF answer forms (回答フォーム) by name."""
    admin: AdminSettings = Field(default_factory=AdminSettings)
    """In-chat admin mode: the admins' rich menu, confirmation threshold, link lifetimes."""
    integrations: Integrations = Field(default_factory=Integrations)
    """Stripe payments, Shopify orders and signed webhooks from other systems."""
    routes: dict[UrlName, InflowRoute] = Field(default_factory=dict)
    """Inflow routes (流入経路) by name: tracking links `/r/NAME` and their QR codes."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, KeyError, OSError):
            raise PydanticCustomError(
                "timezone",
                "unknown time zone '{name}' (expected an IANA name such as Asia/Tokyo)",
                {"name": value},
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The account's time zone, for local times such as "10:00 on day 7"."""
        return ZoneInfo(self.timezone)

    def find_auto_reply(self, text: str) -> AutoReply | None:
        """The first auto-reply that matches `text`, in file order."""
        for reply in self.auto_replies:
            if reply.matches(text):
                return reply
        return None

    @property
    def tag_folders(self) -> dict[str, str | None]:
        """Every declared tag with its folder."""
        return declared_tags(self.tags)

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def iter_messages(self) -> Iterator[tuple[Loc, AnyMessage]]:
        """Every message in the scenario with its location, e.g. ('steps', 'A', 'steps', 0,
        'messages', 0): welcome, auto-replies, the default reply, the points-expiry notice,
        rules' `send` actions (and `already` of once-only points), steps and their branches,
        reminders, broadcasts, and messages sent by buttons' `do` inside any of these.

        Found by walking the whole document, so a key added later cannot be missed by the
        load-time checks."""
        for loc, model in walk(self, ()):
            if isinstance(model, _MESSAGE_CLASSES):
                yield loc, typing.cast(AnyMessage, model)

    def iter_admin_notices(self) -> Iterator[tuple[Loc, str]]:
        """Every `notify_admins` text (a template too) with its location, ending in
        'notify_admins'."""
        for loc, model in walk(self, ()):
            if isinstance(model, NotifyAdmins):
                yield (*loc, "notify_admins"), model.notify_admins
