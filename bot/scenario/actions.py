"""Actions (`do:` lists): what rules, postback buttons and steps do to a friend.

Each action is a mapping with exactly one key naming it, e.g. `- add_tag: 会員` or
`- add_points: {amount: 100, once: survey-bonus}`. Postback buttons carry their actions by
a token derived from the actions themselves (`data: "sb:…"`), so the bot only ever runs
actions written in the scenario, never anything a client sends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Discriminator, Field, Tag
from pydantic_core import PydanticCustomError

from .schema import MessageList, _Model

ACTION_TOKEN_PREFIX = "sb:"
TAG_NAME_MAX = 100


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


TagName = Annotated[str, Field(min_length=1, max_length=TAG_NAME_MAX)]
TagNames = Annotated[
    list[TagName],
    BeforeValidator(_one_or_many, json_schema_input_type=str | list[str]),
    Field(min_length=1),
]


class AddTag(_Model):
    """Give the friend one or more tags (history records when and why)."""

    add_tag: TagNames


class RemoveTag(_Model):
    """Take one or more tags away (their history rows get a removal time)."""

    remove_tag: TagNames


def _amount_shorthand(value: object) -> object:
    """`add_points: 100` is as natural as `add_points: {amount: 100}`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"amount": value}
    return value


class PointsChange(_Model):
    """An amount of points with the why and, optionally, a once-only key."""

    amount: Annotated[int, Field(gt=0)]
    """How many points (a positive whole number)."""
    reason: str = ""
    """Shown in the ledger and to admins, e.g. アンケート回答特典."""
    once: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """A key that makes this happen at most once per friend however often it runs."""
    already: MessageList | None = None
    """Messages sent instead when the once-key was used before (e.g. すでに受け取っています)."""


PointsSpec = Annotated[PointsChange, BeforeValidator(_amount_shorthand)]


class AddPoints(_Model):
    """Add points to the friend's ledger (they expire as the `points` settings say)."""

    add_points: PointsSpec


class RemovePoints(_Model):
    """Take points away, oldest first; refused if the balance would go negative."""

    remove_points: PointsSpec


class SetField(_Model):
    """Set friend fields, e.g. `set_field: {会員ランク: ゴールド}`; null clears a field."""

    set_field: Annotated[dict[str, Any], Field(min_length=1)]


class AddScore(_Model):
    """Move named scores, e.g. `add_score: {engagement: 5}` (negative lowers)."""

    add_score: Annotated[dict[str, int], Field(min_length=1)]


class Send(_Model):
    """Send messages: as a reply when answering a friend's fresh event, otherwise a push."""

    send: MessageList


class StartSteps(_Model):
    """Start a step scenario for the friend."""

    start_steps: Annotated[str, Field(min_length=1)]


class StopSteps(_Model):
    """Stop a running step scenario for the friend (nothing more is sent from it)."""

    stop_steps: Annotated[str, Field(min_length=1)]


class NotifyAdmins(_Model):
    """Push a notice to every admin; placeholders are about the friend the rule ran for,
    e.g. "{{ friend.display_name }} さん(#{{ friend.id }})が300ポイントに達しました"."""

    notify_admins: Annotated[str, Field(min_length=1, max_length=5000)]


class StartSurvey(_Model):
    """Start a survey in chat (or resume it where the friend left off)."""

    start_survey: Annotated[str, Field(min_length=1)]


def _rally_shorthand(value: object) -> object:
    """`add_stamp: 来店` is as natural as `add_stamp: {rally: 来店}`."""
    return {"rally": value} if isinstance(value, str) else value


class StampSpec(_Model):
    """Which stamp rally, and optionally a key that makes this stamp count once."""

    rally: Annotated[str, Field(min_length=1)]
    """A rally declared under `stamp_rallies`."""
    once: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """This stamp counts at most once per friend (e.g. visit-2024-04); without it, each time
    the action runs for a new event counts."""


class AddStamp(_Model):
    """Put a stamp on the friend's card; the goal brings the rally's present once."""

    add_stamp: Annotated[StampSpec, BeforeValidator(_rally_shorthand)]


class ShowStampCard(_Model):
    """Send the friend their stamp card (stamps so far, the goal, what is left)."""

    show_stamp_card: Annotated[str, Field(min_length=1)]


