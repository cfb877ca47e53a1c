"""The friend card (友だち情報): everything an admin wants at a glance about one friend, as
one Flex bubble — who they are, their tags, fields, points, running step scenarios and the
last words of the 1:1 talk — with buttons that send the follow-up commands."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot import clock
from bot.admin.flex import ACCENT, MUTED, WARNING, clip, text, titled_message
from bot.automation.steps import PAUSED, REMINDER_PREFIX, RUNNING
from bot.db.models import Friend, FriendTag, StepRun, TalkMessage
from bot.scenario.crm import FieldDeclaration

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.services import Services

MAX_TAGS = 12
MAX_FIELDS = 15
MAX_STEP_RUNS = 5
TALK_MESSAGES = 5
NAME_CHARS = 40  # the card's title
LABEL_CHARS = 20  # a field's or scenario's name in a row
VALUE_CHARS = 80  # a field value, a tag list entry
TALK_CHARS = 60  # one talk message
NO_NAME = "(名前なし)"
ADMIN_SENDER = "管理者"
TAG_HISTORY_COMMAND = "/タグ履歴 #{id}"
TALK_COMMAND = "/トーク #{id}"


def _row(label: str, value: str, *, color: str | None = None) -> dict[str, Any]:
    """A label on the left and its value on the right."""
    value_style: dict[str, Any] = {"size": "sm", "flex": 5}
    if color:
        value_style["color"] = color
    return {
        "type": "box",
        "layout": "horizontal",
        "spacing": "md",
        "contents": [
            text(clip(label, LABEL_CHARS), size="sm", color=MUTED, flex=3),
            text(value, **value_style),
        ],
    }


def _section(title: str, contents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "box",
        "layout": "vertical",
        "spacing": "xs",
        "margin": "lg",
        "contents": [text(title, size="xs", color=MUTED, weight="bold"), *contents],
    }


def _local_day(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y/%m/%d")


def _talk_time(when: datetime, today: date, zone: ZoneInfo) -> str:
    """HH:MM for today's messages, M/D HH:MM for older ones (local time)."""
    local = when.astimezone(zone)
    if local.date() == today:
        return local.strftime("%H:%M")
    return f"{local.month}/{local.day} {local:%H:%M}"


def field_display(decl: FieldDeclaration, value: Any) -> str:
    """A field value as an admin reads it (dates 2026/04/01, booleans はい/いいえ)."""
    if decl.type == "bool":
        return "はい" if value else "いいえ"
    if decl.type == "multi_choice":
        return "、".join(str(item) for item in value)
    if isinstance(value, date):
        return value.strftime("%Y/%m/%d")
    return str(value)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


async def _tag_names(friend_id: int) -> list[str]:
    """Current tags, the most recently given first."""
    rows = (
        await FriendTag.filter(friend_id=friend_id, removed_at__isnull=True)
        .order_by("-added_at", "-id")
        .values_list("tag__name", flat=True)
    )
    return [str(name) for name in rows]


def _tags_section(names: list[str]) -> dict[str, Any]:
    if not names:
        return _section("タグ", [text("タグはありません", size="sm", color=MUTED)])
    shown = "、".join(clip(name, VALUE_CHARS) for name in names[:MAX_TAGS])
    lines = [text(shown, size="sm")]
    if len(names) > MAX_TAGS:
        lines.append(text(f"ほか {len(names) - MAX_TAGS} 件", size="xs", color=MUTED))
    return _section(f"タグ ({len(names)})", lines)


async def _fields_section(services: Services, friend_id: int) -> dict[str, Any] | None:
    """Declared fields that have a value, in the scenario's order; None when all are empty."""
    values = await services.crm.fields.get_all(friend_id)
    filled = [
        (name, field_display(decl, values[name]))
        for name, decl in services.scenario.fields.items()
        if not _is_empty(values.get(name))
    ]
    if not filled:
        return None
    rows = [_row(name, clip(value, VALUE_CHARS)) for name, value in filled[:MAX_FIELDS]]
    if len(filled) > MAX_FIELDS:
        rows.append(text(f"ほか {len(filled) - MAX_FIELDS} 件", size="xs", color=MUTED))
    return _section("友だち情報", rows)


