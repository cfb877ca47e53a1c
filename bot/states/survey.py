"""Surveys in chat: one question at a time, answers checked, branches followed, resumable.

A survey in progress is a `Conversation` row: its `state` is the id of the question waiting
for an answer, `data` holds the answers so far. A friend is in at most one conversation at a
time (the row's unique `active_friend_id`); another survey started meanwhile waits in the
queue, or the friend is asked which one to continue. Answers are applied (fields, tags, the
survey's actions, `survey_completed` rules) only when the survey is completed: a cancelled
survey changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction
from transitions.extensions.asyncio import AsyncMachine

from bot import clock
from bot.crm.events import SurveyCompleted
from bot.crm.fields import FieldValueError
from bot.crm.service import Crm
from bot.db.models import Conversation, SurveyAnswer
from bot.scenario import Scenario
from bot.scenario.conversations import END, Question, Survey
from bot.scenario.schema import MessageAction, QuickReply, QuickReplyItem, TextMessage
from bot.states.answers import check_text, find_choice, normalize
from bot.states.machine import build_machine, fire

if TYPE_CHECKING:
    from bot.automation.actions import ActionRunner

log = logging.getLogger(__name__)

KIND = "survey"
COMPLETED = "completed"
CANCELLED = "cancelled"
ACTIVE, QUEUED, DONE, STOPPED = "active", "queued", "done", "cancelled"
#: The button that ends a multi-select question.
DONE_WORD = "回答終了"
#: Postback data of the "which survey?" question: sb:conv:<conversation id>:<choice>.
CHOICE_PREFIX = "sb:conv:"

PICK_A_BUTTON = "下のボタンからお選びください。"
PICK_AT_LEAST_ONE = "1つ以上選んでから「回答終了」を押してください。"
CANCELLED_TEXT = "アンケートを中止しました。"
ALREADY_ANSWERED = "このアンケートにはすでにご回答いただいています。ありがとうございました。"
RESUMING = "アンケートの続きです。"
RESUMING_QUEUED = "中断していたアンケートを再開します。"
REMINDER = "アンケートへのご回答がまだ途中です。続きにお答えください。"


def _text(text: str, quick: list[str] | None = None) -> TextMessage:
    """A text message, with quick-reply buttons that send their own label."""
    reply = None
    if quick:
        reply = QuickReply(
            items=[
                QuickReplyItem(action=MessageAction(type="message", label=label, text=label))
                for label in quick
            ]
        )
    return TextMessage(type="text", text=text, quickReply=reply)


def _escape(text: str) -> str:
    """Text of ours that quotes the friend or the scenario goes through the template engine:
    keep it literal."""
    return text.replace("{", "{{ '{' }}").replace("}", "{{ '}' }}") if "{" in text else text


@dataclass(frozen=True)
class Outcome:
    """What handling an answer did, for the event log."""

    what: str


class SurveyTalks:
    """Starts surveys, takes answers, reminds, and completes them."""

    def __init__(self, scenario: Scenario, crm: Crm, actions: ActionRunner) -> None:
        self.scenario = scenario
        self.crm = crm
        self.actions = actions
        self._machines = {name: _machine(s) for name, s in scenario.surveys.items()}

    @property
    def enabled(self) -> bool:
        return bool(self.scenario.surveys)

    # --- lookups ---------------------------------------------------------------------

    async def active(self, friend_id: int) -> Conversation | None:
        return await Conversation.get_or_none(active_friend_id=friend_id)

    # --- starting ----------------------------------------------------------------------

    async def start(self, friend_id: int, name: str, *, source: str) -> Outcome:
        """Start the survey, resume it if the friend is in it, or queue it behind another."""
        survey = self.scenario.surveys[name]
        if survey.answers == "once" and await Conversation.exists(
            friend_id=friend_id, kind=KIND, name=name, status=DONE
        ):
            await self._say(friend_id, survey.already_answered or [_text(ALREADY_ANSWERED)], name)
            return Outcome("already answered")
        active = await self.active(friend_id)
        if active is not None and active.name == name:
            await self._ask(active, [_text(RESUMING)])
            return Outcome("resumed")
        waiting = await Conversation.filter(
            friend_id=friend_id, kind=KIND, name=name, status=QUEUED
        ).first()
        if active is None:
            if waiting is not None and await self._activate(waiting):
                await self._open(waiting)
                return Outcome("started from queue")
            conversation = await self._create(friend_id, name, survey, active=True)
            if conversation is not None:
                await self._open(conversation)
                return Outcome("started")
            active = await self.active(friend_id)  # another process was quicker
        if waiting is None:
            waiting = await self._create(friend_id, name, survey, active=False)
        if waiting is None or active is None:
            return Outcome("not started")
        current = self.scenario.surveys.get(active.name)
        current_title = (current.title if current else None) or "アンケート"
        title = survey.title or "アンケート"
        if survey.when_busy == "ask":
            await self._say(
                friend_id,
                [_ask_which(waiting.id, current_title, title)],
                name,
                dedupe=f"conv:{waiting.id}:ask:{clock.now().timestamp()}",
            )
            return Outcome("asked which survey")
        await self._say(
            friend_id,
            [_text(_escape(f"「{current_title}」が終わったら、「{title}」をお送りします。"))],
            name,
            dedupe=f"conv:{waiting.id}:queued",
        )
        return Outcome("queued")

    async def _create(
        self, friend_id: int, name: str, survey: Survey, *, active: bool
    ) -> Conversation | None:
        now = clock.now()
        try:
            return await Conversation.create(
                friend_id=friend_id,
                kind=KIND,
                name=name,
                state=survey.questions[0].id,
                status=ACTIVE if active else QUEUED,
                data={"answers": {}, "picked": [], "turn": 0, "asked": False},
                active_friend_id=friend_id if active else None,
                started_at=now,
                updated_at=now,
            )
        except IntegrityError:
            return None

    async def _activate(self, conversation: Conversation) -> bool:
        try:
            changed = await Conversation.filter(id=conversation.id, status=QUEUED).update(
                status=ACTIVE, active_friend_id=conversation.friend_id, updated_at=clock.now()
            )
        except IntegrityError:
            return False
        if changed:
            conversation.status = ACTIVE
            conversation.active_friend_id = conversation.friend_id
        return bool(changed)

    async def _open(self, conversation: Conversation) -> None:
        """Ask the first question (with the intro), or the pending one of a paused survey."""
        survey = self.scenario.surveys[conversation.name]
        if conversation.data.get("asked"):
            await self._ask(conversation, [_text(RESUMING_QUEUED)])
        else:
            await self._ask(conversation, list(survey.intro or []))

    async def choose(self, friend_id: int, conversation_id: int, choice: str) -> Outcome:
        """The friend's answer to "continue the current survey or switch?"."""
        waiting = await Conversation.get_or_none(
            id=conversation_id, friend_id=friend_id, status=QUEUED
        )
        if waiting is None:
            return Outcome("stale choice")
        active = await self.active(friend_id)
        if choice == "switch":
            if active is not None:
                await Conversation.filter(id=active.id, status=ACTIVE).update(
                    status=QUEUED, active_friend_id=None, remind_at=None, updated_at=clock.now()
                )
            if await self._activate(waiting):
                await self._open(waiting)
                return Outcome("switched")
            return Outcome("not switched")
        if active is not None:
            await self._ask(active, [_text("今のアンケートを続けます。")])
            return Outcome("continued")
        if await self._activate(waiting):
            await self._open(waiting)
        return Outcome("continued")

    # --- answering -----------------------------------------------------------------------

    def accepts(self, conversation: Conversation, text: str) -> bool:
        """Whether `text` would be taken as an answer (or the cancel word) — without side
        effects, so a keyword that is no answer can reach its auto-reply instead."""
        survey = self.scenario.surveys.get(conversation.name)
        question = survey.question(conversation.state) if survey else None
        if survey is None or question is None:
            return True
        if normalize(text) in {normalize(word) for word in survey.cancel_words}:
            return True
        if question.kind == "multi" and normalize(text) == DONE_WORD:
            return True
        if question.kind in ("choice", "multi"):
            return find_choice(question, text) is not None
        return check_text(question, text).value is not None

    async def answer(self, conversation: Conversation, text: str) -> Outcome:
        """Take the friend's message as the answer to the pending question."""
        survey = self.scenario.surveys.get(conversation.name)
        question = survey.question(conversation.state) if survey else None
        if survey is None or question is None:
            # The survey or question left the scenario since: end it quietly.
            await self._close(conversation, STOPPED, CANCELLED)
            return Outcome("survey no longer exists")
        if normalize(text) in {normalize(word) for word in survey.cancel_words}:
            await self.cancel(conversation)
            return Outcome("cancelled")
        data = dict(conversation.data)
        kind = question.kind
        target: str
        if kind == "choice":
            index = find_choice(question, text)
            if index is None:
                await self._ask(
                    conversation, [_text(question.error or PICK_A_BUTTON)], only_note=True
                )
                return Outcome("not a choice")
            choice = question.choices[index]
            data["answers"] = {**data["answers"], question.id: choice.answer}
            target = self._next(survey, question, choice.next)
        elif kind == "multi":
            picked: list[str] = list(data.get("picked") or [])
            if normalize(text) == DONE_WORD:
                if not picked:
                    await self._ask(conversation, [_text(PICK_AT_LEAST_ONE)], only_note=True)
                    return Outcome("nothing picked")
                data["answers"] = {**data["answers"], question.id: picked}
                data["picked"] = []
                target = self._next(survey, question, None)
            else:
                index = find_choice(question, text)
                if index is None:
                    await self._ask(
                        conversation, [_text(question.error or PICK_A_BUTTON)], only_note=True
                    )
                    return Outcome("not a choice")
                answer = question.choices[index].answer
                if answer not in picked:
                    picked.append(answer)
                data["picked"] = picked
                conversation.data = data
                await self._save(conversation)
                label = _escape(question.choices[index].label)
                note = (
                    f"「{label}」を選びました。ほかにもあれば選び、"
                    f"終わったら「{DONE_WORD}」を押してください。"
                )
                await self._ask(conversation, [_text(note)], only_note=True)
                return Outcome("picked")
        else:
            checked = check_text(question, text)
            if checked.value is None:
                await self._ask(conversation, [_text(_escape(checked.error or ""))], only_note=True)
                return Outcome("invalid answer")
            data["answers"] = {**data["answers"], question.id: checked.value}
            target = self._next(survey, question, None)
        moved = await fire(
            self._machines[conversation.name], conversation.state, "answer", next_state=target
        )
        if moved is None:  # a definition changed under a running survey
            log.warning(
                "survey %s: no way from %s to %s", conversation.name, conversation.state, target
            )
            target = COMPLETED
        conversation.data = data
        if target == COMPLETED:
            await self._complete(conversation, survey)
            return Outcome("completed")
        conversation.state = target
        await self._save(conversation)
        await self._ask(conversation, [])
        return Outcome(f"answered {question.id}")

    @staticmethod
    def _next(survey: Survey, question: Question, chosen_next: str | None) -> str:
        """The state after answering: the choice's `next`, the question's, the following."""
        target = chosen_next or question.next
        if target is None:
            ids = [q.id for q in survey.questions]
            position = ids.index(question.id)
            target = ids[position + 1] if position + 1 < len(ids) else END
        return COMPLETED if target == END else target

    async def cancel(self, conversation: Conversation) -> None:
        survey = self.scenario.surveys.get(conversation.name)
        if not await self._close(conversation, STOPPED, CANCELLED):
            return
        messages = (survey.cancelled if survey else None) or [_text(CANCELLED_TEXT)]
        await self._say(
            conversation.friend_id,
            messages,
            conversation.name,
            dedupe=f"conv:{conversation.id}:cancelled",
        )
        await self._start_next(conversation.friend_id)

    async def abandon(self, friend_id: int) -> int:
        """The friend blocked the account: every survey of theirs ends unanswered."""
        return await Conversation.filter(friend_id=friend_id, status__in=[ACTIVE, QUEUED]).update(
            status=STOPPED,
            state=CANCELLED,
            active_friend_id=None,
            remind_at=None,
            finished_at=clock.now(),
        )

    async def _close(self, conversation: Conversation, status: str, state: str) -> bool:
        now = clock.now()
        changed = await Conversation.filter(id=conversation.id, status=ACTIVE).update(
            status=status,
            state=state,
            active_friend_id=None,
            remind_at=None,
            finished_at=now,
            updated_at=now,
            data=conversation.data,
        )
        return bool(changed)

    async def _complete(self, conversation: Conversation, survey: Survey) -> None:
        friend_id, name = conversation.friend_id, conversation.name
        answers: dict[str, Any] = conversation.data["answers"]
        now = clock.now()
        async with in_transaction():
            if not await self._close(conversation, DONE, COMPLETED):
                return
            await SurveyAnswer.filter(friend_id=friend_id, survey=name).delete()
            await SurveyAnswer.bulk_create(
                [
                    SurveyAnswer(
                        conversation_id=conversation.id,
                        friend_id=friend_id,
                        survey=name,
                        question=question_id,
                        value=str(value)[:500],
                        answered_at=now,
                    )
                    for question_id, given in answers.items()
                    for value in (given if isinstance(given, list) else [given])
                ]
            )
        source = f"survey:{name}"
        for question in survey.questions:
            given = answers.get(question.id)
            if given is None:
                continue
            values = given if isinstance(given, list) else [given]
            if question.field is not None:
                stored = "、".join(values) if isinstance(given, list) else given
                try:
                    await self.crm.fields.set(friend_id, question.field, stored, source=source)
                except FieldValueError as exc:
                    log.warning("survey %s: answer to %s not saved: %s", name, question.id, exc)
            for choice in question.choices:
                if choice.answer in values:
                    for tag in choice.tags or []:
                        await self.crm.tags.add(friend_id, tag, source=source)
        if survey.completed:
            await self._say(
                friend_id, survey.completed, name, dedupe=f"conv:{conversation.id}:completed"
            )
        if survey.do:
            await self.actions.run(
                friend_id, survey.do, source=source, dedupe=f"conv:{conversation.id}:do"
            )
        await self.crm.bus.publish(SurveyCompleted(friend_id, source, survey=name))
        await self._start_next(friend_id)

    async def _start_next(self, friend_id: int) -> None:
        waiting = (
            await Conversation.filter(friend_id=friend_id, status=QUEUED).order_by("id").first()
        )
        if waiting is not None and await self._activate(waiting):
            await self._open(waiting)

    # --- asking --------------------------------------------------------------------------

    async def _ask(
        self,
        conversation: Conversation,
        lead: Sequence[Any],
        *,
        only_note: bool = False,
    ) -> None:
        """Send `lead` then the pending question (with its buttons); remember that it was
        asked and when to remind. `only_note` puts the buttons on the note instead of
        repeating the question's text (an error or a multi-select step)."""
        survey = self.scenario.surveys[conversation.name]
        question = survey.question(conversation.state)
        if question is None:
            return
        buttons = _buttons(question, conversation.data.get("picked") or [])
        messages = list(lead)
        if only_note and messages and isinstance(messages[-1], TextMessage):
            messages[-1] = _text(messages[-1].text, buttons)
        else:
            messages.append(_text(question.text, buttons))
        data = dict(conversation.data)
        data["turn"] = int(data.get("turn", 0)) + 1
        data["asked"] = True
        conversation.data = data
        reminder = survey.reminder
        conversation.remind_at = clock.now() + reminder.offset() if reminder else None
        await self._save(conversation)
        await self._say(
            conversation.friend_id,
            messages,
            conversation.name,
            dedupe=f"conv:{conversation.id}:{data['turn']}",
        )

    async def _save(self, conversation: Conversation) -> None:
        conversation.updated_at = clock.now()
        await Conversation.filter(id=conversation.id).update(
            state=conversation.state,
            data=conversation.data,
            remind_at=conversation.remind_at,
            updated_at=conversation.updated_at,
        )

    async def _say(
        self, friend_id: int, messages: Sequence[Any], name: str, *, dedupe: str | None = None
    ) -> None:
        await self.actions.send(friend_id, messages, source=f"survey:{name}", dedupe=dedupe)

    # --- reminders -----------------------------------------------------------------------

    async def remind_due(self) -> int:
        """Remind friends who left a question unanswered past the survey's `reminder.after`;
        once per question asked (claimed, so two processes never both remind)."""
        if not self.enabled:
            return 0
        now = clock.now()
        sent = 0
        for conversation in await Conversation.filter(status=ACTIVE, remind_at__lte=now).limit(500):
            claimed = await Conversation.filter(
                id=conversation.id, status=ACTIVE, remind_at=conversation.remind_at
            ).update(remind_at=None)
            if not claimed:
                continue
            survey = self.scenario.surveys.get(conversation.name)
            question = survey.question(conversation.state) if survey else None
            if survey is None or question is None or survey.reminder is None:
                continue
            turn = conversation.data.get("turn", 0)
            messages = list(survey.reminder.messages or [_text(REMINDER)])
            messages.append(
                _text(question.text, _buttons(question, conversation.data.get("picked") or []))
            )
            await self._say(
                conversation.friend_id,
                messages,
                conversation.name,
                dedupe=f"conv:{conversation.id}:remind:{turn}",
            )
            sent += 1
        return sent


