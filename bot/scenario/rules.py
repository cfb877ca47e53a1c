"""Rules (タグの自動設定 and more): `when` something happens, `if` the friend matches, `do`.

Triggers that report a change of state (points, scores, fields) fire when the `if` condition
becomes true, once per crossing (`repeat: true` fires on every change while it holds); event
triggers (follow, tags, messages, postbacks, forms) fire every time the `if` holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator
from pydantic_core import PydanticCustomError

from .actions import ActionList, TagNames
from .crm import Duration
from .schema import Match, _Model
from .segment import Condition


class Followed(_Model):
    """When someone adds the account (including an unblock)."""

    followed: Literal[True]


class Unfollowed(_Model):
    """When a friend blocks the account."""

    unfollowed: Literal[True]


class TagAddedTrigger(_Model):
    """When one of these tags is added to the friend."""

    tag_added: TagNames


class TagRemovedTrigger(_Model):
    """When one of these tags is removed from the friend."""

    tag_removed: TagNames


class PointsChangedTrigger(_Model):
    """When the friend's points balance changes (give a threshold in `if`)."""

    points_changed: Literal[True]


class ScoreChangedTrigger(_Model):
    """When the named score changes."""

    score_changed: Annotated[str, Field(min_length=1)]


class FieldChangedTrigger(_Model):
    """When the named friend field changes."""

    field_changed: Annotated[str, Field(min_length=1)]


class MessageTrigger(_Model):
    """When the friend sends a text that matches (same keys as auto-reply matches)."""

    message: Match


class PostbackMatch(_Model):
    equals: str | None = None
    prefix: str | None = None


def _postback_shorthand(value: object) -> object:
    return {"equals": value} if isinstance(value, str) else value


class PostbackTrigger(_Model):
    """When the friend taps something that sends this postback data (or data with a prefix)."""

    postback: Annotated[PostbackMatch, BeforeValidator(_postback_shorthand)]


class LinkClickedTrigger(_Model):
    """When the friend taps a tracked link to this URL (or any URL with this prefix).
    Needs `delivery.track_links: friend`, so the tap is known to be theirs."""

    link_clicked: Annotated[PostbackMatch, BeforeValidator(_postback_shorthand)]


class FormSubmittedTrigger(_Model):
    """When the friend submits the named LIFF form."""

    form_submitted: Annotated[str, Field(min_length=1)]


class SurveyCompletedTrigger(_Model):
    """When the friend completes the named survey."""

    survey_completed: Annotated[str, Field(min_length=1)]


class CronSpec(_Model):
    cron: str
    """Five fields, minute hour day month weekday, in the scenario's time zone."""

    @field_validator("cron")
    @classmethod
    def _valid(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "cron",
                "invalid cron expression '{value}': {reason} (expected e.g. '0 10 1 * *')",
                {"value": value, "reason": str(exc)},
            ) from None
        return value


class ScheduleTrigger(_Model):
    """At these times, for every friend who matches `if` (e.g. the 1st of each month)."""

    schedule: CronSpec


class TagAgeSpec(_Model):
    tag: Annotated[str, Field(min_length=1)]
    at_least: Duration
    """How long the friend must have held the tag, e.g. 1d (経過期間)."""


class TagAgeTrigger(_Model):
    """When a tag the friend still holds turns this old (checked every minute)."""

    tag_age: TagAgeSpec


def _true_is_any(value: object) -> object:
    return {} if value is True else value


def _names(value: object) -> object:
    return [value] if isinstance(value, str | int) else value


Names = Annotated[
    list[Annotated[str, Field(min_length=1)]],
    BeforeValidator(_names, json_schema_input_type=str | list[str]),
    Field(min_length=1),
]


class PaymentMatch(_Model):
    price: Names | None = None
    """Only payments including one of these Stripe price ids."""
    product: Names | None = None
    """Only payments including one of these Stripe product ids."""
    renewals: bool = False
    """Also fire when a subscription renews (a later invoice paid), not only on joining."""


class PaymentTrigger(_Model):
    """When the friend pays through Stripe (`payment: true`, or only some prices or
    products)."""

    payment: Annotated[
        PaymentMatch, BeforeValidator(_true_is_any, json_schema_input_type=bool | PaymentMatch)
    ]


class SubscriptionCanceledTrigger(_Model):
    """When the friend's Stripe subscription ends."""

    subscription_canceled: Literal[True]


class PaymentFailedTrigger(_Model):
    """When a Stripe payment of the friend fails."""

    payment_failed: Literal[True]


class OrderMatch(_Model):
    sku: Names | None = None
    """Only orders with one of these SKUs."""
    product_id: (
        Annotated[list[int], BeforeValidator(_names, json_schema_input_type=int | list[int])] | None
    ) = None
    """Only orders with one of these Shopify product ids."""


class OrderPaidTrigger(_Model):
    """When a shop order of the friend is paid (`order_paid: true`, or some products)."""

    order_paid: Annotated[
        OrderMatch, BeforeValidator(_true_is_any, json_schema_input_type=bool | OrderMatch)
    ]


