"""Every admin command, grouped as /help shows them."""

from __future__ import annotations

from bot.admin.commands import (
    accounts,
    broadcast,
    friends,
    points,
    routes,
    segments,
    steps,
    system,
    tags,
)
from bot.admin.registry import Command

GROUPS = (
    "基本",
    "友だち",
    "タグ",
    "ポイント",
    "セグメント・集計",
    "ステップ配信",
    "一斉配信",
    "流入経路",
    "管理者",
)

COMMANDS: tuple[Command, ...] = (
    *system.COMMANDS,
    *friends.COMMANDS,
    *tags.COMMANDS,
    *points.COMMANDS,
    *segments.COMMANDS,
    *steps.COMMANDS,
    *broadcast.COMMANDS,
    *routes.COMMANDS,
    *accounts.COMMANDS,
)

BY_KEY: dict[str, Command] = {command.key: command for command in COMMANDS}
PHRASES: dict[str, tuple[str, ...]] = {command.key: command.phrases for command in COMMANDS}

#: Operations kept until the admin confirms them (see common.confirm_first).
CONFIRMABLE = {**tags.CONFIRM, **routes.CONFIRM}
