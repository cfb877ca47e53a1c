"""Stamp rallies: each stamp counts once by its key; the goal brings the present once.

A friend's card is a `StampCard` row whose state (collecting → completed) is moved by a
transitions machine; the move to completed is claimed with a conditional update, so the
present is given exactly once however many stamps arrive together."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from bot import clock
from bot.crm.events import StampAdded
from bot.crm.service import Crm
from bot.db.models import Stamp, StampCard
from bot.scenario import Scenario
from bot.scenario.conversations import StampRally
from bot.scenario.schema import FlexMessage, TextMessage
from bot.states.answers import normalize
from bot.states.machine import build_machine, fire

if TYPE_CHECKING:
    from bot.automation.actions import ActionRunner

log = logging.getLogger(__name__)

COLLECTING, COMPLETED = "collecting", "completed"
STAMPED = "スタンプを押しました!({{ stamps }}/{{ goal }})"
ALREADY_STAMPED = "このスタンプは押印済みです。"
STAMP_ON, STAMP_OFF = "●", "○"
PER_ROW = 5


def _reached(stamps: int, goal: int) -> bool:
    return stamps >= goal


_MACHINE = build_machine(
    [COLLECTING, COMPLETED],
    [
        {"trigger": "stamp", "source": COLLECTING, "dest": COMPLETED, "conditions": [_reached]},
        {"trigger": "stamp", "source": COLLECTING, "dest": None},
        {"trigger": "stamp", "source": COMPLETED, "dest": None},
    ],
)


@dataclass(frozen=True)
class StampResult:
    added: bool
    stamps: int
    completed_now: bool = False


class StampRallies:
    def __init__(self, scenario: Scenario, crm: Crm, actions: ActionRunner) -> None:
        self.scenario = scenario
        self.crm = crm
        self.actions = actions
        self._codes = {
            normalize(code).casefold(): (name, code)
            for name, rally in scenario.stamp_rallies.items()
            for code in rally.codes
        }

    def rally_for_code(self, text: str) -> tuple[str, str] | None:
        """The rally and code a message names, when it is one of the rallies' codes (in
        any letter case or width: friends type them by hand)."""
        return self._codes.get(normalize(text).casefold()) if self._codes else None

    async def count(self, friend_id: int, rally: str) -> int:
        card = await StampCard.get_or_none(friend_id=friend_id, rally=rally)
        return card.stamps if card else 0

    async def stamp(
        self, friend_id: int, name: str, key: str, *, source: str, dedupe: str | None = None
    ) -> StampResult:
        """Add the stamp `key` (once), tell the friend, and give the present on reaching the
        goal."""
        rally = self.scenario.stamp_rallies[name]
        now = clock.now()
        try:
            await Stamp.create(
                friend_id=friend_id, rally=name, stamp_key=key[:200], source=source[:150], at=now
            )
        except IntegrityError:
            await self.actions.send(
                friend_id,
                rally.already_stamped or [TextMessage(type="text", text=ALREADY_STAMPED)],
                source=f"stamp:{name}",
                dedupe=f"{dedupe}:already" if dedupe else None,
            )
            return StampResult(False, await self.count(friend_id, name))
        stamps = await Stamp.filter(friend_id=friend_id, rally=name).count()
        card = await self._card(friend_id, name)
        state = await fire(_MACHINE, card.state, "stamp", stamps=stamps, goal=rally.goal)
        won = False
        if state == COMPLETED and card.state == COLLECTING:
            won = bool(
                await StampCard.filter(id=card.id, state=COLLECTING).update(
                    state=COMPLETED, stamps=stamps, completed_at=now, updated_at=now
                )
            )
        if not won:
            await StampCard.filter(id=card.id).update(stamps=stamps, updated_at=now)
        await self.crm.bus.publish(StampAdded(friend_id, source, rally=name, stamps=stamps))
        extra = {"stamps": stamps, "goal": rally.goal}
        await self.actions.send(
            friend_id,
            rally.stamped or [TextMessage(type="text", text=STAMPED)],
            source=f"stamp:{name}",
            dedupe=f"stamp:{name}:{friend_id}:{key}"[:190],
            extra=extra,
        )
        if won:
            log.info("friend #%s completed the stamp rally %s", friend_id, name)
            await self.actions.run(
                friend_id,
                rally.present,
                source=f"stamp:{name}",
                dedupe=f"stamp:{name}:{friend_id}:present",
            )
        return StampResult(True, stamps, won)

    async def _card(self, friend_id: int, name: str) -> StampCard:
        card = await StampCard.get_or_none(friend_id=friend_id, rally=name)
        if card is not None:
            return card
        try:
            return await StampCard.create(
                friend_id=friend_id, rally=name, state=COLLECTING, stamps=0, updated_at=clock.now()
            )
        except IntegrityError:  # made meanwhile by another event of theirs
            return await StampCard.get(friend_id=friend_id, rally=name)

    async def show_card(
        self, friend_id: int, name: str, *, source: str, dedupe: str | None = None
    ) -> None:
        rally = self.scenario.stamp_rallies[name]
        card = card_message(rally, await self.count(friend_id, name))
        await self.actions.send(friend_id, [card], source=source, dedupe=dedupe)


def card_message(rally: StampRally, stamps: int) -> FlexMessage:
    """The friend's card as a Flex bubble: the title, n / goal, the stamps, what is left."""
    shown = min(stamps, rally.goal)
    rows: list[dict[str, Any]] = []
    for start in range(0, rally.goal, PER_ROW):
        cells = [
            {
                "type": "text",
                "text": STAMP_ON if index < shown else STAMP_OFF,
                "size": "xxl",
                "align": "center",
                "color": "#e8743b" if index < shown else "#bbbbbb",
            }
            for index in range(start, min(start + PER_ROW, rally.goal))
        ]
        rows.append({"type": "box", "layout": "horizontal", "contents": cells})
    left = rally.goal - shown
    status = "達成しました!" if left <= 0 else f"あと{left}個で達成です"
    title = rally.title.replace("{", "(").replace("}", ")")
    contents = {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "spacing": "md",
            "contents": [
                {"type": "text", "text": title, "weight": "bold", "size": "lg"},
                {"type": "text", "text": f"{stamps} / {rally.goal}", "size": "md"},
                *rows,
                {"type": "text", "text": status, "size": "sm", "color": "#666666"},
            ],
        },
    }
    return FlexMessage(type="flex", altText=f"{title} {stamps}/{rally.goal}", contents=contents)