class WebhookMatch(_Model):
    source: Annotated[str, Field(min_length=1)]
    """A source from `integrations.webhooks`."""
    event: Names | None = None
    """Only these event names; any event of the source when not given."""


class WebhookTrigger(_Model):
    """When another system posts a signed event naming the friend."""

    webhook: WebhookMatch


class RouteTrigger(_Model):
    """When the friend comes through one of these inflow routes (流入経路)."""

    route: Names


_TRIGGERS: dict[str, type[_Model]] = {
    "followed": Followed,
    "unfollowed": Unfollowed,
    "tag_added": TagAddedTrigger,
    "tag_removed": TagRemovedTrigger,
    "points_changed": PointsChangedTrigger,
    "score_changed": ScoreChangedTrigger,
    "field_changed": FieldChangedTrigger,
    "message": MessageTrigger,
    "postback": PostbackTrigger,
    "link_clicked": LinkClickedTrigger,
    "form_submitted": FormSubmittedTrigger,
    "survey_completed": SurveyCompletedTrigger,
    "schedule": ScheduleTrigger,
    "tag_age": TagAgeTrigger,
    "payment": PaymentTrigger,
    "subscription_canceled": SubscriptionCanceledTrigger,
    "payment_failed": PaymentFailedTrigger,
    "order_paid": OrderPaidTrigger,
    "webhook": WebhookTrigger,
    "route": RouteTrigger,
}
TRIGGER_NAMES = ", ".join(_TRIGGERS)
STATE_TRIGGERS = ("points_changed", "score_changed", "field_changed")
#: Triggers that can be written as a bare word (`when: followed`).
_FLAG_TRIGGERS = (
    "followed", "unfollowed", "points_changed", "payment", "subscription_canceled",
    "payment_failed", "order_paid",
)  # fmt: skip


def _pick(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return f"trigger:{next(iter(value))}" if len(value) == 1 else None
    for key, model in _TRIGGERS.items():
        if isinstance(value, model):
            return f"trigger:{key}"
    return None


def _trigger_shape(value: object) -> object:
    if isinstance(value, str) and value in _FLAG_TRIGGERS:
        return {value: True}
    if not isinstance(value, Mapping):
        raise PydanticCustomError("trigger_shape", "must be a trigger such as tag_added: 会員")
    unknown = [key for key in value if key not in _TRIGGERS]
    if unknown:
        raise PydanticCustomError(
            "trigger_shape",
            "unknown trigger '{key}' (expected one of: {names})",
            {"key": str(unknown[0]), "names": TRIGGER_NAMES},
        )
    if len(value) != 1:
        raise PydanticCustomError(
            "trigger_shape", "must hold exactly one trigger; write each as its own list item"
        )
    return value


Trigger = Annotated[
    Annotated[Followed, Tag("trigger:followed")]
    | Annotated[Unfollowed, Tag("trigger:unfollowed")]
    | Annotated[TagAddedTrigger, Tag("trigger:tag_added")]
    | Annotated[TagRemovedTrigger, Tag("trigger:tag_removed")]
    | Annotated[PointsChangedTrigger, Tag("trigger:points_changed")]
    | Annotated[ScoreChangedTrigger, Tag("trigger:score_changed")]
    | Annotated[FieldChangedTrigger, Tag("trigger:field_changed")]
    | Annotated[MessageTrigger, Tag("trigger:message")]
    | Annotated[PostbackTrigger, Tag("trigger:postback")]
    | Annotated[LinkClickedTrigger, Tag("trigger:link_clicked")]
    | Annotated[FormSubmittedTrigger, Tag("trigger:form_submitted")]
    | Annotated[SurveyCompletedTrigger, Tag("trigger:survey_completed")]
    | Annotated[ScheduleTrigger, Tag("trigger:schedule")]
    | Annotated[TagAgeTrigger, Tag("trigger:tag_age")]
    | Annotated[PaymentTrigger, Tag("trigger:payment")]
    | Annotated[SubscriptionCanceledTrigger, Tag("trigger:subscription_canceled")]
    | Annotated[PaymentFailedTrigger, Tag("trigger:payment_failed")]
    | Annotated[OrderPaidTrigger, Tag("trigger:order_paid")]
    | Annotated[WebhookTrigger, Tag("trigger:webhook")]
    | Annotated[RouteTrigger, Tag("trigger:route")],
    Discriminator(_pick),
    BeforeValidator(_trigger_shape),
]


def _one_or_list(value: object) -> object:
    return [value] if isinstance(value, Mapping | str) else value


class Rule(_Model):
    """`when` one of the triggers happens and the friend matches `if`, run `do`."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    """Unique; used in logs and to remember threshold crossings."""
    when: Annotated[list[Trigger], BeforeValidator(_one_or_list), Field(min_length=1)]
    if_: Condition | None = Field(default=None, alias="if")
    """A segment condition the friend must match when the trigger happens."""
    do: ActionList
    repeat: bool = False
    """For points/score/field triggers: fire on every change while `if` holds, not once per
    crossing."""
    enabled: bool = True

    def trigger_kinds(self) -> set[str]:
        return {next(iter(t.model_fields)) for t in self.when}
