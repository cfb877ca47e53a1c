"""What a message template knows about its friend, built the same way for every sender.

`friend.id`, `friend.display_name`, `friend.points` (the balance) and the like come with
the friend row. `friend.fields` (the declared friend fields, typed) costs a query, so it is
loaded only for messages that mention it, once per batch of friends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from bot import clock
from bot.crm.fields import FieldService
from bot.db.models import Friend


def mentions(messages: Iterable[Any], name: str) -> bool:
    """Whether any template in these messages may read `friend.<name>` (a cheap text look,
    so loading what it needs is skipped for the messages that cannot use it)."""
    for message in messages:
        data = message.model_dump(mode="json") if isinstance(message, BaseModel) else message
        if name in json.dumps(data, ensure_ascii=False):
            return True
    return False


def mentions_fields(messages: Iterable[Any]) -> bool:
    """Whether any template in these messages may read `friend.fields`."""
    return mentions(messages, "fields")


def friend_variables(
    friend: Friend | None,
    *,
    line_user_id: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`friend.…` for templates; an unknown friend (not stored yet) reads as empty."""
    return {
        "id": friend.id if friend else None,
        "display_name": friend.display_name if friend else "",
        "line_user_id": friend.line_user_id if friend else line_user_id,
        "language": friend.language if friend else None,
        "points": friend.points if friend else 0,
        "fields": dict(fields or {}),
    }


def template_context(
    friend: Friend | None,
    zone: ZoneInfo,
    *,
    line_user_id: str | None = None,
    fields: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a template may name: `friend`, `now` (local time) and any extras."""
    return {
        "friend": friend_variables(friend, line_user_id=line_user_id, fields=fields),
        "now": (now or clock.now()).astimezone(zone),
        **(extra or {}),
    }


async def contexts_for(
    friends: Iterable[Friend],
    messages: Iterable[Any],
    zone: ZoneInfo,
    field_service: FieldService,
) -> dict[int, dict[str, Any]]:
    """Template contexts for a batch of friends, fields loaded only when used."""
    friends = list(friends)
    now = clock.now()
    fields: dict[int, dict[str, Any]] = {}
    if mentions_fields(messages):
        fields = await field_service.get_many([friend.id for friend in friends])
    return {
        friend.id: template_context(friend, zone, fields=fields.get(friend.id), now=now)
        for friend in friends
    }
