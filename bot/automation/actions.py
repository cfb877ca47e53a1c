"""Running `do:` actions for one friend: the one place that turns scenario actions into CRM
changes, messages and step scenarios."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from uuid import uuid4

from bot.automation.links import LinkTracker
from bot.automation.outbox import MAX_MESSAGES_PER_REQUEST, Outbox
from bot.automation.personalize import mentions_fields, template_context
from bot.crm.admins import admin_user_ids
from bot.crm.fields import FieldValueError
from bot.crm.points import PointsRefused
from bot.crm.service import Crm
from bot.db.models import Friend
from bot.scenario import TextMessage, render_messages
from bot.scenario.actions import (
    AddPoints,
    AddScore,
    AddStamp,
    AddTag,
    LessonDelivered,
    LessonWatched,
    NotifyAdmins,
    RemovePoints,
    RemoveTag,
    Send,
    SetField,
    ShowStampCard,
    StartSteps,
    StartSurvey,
    StopSteps,
    SwitchMenu,
)

if TYPE_CHECKING:
    from bot.automation.steps import StepRunner
    from bot.richmenus.assignment import MenuAssigner
    from bot.states.lessons import LessonCourses
    from bot.states.stamps import StampRallies
    from bot.states.survey import SurveyTalks

log = logging.getLogger(__name__)


class Answerer(Protocol):
    """The event being handled: answers its friend (by reply while the token is fresh)."""

    @property
    def answering_friend_id(self) -> int | None: ...

    async def send_scenario_messages(
        self, messages: list[Any], source: str, extra: dict[str, Any] | None = None
    ) -> None: ...


#: Set while a friend's event is handled; actions for that friend answer through it,
#: anything else is pushed.
current_answer: contextvars.ContextVar[Answerer | None] = contextvars.ContextVar(
    "current_answer", default=None
)

ALREADY_RECEIVED = "すでに受け取っています。"


@dataclass
class ActionResult:
    """What running a list of actions did, for callers that explain it to someone."""

    done: int = 0
    refused: list[str] | None = None


class ActionRunner:
    def __init__(self, crm: Crm, outbox: Outbox, links: LinkTracker) -> None:
        self.crm = crm
        self.outbox = outbox
        self.links = links
        # The parts below act on friends through this runner too; Services wires them.
        self.steps: StepRunner | None = None
        self.surveys: SurveyTalks | None = None
        self.stamps: StampRallies | None = None
        self.lessons: LessonCourses | None = None
        self.menus: MenuAssigner | None = None

    async def send(
        self,
        friend_id: int,
        messages: Sequence[Any],
        *,
        source: str,
        dedupe: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Render scenario messages for the friend (with `extra` template names); answer
        their event or push."""
        answering = current_answer.get()
        if answering is not None and answering.answering_friend_id == friend_id:
            await answering.send_scenario_messages(list(messages), source, extra)
            return
        friend = await Friend.get_or_none(id=friend_id)
        if friend is None or friend.blocked:
            return
        context = await self.context_for(friend, messages)
        rendered = render_messages(messages, {**context, **(extra or {})})
        rendered = await self.links.rewrite(rendered, source, friend.id)
        for n, start in enumerate(range(0, len(rendered), MAX_MESSAGES_PER_REQUEST)):
            chunk = rendered[start : start + MAX_MESSAGES_PER_REQUEST]
            await self.outbox.send(
                friend.line_user_id,
                chunk,
                source=source,
                dedupe_key=f"{dedupe}:{n}" if dedupe else None,
            )

    async def notify_admins(
        self, friend_id: int, text: str, *, source: str, dedupe: str | None = None
    ) -> None:
        """Push a notice about this friend to every admin (never as a reply to the friend)."""
        friend = await Friend.get_or_none(id=friend_id)
        message = TextMessage(type="text", text=text)
        rendered = render_messages([message], await self.context_for(friend, [message]))
        if not rendered:
            return
        for admin_user in await admin_user_ids():
            await self.outbox.send(
                admin_user,
                rendered,
                source="notify_admins",
                dedupe_key=f"{dedupe}:{admin_user}" if dedupe else None,
            )

    async def context_for(self, friend: Friend | None, messages: Sequence[Any]) -> dict[str, Any]:
        """Template names for one friend (fields loaded only if the messages use them)."""
        fields = None
        if friend is not None and mentions_fields(messages):
            fields = await self.crm.fields.get_all(friend.id)
        return template_context(friend, self.crm.scenario.zone, fields=fields)

    async def run(
        self,
        friend_id: int,
        actions: Sequence[Any],
        *,
        source: str,
        actor: str | None = None,
        dedupe: str | None = None,
    ) -> ActionResult:
        """Run actions in order. A refused one (not enough points, a bad field value) is
        logged and stops the list: what follows usually assumes it happened (a message
        saying the exchange is done, a tag removed)."""
        result = ActionResult()
        crm = self.crm
        for index, action in enumerate(actions):
            try:
                if isinstance(action, AddTag):
                    for name in action.add_tag:
                        await crm.tags.add(friend_id, name, source=source, actor=actor)
                elif isinstance(action, RemoveTag):
                    for name in action.remove_tag:
                        await crm.tags.remove(friend_id, name, source=source, actor=actor)
                elif isinstance(action, AddPoints | RemovePoints):
                    spec = (
                        action.add_points if isinstance(action, AddPoints) else action.remove_points
                    )
                    change = crm.points.add if isinstance(action, AddPoints) else crm.points.remove
                    outcome = await change(
                        friend_id,
                        spec.amount,
                        reason=spec.reason,
                        source=source,
                        actor=actor,
                        once=spec.once,
                    )
                    if outcome.already:
                        await self.send(
                            friend_id,
                            spec.already or [ALREADY_RECEIVED],
                            source=source,
                            dedupe=f"{dedupe}:{index}:already" if dedupe else None,
                        )
                        return result  # what follows belonged to the first time
                elif isinstance(action, SetField):
                    for name, value in action.set_field.items():
                        await crm.fields.set(friend_id, name, value, source=source, actor=actor)
                elif isinstance(action, AddScore):
                    for name, delta in action.add_score.items():
                        await crm.scores.add(friend_id, name, delta, source=source)
                elif isinstance(action, Send):
                    await self.send(
                        friend_id,
                        action.send,
                        source=source,
                        dedupe=f"{dedupe}:{index}" if dedupe else None,
                    )
                elif isinstance(action, StartSteps) and self.steps is not None:
                    await self.steps.start(friend_id, action.start_steps, source=source)
                elif isinstance(action, StopSteps) and self.steps is not None:
                    await self.steps.stop(friend_id, action.stop_steps)
                elif isinstance(action, StartSurvey) and self.surveys is not None:
                    await self.surveys.start(friend_id, action.start_survey, source=source)
                elif isinstance(action, AddStamp) and self.stamps is not None:
                    stamp = action.add_stamp
                    key = stamp.once or (f"{dedupe}:{index}" if dedupe else f"{source}:{uuid4()}")
                    await self.stamps.stamp(
                        friend_id, stamp.rally, key, source=source, dedupe=dedupe
                    )
                elif isinstance(action, ShowStampCard) and self.stamps is not None:
                    await self.stamps.show_card(
                        friend_id,
                        action.show_stamp_card,
                        source=source,
                        dedupe=f"{dedupe}:{index}" if dedupe else None,
                    )
                elif isinstance(action, LessonDelivered) and self.lessons is not None:
                    ref = action.lesson_delivered
                    await self.lessons.delivered(friend_id, ref.course, ref.lesson)
                elif isinstance(action, LessonWatched) and self.lessons is not None:
                    ref = action.lesson_watched
                    await self.lessons.watched(
                        friend_id,
                        ref.course,
                        ref.lesson,
                        source=source,
                        dedupe=f"{dedupe}:{index}" if dedupe else None,
                    )
                elif isinstance(action, SwitchMenu) and self.menus is not None:
                    await self.menus.switch(friend_id, action.switch_menu)
                elif isinstance(action, NotifyAdmins):
                    await self.notify_admins(
                        friend_id,
                        action.notify_admins,
                        source=source,
                        dedupe=f"{dedupe}:{index}" if dedupe else None,
                    )
                result.done += 1
            except (PointsRefused, FieldValueError) as exc:
                log.warning("action %s for friend #%s refused: %s", index, friend_id, exc)
                result.refused = [*(result.refused or []), str(exc)]
                return result
        return result