def _buttons(question: Question, picked: list[str]) -> list[str] | None:
    kind = question.kind
    if kind == "choice":
        return [choice.label for choice in question.choices]
    if kind == "multi":
        left = [choice.label for choice in question.choices if choice.answer not in picked]
        return [*left, DONE_WORD] if picked else left
    return None


def _ask_which(conversation_id: int, current: str, new: str) -> TextMessage:
    """Quick replies that answer with a postback naming the waiting conversation."""
    from bot.scenario.schema import PostbackAction

    def button(label: str, choice: str) -> QuickReplyItem:
        return QuickReplyItem(
            action=PostbackAction(
                type="postback",
                label=label,
                data=f"{CHOICE_PREFIX}{conversation_id}:{choice}",
                displayText=label,
            )
        )

    text = _escape(f"「{current}」の回答中です。どちらに答えますか?(もう一方はあとでお送りします)")
    return TextMessage(
        type="text",
        text=text,
        quickReply=QuickReply(
            items=[button("今のまま続ける", "keep"), button("新しい方に答える", "switch")]
        ),
    )


def _goes_to(target: str, next_state: str) -> bool:
    return next_state == target


def _machine(survey: Survey) -> AsyncMachine:
    """States: each question's id, then completed and cancelled. `answer` moves to the state
    the answer leads to (a condition per possible target), `cancel` ends it."""
    ids = [q.id for q in survey.questions]
    transitions: list[dict[str, Any]] = []
    for position, question in enumerate(survey.questions):
        following = ids[position + 1] if position + 1 < len(ids) else COMPLETED
        targets = {
            question.next or following,
            *(c.next or question.next or following for c in question.choices),
        }
        for target in sorted(COMPLETED if t == END else t for t in targets):
            transitions.append(
                {
                    "trigger": "answer",
                    "source": question.id,
                    "dest": target,
                    "conditions": [partial(_goes_to, target)],
                }
            )
        transitions.append({"trigger": "cancel", "source": question.id, "dest": CANCELLED})
    return build_machine([*ids, COMPLETED, CANCELLED], transitions)
