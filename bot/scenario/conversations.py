"""Surveys (アンケート), stamp rallies (スタンプラリー) and lesson courses in the scenario file.

A survey is a chat conversation: questions asked one at a time, answered by quick reply or
free text, with branching, validation and a cancel word. A stamp rally counts stamps (each
key once) up to a goal that brings a present exactly once. A lesson course lists lessons
that step scenarios deliver and friends mark watched.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.clock import parse_duration

from .actions import ActionList, TagNames
from .crm import Duration
from .schema import IdString, Label, MessageList, MessageText, _Model

#: A question id that ends the survey when used as `next`.
END = "end"
#: LINE shows at most 13 quick-reply buttons; a multi-select keeps one for 回答終了.
MAX_CHOICES = 13


def _choice_shorthand(value: object) -> object:
    """`- はい` is as natural as `- {label: はい}`."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"label": str(value)}
    return value


class Choice(_Model):
    """One answer offered as a quick-reply button."""

    label: Label
    """The button text and, unless `value` is given, the answer stored."""
    value: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    """The answer stored in fields and statistics, if not the label."""
    tags: TagNames | None = None
    """Tags the friend gets when choosing this answer."""
    next: IdString | None = None
    """The question asked next after this answer (branching); `end` finishes the survey."""

    @property
    def answer(self) -> str:
        return self.value or self.label


AnswerType = Literal["choice", "multi", "text", "number", "date", "email", "phone", "regex"]


class Question(_Model):
    """A question of a survey: asked as a message, answered in chat."""

    id: IdString
    """The question's name in answers, statistics and `next` (e.g. q1, 好み)."""
    text: MessageText
    """The question (placeholders such as {{ friend.display_name }} allowed)."""
    type: AnswerType | None = None
    """`choice` (one quick reply; the default when choices are given), `multi` (several,
    then 回答終了), `text` (the default otherwise), `number`, `date` (2024-04-01, 4/1…),
    `email`, `phone`, `regex` (the answer must match `pattern`)."""
    choices: Annotated[
        list[Annotated[Choice, BeforeValidator(_choice_shorthand)]],
        Field(max_length=MAX_CHOICES),
    ] = Field(default_factory=list)
    """Answers offered as quick-reply buttons (at most 13; 12 for `multi`)."""
    field: str | None = None
    """A friend field the answer is saved into (multi-select: joined with 、)."""
    pattern: str | None = None
    """A regular expression a `regex` (or `text`) answer must match as a whole."""
    min: float | None = None
    """Smallest accepted number (`number`)."""
    max: float | None = None
    """Largest accepted number (`number`)."""
    max_length: Annotated[int, Field(gt=0, le=5000)] | None = None
    """Longest accepted text, in characters."""
    error: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    """What the friend is told when an answer is not accepted (a clear default otherwise)."""
    next: IdString | None = None
    """The question asked next (default: the following one); `end` finishes the survey."""

    @property
    def kind(self) -> str:
        if self.type is not None:
            return self.type
        return "choice" if self.choices else "text"

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        kind = self.kind
        if kind in ("choice", "multi") and not self.choices:
            raise PydanticCustomError("question", "a {kind} question needs choices", {"kind": kind})
        if kind == "multi" and len(self.choices) > MAX_CHOICES - 1:
            raise PydanticCustomError(
                "question", "a multi question takes at most 12 choices (one button is 回答終了)"
            )
        if kind not in ("choice", "multi") and self.choices:
            raise PydanticCustomError(
                "question",
                "choices are only for choice and multi questions (type is {kind})",
                {"kind": kind},
            )
        if kind == "regex" and self.pattern is None:
            raise PydanticCustomError("question", "a regex question needs a pattern")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise PydanticCustomError(
                    "question",
                    "pattern is not a valid regular expression: {why}",
                    {"why": str(exc)},
                ) from None
        labels = [c.label for c in self.choices]
        if len(set(labels)) != len(labels):
            raise PydanticCustomError("question", "two choices have the same label")
        return self


class SurveyReminder(_Model):
    """A nudge when the friend leaves a survey unanswered."""

    after: Duration
    """How long after the last question was asked (e.g. 24h)."""
    messages: MessageList | None = None
    """What is sent (default: a reminder that repeats the pending question)."""

    def offset(self) -> timedelta:
        return parse_duration(self.after)


