"""Database tables. Times are timezone-aware UTC and always set from `bot.clock`.

Class docstrings become table comments, and tortoise's SQLite migrator splits DDL on
semicolons: keep semicolons out of model docstrings.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.models import Model


class Friend(Model):
    """A LINE user who added the account, `id` is the short number admins see as #123."""

    id = fields.IntField(primary_key=True)
    line_user_id = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=200, default="")
    picture_url = fields.CharField(max_length=2000, null=True)
    status_message: str | None = fields.TextField(null=True)
    language = fields.CharField(max_length=16, null=True)
    blocked = fields.BooleanField(default=False)
    followed_at: datetime | None = fields.DatetimeField(null=True)
    unfollowed_at: datetime | None = fields.DatetimeField(null=True)
    last_event_at: datetime | None = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "friends"


class Tag(Model):
    """A label operators put on friends (declared in the scenario or created by admins)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    folder = fields.CharField(max_length=100, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "tags"


class FriendTag(Model):
    """One period during which a friend had a tag (re-adding after removal opens a new one)."""

    id = fields.IntField(primary_key=True)
    friend: fields.ForeignKeyRelation[Friend] = fields.ForeignKeyField(
        "models.Friend", related_name="tag_history", on_delete=fields.CASCADE
    )
    tag: fields.ForeignKeyRelation[Tag] = fields.ForeignKeyField(
        "models.Tag", related_name="assignments", on_delete=fields.CASCADE
    )
    added_at = fields.DatetimeField()
    removed_at: datetime | None = fields.DatetimeField(null=True)
    source = fields.CharField(max_length=32)
    actor = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "friend_tags"
        indexes = (("friend_id", "tag_id", "removed_at"),)


class InboxEvent(Model):
    """A webhook event as LINE sent it, stored before the 200 so nothing is lost."""

    id = fields.BigIntField(primary_key=True)
    webhook_event_id = fields.CharField(max_length=64, unique=True)
    user_id = fields.CharField(max_length=64, null=True, db_index=True)
    event_type = fields.CharField(max_length=32)
    payload = fields.TextField()
    event_timestamp = fields.BigIntField()
    is_redelivery = fields.BooleanField(default=False)
    status = fields.CharField(max_length=16, db_index=True)
    attempts = fields.IntField(default=0)
    error: str | None = fields.TextField(null=True)
    received_at = fields.DatetimeField()
    processed_at: datetime | None = fields.DatetimeField(null=True)
    duration_ms: float | None = fields.FloatField(null=True)

    class Meta:
        table = "inbox_events"


class OutboxMessage(Model):
    """An outgoing request to LINE, written before the HTTP call so a crash never loses it."""

    id = fields.BigIntField(primary_key=True)
    dedupe_key = fields.CharField(max_length=191, unique=True, null=True)
    user_id = fields.CharField(max_length=64, db_index=True)
    kind = fields.CharField(max_length=16)
    reply_token = fields.CharField(max_length=255, null=True)
    reply_expires_at: datetime | None = fields.DatetimeField(null=True)
    messages = fields.TextField()
    retry_key = fields.UUIDField()
    status = fields.CharField(max_length=16, db_index=True)
    source = fields.CharField(max_length=32)
    attempts = fields.IntField(default=0)
    http_status: int | None = fields.IntField(null=True)
    line_request_id = fields.CharField(max_length=64, null=True)
    error: str | None = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    next_attempt_at: datetime | None = fields.DatetimeField(null=True, db_index=True)
    sent_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_messages"
