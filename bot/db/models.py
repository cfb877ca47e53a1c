"""Database tables. Times are timezone-aware UTC and always set from `bot.clock`.

Class docstrings become table comments, and tortoise's SQLite migrator splits DDL on
semicolons: keep semicolons out of model docstrings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    points = fields.IntField(default=0, db_default=0)
    rich_menu = fields.CharField(max_length=120, null=True)
    """The rich menu the scenario's menu rules choose for this friend (a menu key such as
    member or card@3); null until the rules ran."""
    rich_menu_linked = fields.CharField(max_length=120, null=True)
    """The menu last confirmed linked at LINE; differs from rich_menu while a link is due."""
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "friends"
        indexes = (("rich_menu", "rich_menu_linked"),)


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
    friend_id: int
    tag: fields.ForeignKeyRelation[Tag] = fields.ForeignKeyField(
        "models.Tag", related_name="assignments", on_delete=fields.CASCADE
    )
    tag_id: int
    added_at = fields.DatetimeField()
    removed_at: datetime | None = fields.DatetimeField(null=True)
    source = fields.CharField(max_length=32)
    actor = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "friend_tags"
        indexes = (("friend_id", "tag_id", "removed_at"), ("tag_id", "added_at"))


class FriendField(Model):
    """A friend's value for one declared field (友だち情報欄), typed columns so SQL compares.

    Text, choice and multi-choice (a JSON list) go to value_text, numbers to value_number,
    dates to value_date with value_mmdd (month*100+day) for year-less birthday matches, and
    booleans to value_bool.
    """

    id = fields.IntField(primary_key=True)
    friend: fields.ForeignKeyRelation[Friend] = fields.ForeignKeyField(
        "models.Friend", related_name="fields", on_delete=fields.CASCADE
    )
    friend_id: int
    name = fields.CharField(max_length=100)
    value_text: str | None = fields.TextField(null=True)
    value_number: float | None = fields.FloatField(null=True)
    value_date = fields.DateField(null=True)
    value_mmdd = fields.IntField(null=True)
    value_bool = fields.BooleanField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "friend_fields"
        unique_together = (("friend_id", "name"),)
        indexes = (("name", "value_number"), ("name", "value_mmdd"), ("name", "value_date"))


class PointEntry(Model):
    """One line of the points ledger. Earnings keep what is left of them in `remaining`,
    spent oldest-expiry first, so expiry can take exactly what was not used."""

    id = fields.BigIntField(primary_key=True)
    friend: fields.ForeignKeyRelation[Friend] = fields.ForeignKeyField(
        "models.Friend", related_name="point_entries", on_delete=fields.CASCADE
    )
    friend_id: int
    kind = fields.CharField(max_length=16)
    delta = fields.IntField()
    remaining = fields.IntField(default=0)
    reason = fields.CharField(max_length=200, default="")
    source = fields.CharField(max_length=32)
    actor = fields.CharField(max_length=100, null=True)
    once_key = fields.CharField(max_length=191, null=True)
    created_at = fields.DatetimeField()
    expires_at: datetime | None = fields.DatetimeField(null=True)
    expiry_notified_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "point_entries"
        unique_together = (("friend_id", "once_key"),)
        indexes = (("friend_id", "created_at"), ("expires_at", "remaining"))


class FriendScore(Model):
    """A named counter beside points (スコアリング), e.g. engagement."""

    id = fields.IntField(primary_key=True)
    friend: fields.ForeignKeyRelation[Friend] = fields.ForeignKeyField(
        "models.Friend", related_name="scores", on_delete=fields.CASCADE
    )
    friend_id: int
    name = fields.CharField(max_length=100)
    value = fields.IntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "friend_scores"
        unique_together = (("friend_id", "name"),)
        indexes = (("name", "value"),)


class RuleState(Model):
    """Whether a rule's condition held for a friend when last checked, so threshold rules
    fire once per crossing instead of on every later change."""

    id = fields.BigIntField(primary_key=True)
    rule = fields.CharField(max_length=100)
    friend: fields.ForeignKeyRelation[Friend] = fields.ForeignKeyField(
        "models.Friend", related_name="rule_states", on_delete=fields.CASCADE
    )
    friend_id: int
    matched = fields.BooleanField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "rule_states"
        unique_together = (("rule", "friend_id"),)


class RuleCursor(Model):
    """How far the scheduler has looked for a time-based rule (cron runs, tags ageing)."""

    rule = fields.CharField(max_length=100, primary_key=True)
    checked_until = fields.DatetimeField()

    class Meta:
        table = "rule_cursors"


class StepRun(Model):
    """A step scenario running for one friend (the delivery engine completes this)."""

    id = fields.BigIntField(primary_key=True)
    friend: fields.ForeignKeyRelation[Friend] = fields.ForeignKeyField(
        "models.Friend", related_name="step_runs", on_delete=fields.CASCADE
    )
    friend_id: int
    scenario = fields.CharField(max_length=100)
    status = fields.CharField(max_length=16)
    started_at = fields.DatetimeField()
    next_step = fields.IntField(default=0)
    next_due_at: datetime | None = fields.DatetimeField(null=True)
    finished_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "step_runs"
        indexes = (("friend_id", "scenario", "status"), ("status", "next_due_at"))


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
    recipients: str | None = fields.TextField(null=True)
    recipient_count = fields.IntField(default=1, db_default=1)
    reply_token = fields.CharField(max_length=255, null=True)
    reply_expires_at: datetime | None = fields.DatetimeField(null=True)
    messages = fields.TextField()
    retry_key = fields.UUIDField()
    status = fields.CharField(max_length=16, db_index=True)
    source = fields.CharField(max_length=150)
    attempts = fields.IntField(default=0)
    http_status: int | None = fields.IntField(null=True)
    line_request_id = fields.CharField(max_length=64, null=True)
    error: str | None = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    next_attempt_at: datetime | None = fields.DatetimeField(null=True, db_index=True)
    sent_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_messages"
        indexes = (("source", "status"),)


class Admin(Model):
    """A LINE user who runs the account (owner, admin or operator) and gets notices.

    In admin mode their messages are commands; talk notifications forward friends' free
    messages to them (1:1 talk)."""

    id = fields.IntField(primary_key=True)
    line_user_id = fields.CharField(max_length=64, unique=True)
    role = fields.CharField(max_length=16)
    created_at = fields.DatetimeField()
    in_admin_mode = fields.BooleanField(default=False, db_default=False)
    talk_notifications = fields.BooleanField(default=True, db_default=True)

    class Meta:
        table = "admins"


class StepDelivery(Model):
    """What happened to one step for one run: sent, skipped (and why) or failed.

    Unique per run and step, so a step is never delivered twice, and the source of per-step
    statistics (due, sent, skipped as blocked / stopped / too old / condition)."""

    id = fields.BigIntField(primary_key=True)
    run_id = fields.BigIntField()
    friend_id = fields.IntField()
    scenario = fields.CharField(max_length=100)
    step = fields.IntField()
    branch = fields.CharField(max_length=100, null=True)
    status = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=100, null=True)
    due_at = fields.DatetimeField()
    at = fields.DatetimeField()

    class Meta:
        table = "step_deliveries"
        unique_together = (("run_id", "step"),)
        indexes = (("scenario", "step", "status"),)


class StepScenarioState(Model):
    """A step scenario paused for everyone (admins pause and resume it)."""

    scenario = fields.CharField(max_length=100, primary_key=True)
    paused = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "step_scenario_states"


class BroadcastRun(Model):
    """One occurrence of a broadcast. Unique per name and time, so however many processes
    tick, an occurrence is queued once; its messages are outbox rows keyed by this run."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    occurrence = fields.DatetimeField()
    status = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=100, null=True)
    recipients = fields.IntField(default=0)
    variant = fields.CharField(max_length=100, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "broadcast_runs"
        unique_together = (("name", "occurrence"),)


class Tap(Model):
    """A friend tapped a postback button or quick reply (for per-message tap counts)."""

    id = fields.BigIntField(primary_key=True)
    friend_id = fields.IntField()
    data = fields.CharField(max_length=300)
    at = fields.DatetimeField()

    class Meta:
        table = "taps"
        indexes = (("data", "at"),)


class TrackedLink(Model):
    """A URL sent in messages through our redirect (/l/...), so taps on it are counted.

    One row per URL and source (a step, a broadcast and its variant, replies)."""

    id = fields.IntField(primary_key=True)
    url = fields.CharField(max_length=1000)
    source = fields.CharField(max_length=150)
    created_at = fields.DatetimeField()

    class Meta:
        table = "tracked_links"
        unique_together = (("source", "url"),)


class LinkClick(Model):
    """A tap on a tracked link, by a known friend or (message-level links) by someone."""

    id = fields.BigIntField(primary_key=True)
    link_id = fields.IntField()
    friend_id = fields.IntField(null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "link_clicks"
        indexes = (("link_id", "friend_id"),)


class VariantAssignment(Model):
    """Which variant of an A/B test a friend received, and when (first delivery).

    Unique per test and friend: a friend keeps their variant."""

    id = fields.BigIntField(primary_key=True)
    experiment = fields.CharField(max_length=150)
    friend_id = fields.IntField()
    variant = fields.CharField(max_length=100)
    delivered_at = fields.DatetimeField()

    class Meta:
        table = "variant_assignments"
        unique_together = (("experiment", "friend_id"),)
        indexes = (("experiment", "variant"),)


class RichMenuRecord(Model):
    """A rich menu created at LINE, by the hash of its content (request body and image).

    A menu whose content is unchanged is never created again, and LINE's menus whose hash
    no declared menu has any more are deleted on sync."""

    content_hash = fields.CharField(max_length=64, primary_key=True)
    menu_key = fields.CharField(max_length=120)
    line_rich_menu_id = fields.CharField(max_length=100, null=True)
    alias = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "rich_menus"
        indexes = (("menu_key",),)


class Conversation(Model):
    """A chat conversation (a survey) with a friend: the state machine's state and answers.

    The active friend id is the friend's id while the conversation is the one the friend is in
    (unique, so a friend is in at most one) and null when queued or finished."""

    id = fields.BigIntField(primary_key=True)
    friend_id = fields.IntField()
    kind = fields.CharField(max_length=20)
    name = fields.CharField(max_length=100)
    state = fields.CharField(max_length=100)
    status = fields.CharField(max_length=12)
    data: dict[str, Any] = fields.JSONField(default=dict)
    active_friend_id = fields.IntField(null=True, unique=True)
    started_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    remind_at: datetime | None = fields.DatetimeField(null=True)
    finished_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "conversations"
        indexes = (("friend_id", "status"), ("status", "remind_at"), ("kind", "name", "status"))


class SurveyAnswer(Model):
    """One answer of a completed survey (a multi-select gives one row per choice), for
    counting answers per choice and per segment."""

    id = fields.BigIntField(primary_key=True)
    conversation_id = fields.BigIntField()
    friend_id = fields.IntField()
    survey = fields.CharField(max_length=100)
    question = fields.CharField(max_length=100)
    value = fields.CharField(max_length=500)
    answered_at = fields.DatetimeField()

    class Meta:
        table = "survey_answers"
        indexes = (("survey", "question", "value"), ("friend_id", "survey"))


class StampCard(Model):
    """A friend's card in a stamp rally: the machine's state (collecting, completed)."""

    id = fields.IntField(primary_key=True)
    friend_id = fields.IntField()
    rally = fields.CharField(max_length=100)
    state = fields.CharField(max_length=20)
    stamps = fields.IntField(default=0)
    completed_at: datetime | None = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "stamp_cards"
        unique_together = (("friend_id", "rally"),)


class Stamp(Model):
    """One stamp on a card. The stamp key (a lesson, a code, a button) makes it count once."""

    id = fields.BigIntField(primary_key=True)
    friend_id = fields.IntField()
    rally = fields.CharField(max_length=100)
    stamp_key = fields.CharField(max_length=200)
    source = fields.CharField(max_length=150)
    at = fields.DatetimeField()

    class Meta:
        table = "stamps"
        unique_together = (("friend_id", "rally", "stamp_key"),)


class LessonProgress(Model):
    """A lesson of a course delivered to a friend, and when they marked it watched."""

    id = fields.BigIntField(primary_key=True)
    friend_id = fields.IntField()
    course = fields.CharField(max_length=100)
    lesson = fields.CharField(max_length=100)
    delivered_at: datetime | None = fields.DatetimeField(null=True)
    watched_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "lesson_progress"
        unique_together = (("friend_id", "course", "lesson"),)


class FormSubmission(Model):
    """A LIFF form sent by a friend (verified by their ID token): the answers as given."""

    id = fields.BigIntField(primary_key=True)
    friend_id = fields.IntField()
    form = fields.CharField(max_length=100)
    answers: dict[str, Any] = fields.JSONField()
    submitted_at = fields.DatetimeField()

    class Meta:
        table = "form_submissions"
        indexes = (("form", "friend_id"),)


class AdminInvite(Model):
    """A one-time invitation code an owner made: only its hash is kept."""

    id = fields.IntField(primary_key=True)
    code_hash = fields.CharField(max_length=64, unique=True)
    role = fields.CharField(max_length=16)
    created_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at: datetime | None = fields.DatetimeField(null=True)
    used_by = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "admin_invites"


class AdminCodeAttempt(Model):
    """A code someone sent to become an admin, kept to rate-limit wrong guesses."""

    id = fields.BigIntField(primary_key=True)
    line_user_id = fields.CharField(max_length=64)
    succeeded = fields.BooleanField()
    at = fields.DatetimeField()

    class Meta:
        table = "admin_code_attempts"
        indexes = (("line_user_id", "at"),)


class AuditEntry(Model):
    """One admin action: who, what, on whom, when and with what result."""

    id = fields.BigIntField(primary_key=True)
    admin_user_id = fields.CharField(max_length=64)
    role = fields.CharField(max_length=16)
    command = fields.CharField(max_length=100)
    target = fields.CharField(max_length=500, default="")
    detail = fields.TextField(default="")
    result = fields.CharField(max_length=32)
    at = fields.DatetimeField()

    class Meta:
        table = "audit_log"
        indexes = (("at",), ("admin_user_id", "at"))


class AdminFlow(Model):
    """What an admin is in the middle of (a broadcast draft, a confirmation, picking one of
    several friends, a reply): one row per admin, so it survives restarts."""

    id = fields.IntField(primary_key=True)
    admin_user_id = fields.CharField(max_length=64, unique=True)
    kind = fields.CharField(max_length=32)
    data: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "admin_flows"


class ChatBroadcast(Model):
    """A broadcast an admin composed in chat: audience, messages, when, and how far the
    progress reports to that admin have got."""

    id = fields.IntField(primary_key=True)
    admin_user_id = fields.CharField(max_length=64)
    audience: dict[str, Any] | None = fields.JSONField(null=True)
    audience_label = fields.CharField(max_length=300, default="")
    messages: list[Any] = fields.JSONField()
    status = fields.CharField(max_length=16)
    send_at = fields.DatetimeField()
    recipients = fields.IntField(default=0)
    reported_percent = fields.IntField(default=0)
    reported_at: datetime | None = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    finished_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "chat_broadcasts"
        indexes = (("status", "send_at"),)


class TalkMessage(Model):
    """One message of the 1:1 talk with a friend: theirs (in) or an admin's reply (out)."""

    id = fields.BigIntField(primary_key=True)
    friend_id = fields.IntField()
    direction = fields.CharField(max_length=4)
    admin_user_id = fields.CharField(max_length=64, null=True)
    kind = fields.CharField(max_length=16)
    text = fields.TextField()
    at = fields.DatetimeField()

    class Meta:
        table = "talk_messages"
        indexes = (("friend_id", "at"),)


class ExportLink(Model):
    """A CSV download an admin asked for: only the token's hash is kept, with its expiry."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    admin_user_id = fields.CharField(max_length=64)
    audience: dict[str, Any] | None = fields.JSONField(null=True)
    audience_label = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    downloads = fields.IntField(default=0)

    class Meta:
        table = "export_links"


class ScenarioReload(Model):
    """A scenario reload an admin asked for: every process reloads when it sees a newer row
    whose file hash differs from the one it runs."""

    id = fields.IntField(primary_key=True)
    content_hash = fields.CharField(max_length=64)
    admin_user_id = fields.CharField(max_length=64, null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "scenario_reloads"


class IntegrationEvent(Model):
    """An event received from an integration (Stripe, Shopify, a signed webhook): kept by
    its id so a replay is recognised and processed once. Also holds once-only keys such as
    the first payment of a subscription."""

    id = fields.BigIntField(primary_key=True)
    provider = fields.CharField(max_length=40)
    event_id = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=100, default="")
    friend_id = fields.IntField(null=True)
    status = fields.CharField(max_length=16, default="received")
    detail = fields.CharField(max_length=500, default="")
    received_at = fields.DatetimeField()
    done_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "integration_events"
        unique_together = (("provider", "event_id"),)
        indexes = (("provider", "status", "received_at"),)


class ExternalCustomer(Model):
    """A customer of a payment or shop service linked to a friend (a Stripe customer id, a
    Shopify customer id), so later events about the customer reach the friend."""

    id = fields.IntField(primary_key=True)
    provider = fields.CharField(max_length=40)
    customer_id = fields.CharField(max_length=100)
    friend_id = fields.IntField()
    linked_at = fields.DatetimeField()
    via = fields.CharField(max_length=40, default="")

    class Meta:
        table = "external_customers"
        unique_together = (("provider", "customer_id"),)
        indexes = (("friend_id",),)


class ShopOrder(Model):
    """A paid shop order: what it earned, what refunds took back, and whose it is (a friend
    once the customer is linked, so orders paid before linking are credited then)."""

    id = fields.BigIntField(primary_key=True)
    order_id = fields.CharField(max_length=100, unique=True)
    customer_id = fields.CharField(max_length=100, null=True)
    friend_id = fields.IntField(null=True)
    name = fields.CharField(max_length=100, default="")
    subtotal = fields.IntField(default=0)
    currency = fields.CharField(max_length=8, default="")
    items: list[dict[str, Any]] = fields.JSONField(default=list)
    points = fields.IntField(default=0)
    points_reversed = fields.IntField(default=0)
    refunded = fields.IntField(default=0)
    paid_at = fields.DatetimeField()
    credited_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "shop_orders"
        indexes = (("customer_id",), ("friend_id",))


class RouteRecord(Model):
    """An inflow route (流入経路): from the scenario, or made by an admin in chat."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    title = fields.CharField(max_length=200, default="")
    target = fields.CharField(max_length=2000, default="friend_add")
    tag = fields.CharField(max_length=100, null=True)
    origin = fields.CharField(max_length=16, default="scenario")
    created_by = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "inflow_routes"


class RouteVisit(Model):
    """One opening of a route's link. `code` is what a visitor carries into LINE, so the
    visit can be matched to a friend when they identify or follow."""

    id = fields.BigIntField(primary_key=True)
    route = fields.CharField(max_length=64)
    code = fields.CharField(max_length=32, unique=True)
    at = fields.DatetimeField()
    line_user_id = fields.CharField(max_length=64, null=True)
    friend_id = fields.IntField(null=True)
    matched_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "route_visits"
        indexes = (("route", "at"), ("line_user_id", "matched_at"))


class RouteArrival(Model):
    """A friend who came through a route: whether it brought them as a new friend, whether
    the route's actions ran, and when they converted."""

    id = fields.BigIntField(primary_key=True)
    route = fields.CharField(max_length=64)
    friend_id = fields.IntField()
    at = fields.DatetimeField()
    new_friend = fields.BooleanField(default=False)
    actions_run = fields.BooleanField(default=False)
    converted_at: datetime | None = fields.DatetimeField(null=True)

    class Meta:
        table = "route_arrivals"
        unique_together = (("route", "friend_id"),)
        indexes = (("friend_id",),)
