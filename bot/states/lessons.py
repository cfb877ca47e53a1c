"""Lesson courses: which lessons a friend received, and which they marked watched (once).

Each (friend, course, lesson) is a `LessonProgress` row whose state — pending, delivered,
watched — is moved by a transitions machine. Marking watched is claimed with a conditional
update, so a button tapped twice (or an event processed twice) counts once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise.exceptions import IntegrityError

from bot import clock
from bot.db.models import LessonProgress
from bot.scenario import Scenario
from bot.scenario.schema import TextMessage
from bot.states.machine import build_machine, fire

if TYPE_CHECKING:
    from bot.automation.actions import ActionRunner

PENDING, DELIVERED, WATCHED = "pending", "delivered", "watched"
WATCHED_TEXT = "視聴を記録しました。"
ALREADY_WATCHED = "この動画は視聴済みとして記録されています。"

_MACHINE = build_machine(
    [PENDING, DELIVERED, WATCHED],
    [
        {"trigger": "deliver", "source": PENDING, "dest": DELIVERED},
        {"trigger": "watch", "source": [PENDING, DELIVERED], "dest": WATCHED},
    ],
)


def _state(row: LessonProgress) -> str:
    if row.watched_at is not None:
        return WATCHED
    return DELIVERED if row.delivered_at is not None else PENDING


class LessonCourses:
    def __init__(self, scenario: Scenario, actions: ActionRunner) -> None:
        self.scenario = scenario
        self.actions = actions

    async def _row(self, friend_id: int, course: str, lesson: str) -> LessonProgress:
        row = await LessonProgress.get_or_none(friend_id=friend_id, course=course, lesson=lesson)
        if row is not None:
            return row
        try:
            return await LessonProgress.create(friend_id=friend_id, course=course, lesson=lesson)
        except IntegrityError:
            return await LessonProgress.get(friend_id=friend_id, course=course, lesson=lesson)

    async def delivered(self, friend_id: int, course: str, lesson: str) -> bool:
        """Record the lesson as delivered (for the history page); False if it already was."""
        row = await self._row(friend_id, course, lesson)
        if await fire(_MACHINE, _state(row), "deliver") is None:
            return False
        changed = await LessonProgress.filter(id=row.id, delivered_at__isnull=True).update(
            delivered_at=clock.now()
        )
        return bool(changed)

    async def watched(
        self, friend_id: int, course: str, lesson: str, *, source: str, dedupe: str | None
    ) -> bool:
        """Mark the lesson watched and answer; the course's `on_watched` actions run the
        first time only. True when this was the first time."""
        definition = self.scenario.courses[course]
        row = await self._row(friend_id, course, lesson)
        first = await fire(_MACHINE, _state(row), "watch") is not None
        if first:
            first = bool(
                await LessonProgress.filter(id=row.id, watched_at__isnull=True).update(
                    watched_at=clock.now()
                )
            )
        if not first:
            await self.actions.send(
                friend_id,
                definition.already_watched or [TextMessage(type="text", text=ALREADY_WATCHED)],
                source=source,
                dedupe=f"{dedupe}:already" if dedupe else None,
            )
            return False
        await self.actions.send(
            friend_id,
            definition.watched or [TextMessage(type="text", text=WATCHED_TEXT)],
            source=source,
            dedupe=f"{dedupe}:watched" if dedupe else None,
        )
        if definition.on_watched:
            await self.actions.run(
                friend_id,
                definition.on_watched,
                source=f"lesson:{course}:{lesson}",
                dedupe=f"lesson:{course}:{lesson}:{friend_id}:watched",
            )
        return True

    async def history(self, friend_id: int, course: str) -> list[LessonProgress]:
        """The friend's delivered lessons of a course, in course order."""
        definition = self.scenario.courses[course]
        order = {lesson.key: index for index, lesson in enumerate(definition.lessons)}
        rows = await LessonProgress.filter(
            friend_id=friend_id, course=course, delivered_at__isnull=False
        )
        return sorted(rows, key=lambda row: order.get(row.lesson, len(order)))