class Survey(_Model):
    """A survey (アンケート) held in chat, one question at a time."""

    title: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Shown to admins and in statistics."""
    intro: MessageList | None = None
    """Sent before the first question."""
    questions: Annotated[list[Question], Field(min_length=1)]
    """The questions, asked in order unless a choice or question names `next`."""
    completed: MessageList | None = None
    """Sent when the friend has answered the last question."""
    do: ActionList | None = None
    """Actions run on completion (e.g. add_tag: アンケート回答済); `survey_completed` rules
    fire as well."""
    cancel_words: Annotated[list[str], Field(min_length=1)] = Field(
        default_factory=lambda: ["キャンセル", "やめる", "中止"]
    )
    """A message equal to one of these ends the survey without saving it."""
    cancelled: MessageList | None = None
    """Sent when the friend cancels (default: アンケートを中止しました。)."""
    answers: Literal["once", "latest"] = "latest"
    """`once`: a friend who completed it cannot answer again; `latest`: answering again
    replaces the earlier answers."""
    already_answered: MessageList | None = None
    """Sent instead of starting, when answers are `once` and the friend already completed."""
    reminder: SurveyReminder | None = None
    """Remind a friend who has not answered within a time."""
    when_busy: Literal["queue", "ask"] = "queue"
    """When the friend is in another survey: `queue` starts this one after it ends, `ask`
    lets the friend choose between continuing and switching (the other one waits)."""

    @model_validator(mode="after")
    def _known_next(self) -> Survey:
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise PydanticCustomError("survey", "two questions have the same id")
        if END in ids:
            raise PydanticCustomError("survey", "'end' is reserved: it finishes the survey")
        known = {*ids, END}
        for index, question in enumerate(self.questions):
            targets = [question.next, *(c.next for c in question.choices)]
            for target in targets:
                if target is not None and target not in known:
                    raise PydanticCustomError(
                        "survey",
                        "questions[{index}] goes next to unknown question '{target}' "
                        "(expected one of: {known})",
                        {"index": index, "target": target, "known": ", ".join(sorted(known))},
                    )
        return self

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


class StampRally(_Model):
    """A stamp card (スタンプラリー): stamps up to a goal that brings a present once."""

    title: Annotated[str, Field(min_length=1, max_length=40)] = "スタンプカード"
    """Shown on the card."""
    goal: Annotated[int, Field(ge=1, le=50)]
    """Stamps needed for the present."""
    present: ActionList
    """Actions run once when the goal is reached (send a coupon, add a tag, add points)."""
    codes: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    """Codes a friend can send in chat (e.g. from a QR code at the shop) for one stamp
    each; each code counts once per friend."""
    stamped: MessageList | None = None
    """Sent after each new stamp (placeholders: {{ stamps }}, {{ goal }})."""
    already_stamped: MessageList | None = None
    """Sent when the same stamp is claimed again (default: このスタンプは押印済みです。)."""

    @field_validator("codes")
    @classmethod
    def _unique_codes(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("codes", "a code is listed twice")
        return value


class Lesson(_Model):
    """One lesson of a course."""

    key: Annotated[str, Field(min_length=1, max_length=100)]
    """How actions name the lesson (e.g. "1")."""
    title: Annotated[str, Field(min_length=1, max_length=100)]
    """Shown on the lesson-history page."""
    url: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    """Where the lesson's video is (linked from the history page)."""

    @field_validator("key", mode="before")
    @classmethod
    def _number_key(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Course(_Model):
    """A lesson course: lessons delivered by a step scenario, watched by friends."""

    title: Annotated[str, Field(min_length=1, max_length=100)]
    """The course name, shown on the lesson-history page."""
    lessons: Annotated[list[Lesson], Field(min_length=1)]
    """The lessons in order."""
    watched: MessageList | None = None
    """Reply when a friend marks a lesson watched for the first time (default:
    視聴を記録しました。)."""
    already_watched: MessageList | None = None
    """Reply when it was already marked (default: この動画は視聴済みとして記録されています。)."""
    on_watched: ActionList | None = None
    """Actions run the first time a friend marks any lesson watched (e.g. add_stamp)."""

    @model_validator(mode="after")
    def _unique_keys(self) -> Course:
        keys = [lesson.key for lesson in self.lessons]
        if len(set(keys)) != len(keys):
            raise PydanticCustomError("course", "two lessons have the same key")
        return self

    def lesson(self, key: str) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.key == key), None)