class LessonRef(_Model):
    """A lesson of a course."""

    course: Annotated[str, Field(min_length=1)]
    """A course declared under `courses`."""
    lesson: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]
    """The lesson's key in that course."""


class LessonDelivered(_Model):
    """Record that the friend received a lesson (a step's `do`), for the history page."""

    lesson_delivered: LessonRef


class LessonWatched(_Model):
    """Mark a lesson watched (a 視聴しました button): counted once, with the course's
    `on_watched` actions the first time."""

    lesson_watched: LessonRef


class SwitchMenu(_Model):
    """Show the friend another rich menu (only when the scenario has no `menu_rules`, which
    otherwise decide every friend's menu)."""

    switch_menu: Annotated[str, Field(min_length=1)]


_ACTIONS: dict[str, type[_Model]] = {
    "add_tag": AddTag,
    "remove_tag": RemoveTag,
    "add_points": AddPoints,
    "remove_points": RemovePoints,
    "set_field": SetField,
    "add_score": AddScore,
    "send": Send,
    "start_steps": StartSteps,
    "stop_steps": StopSteps,
    "notify_admins": NotifyAdmins,
    "start_survey": StartSurvey,
    "add_stamp": AddStamp,
    "show_stamp_card": ShowStampCard,
    "lesson_delivered": LessonDelivered,
    "lesson_watched": LessonWatched,
    "switch_menu": SwitchMenu,
}
ACTION_NAMES = ", ".join(_ACTIONS)


def _pick_action(value: Any) -> str | None:
    if isinstance(value, Mapping):
        keys = [key for key in value if key in _ACTIONS]
        if len(value) == 1 and keys:
            return f"action:{keys[0]}"
        return None
    for key, model in _ACTIONS.items():
        if isinstance(value, model):
            return f"action:{key}"
    return None


def _action_shape(value: object) -> object:
    """Explain a malformed action before pydantic's union error would."""
    if not isinstance(value, Mapping):
        raise PydanticCustomError(
            "action_shape", "must be a mapping with one action, e.g. add_tag: 会員"
        )
    unknown = [key for key in value if key not in _ACTIONS]
    if unknown:
        raise PydanticCustomError(
            "action_shape",
            "unknown action '{key}' (expected one of: {names})",
            {"key": str(unknown[0]), "names": ACTION_NAMES},
        )
    if len(value) != 1:
        raise PydanticCustomError(
            "action_shape",
            "must hold exactly one action (found {keys}); write each as its own list item",
            {"keys": ", ".join(str(k) for k in value)},
        )
    return value


Action = Annotated[
    Annotated[AddTag, Tag("action:add_tag")]
    | Annotated[RemoveTag, Tag("action:remove_tag")]
    | Annotated[AddPoints, Tag("action:add_points")]
    | Annotated[RemovePoints, Tag("action:remove_points")]
    | Annotated[SetField, Tag("action:set_field")]
    | Annotated[AddScore, Tag("action:add_score")]
    | Annotated[Send, Tag("action:send")]
    | Annotated[StartSteps, Tag("action:start_steps")]
    | Annotated[StopSteps, Tag("action:stop_steps")]
    | Annotated[NotifyAdmins, Tag("action:notify_admins")]
    | Annotated[StartSurvey, Tag("action:start_survey")]
    | Annotated[AddStamp, Tag("action:add_stamp")]
    | Annotated[ShowStampCard, Tag("action:show_stamp_card")]
    | Annotated[LessonDelivered, Tag("action:lesson_delivered")]
    | Annotated[LessonWatched, Tag("action:lesson_watched")]
    | Annotated[SwitchMenu, Tag("action:switch_menu")],
    Discriminator(_pick_action),
    BeforeValidator(_action_shape),
]
ActionList = Annotated[list[Action], Field(min_length=1)]


def action_token(actions: list[Any]) -> str:
    """The postback data for a button's actions: stable while the actions stay the same, so
    buttons already in friends' chats keep working across scenario reloads."""
    dumped = [a.model_dump(mode="json", exclude_none=True) for a in actions]
    digest = hashlib.sha256(json.dumps(dumped, sort_keys=True, ensure_ascii=False).encode())
    return ACTION_TOKEN_PREFIX + digest.hexdigest()[:24]