def _run_label(services: Services, run: StepRun) -> tuple[str, str]:
    """(scenario name, what comes next) of a running or paused step run."""
    steps = None
    name = run.scenario
    if name.startswith(REMINDER_PREFIX):
        name = name[len(REMINDER_PREFIX) :]
        reminder = services.scenario.reminders.get(name)
        steps = reminder.steps if reminder else None
        name = f"リマインダ {name}"
    else:
        scenario = services.scenario.steps.get(name)
        steps = scenario.steps if scenario else None
    number = run.next_step + 1
    upcoming = f"次: {number}通目"
    if steps is not None:
        upcoming = f"次: {number}/{len(steps)}通目"
        if run.next_step < len(steps) and steps[run.next_step].name:
            upcoming += f" {steps[run.next_step].name}"
    if run.status == PAUSED:
        upcoming += " (一時停止中)"
    elif run.next_due_at is not None:
        local = run.next_due_at.astimezone(services.scenario.zone)
        upcoming += f" {local.month}/{local.day} {local:%H:%M}予定"
    return name, upcoming


async def _steps_section(services: Services, friend_id: int) -> dict[str, Any] | None:
    runs = (
        await StepRun.filter(friend_id=friend_id, status__in=[RUNNING, PAUSED])
        .order_by("started_at", "id")
        .limit(MAX_STEP_RUNS + 1)
    )
    if not runs:
        return None
    rows = []
    for run in runs[:MAX_STEP_RUNS]:
        name, upcoming = _run_label(services, run)
        color = WARNING if run.status == PAUSED else None
        rows.append(_row(name, clip(upcoming, VALUE_CHARS), color=color))
    if len(runs) > MAX_STEP_RUNS:
        rows.append(text("ほかにも実行中のステップがあります", size="xs", color=MUTED))
    return _section("ステップ配信", rows)


async def _talk_section(services: Services, friend: Friend) -> dict[str, Any]:
    newest = (
        await TalkMessage.filter(friend_id=friend.id).order_by("-at", "-id").limit(TALK_MESSAGES)
    )
    if not newest:
        return _section(
            "最近のトーク", [text("メッセージはまだありません", size="sm", color=MUTED)]
        )
    zone = services.scenario.zone
    today = clock.now().astimezone(zone).date()
    friend_name = clip(friend.display_name or NO_NAME, 12)
    lines = []
    for message in reversed(newest):
        outgoing = message.direction == "out"
        sender = ADMIN_SENDER if outgoing else friend_name
        lines.append(
            {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    text(
                        f"{_talk_time(message.at, today, zone)} {sender}",
                        size="xxs",
                        color=ACCENT if outgoing else MUTED,
                    ),
                    text(clip(message.text or f"[{message.kind}]", TALK_CHARS), size="sm"),
                ],
            }
        )
    return _section("最近のトーク", lines)


def _command_button(label: str, command: str) -> dict[str, Any]:
    return {
        "type": "button",
        "style": "secondary",
        "height": "sm",
        "action": {"type": "message", "label": label, "text": command},
    }


async def friend_card(services: Services, friend: Friend) -> dict[str, Any]:
    """The friend card as a LINE Flex message, ready for `services.outbox.send`."""
    zone = services.scenario.zone
    name = friend.display_name or NO_NAME
    points = await services.crm.points.balance(friend.id)
    tags = await _tag_names(friend.id)
    summary = [_row("友だち追加日", _local_day(friend.created_at, zone))]
    if friend.blocked:
        summary.append(_row("状態", "ブロック中", color=WARNING))
    summary.append(_row("ポイント", f"{points:,} pt"))
    body: list[dict[str, Any]] = [
        {"type": "box", "layout": "vertical", "spacing": "xs", "contents": summary},
        _tags_section(tags),
    ]
    for section in (
        await _fields_section(services, friend.id),
        await _steps_section(services, friend.id),
    ):
        if section is not None:
            body.append(section)
    body.append(await _talk_section(services, friend))
    short_id = f"#{friend.id}"
    buttons = [
        _command_button("タグ履歴", TAG_HISTORY_COMMAND.format(id=friend.id)),
        _command_button("トーク履歴", TALK_COMMAND.format(id=friend.id)),
    ]
    return titled_message(
        clip(name, NAME_CHARS), short_id, body, f"友だち情報 {short_id} {name}", buttons
    )


__all__ = ["field_display", "friend_card"]
