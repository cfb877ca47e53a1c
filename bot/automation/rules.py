"""The rule engine: reacts to domain events at once, and to time on the scheduler's tick.

Event triggers (follow, tags, messages, postbacks, forms) fire every time the rule's `if`
holds. State triggers (points, scores, fields) fire when `if` becomes true, once per
crossing, remembered in `rule_states`. Time triggers are found by the tick without scanning
everyone: `tag_age` looks only at tags whose age crossed the threshold since the last look
(an indexed range on added_at), `schedule` runs at its cron times for the friends its `if`
selects in SQL. Chains run in the same task; a depth limit stops runaway ones.
"""

from __future__ import annotations

import contextvars
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from bot import clock
from bot.automation.actions import ActionRunner
from bot.clock import parse_duration
from bot.crm import events as ev
from bot.crm.service import Crm
from bot.db.models import FriendTag, RuleCursor, RuleState
from bot.scenario import Scenario
from bot.scenario.actions import AddTag, StartSteps
from bot.scenario.rules import (
    STATE_TRIGGERS,
    FieldChangedTrigger,
    FormSubmittedTrigger,
    LinkClickedTrigger,
    MessageTrigger,
    OrderPaidTrigger,
    PaymentMatch,
    PaymentTrigger,
    PostbackMatch,
    PostbackTrigger,
    RouteTrigger,
    Rule,
    ScheduleTrigger,
    ScoreChangedTrigger,
    SurveyCompletedTrigger,
    TagAddedTrigger,
    TagAgeTrigger,
    TagRemovedTrigger,
    WebhookTrigger,
)
from bot.scenario.segment import AllOf, validate_condition

log = logging.getLogger(__name__)

MAX_CHAIN_DEPTH = 16
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("rule_depth", default=0)

_EVENT_KIND: dict[type[ev.DomainEvent], str] = {
    ev.Followed: "followed",
    ev.Unfollowed: "unfollowed",
    ev.TagAdded: "tag_added",
    ev.TagRemoved: "tag_removed",
    ev.PointsChanged: "points_changed",
    ev.ScoreChanged: "score_changed",
    ev.FieldChanged: "field_changed",
    ev.MessageReceived: "message",
    ev.PostbackReceived: "postback",
    ev.FormSubmitted: "form_submitted",
    ev.LinkClicked: "link_clicked",
    ev.SurveyCompleted: "survey_completed",
    ev.PaymentReceived: "payment",
    ev.SubscriptionCanceled: "subscription_canceled",
    ev.PaymentFailed: "payment_failed",
    ev.OrderPaid: "order_paid",
    ev.InboundReceived: "webhook",
    ev.RouteArrived: "route",
}


def _matches(spec: PostbackMatch, value: str) -> bool:
    if spec.equals is not None:
        return value == spec.equals
    return spec.prefix is None or value.startswith(spec.prefix)


def _trigger_matches(trigger: Any, event: ev.DomainEvent) -> bool:
    """Whether this trigger (already known to be of the event's kind) is about this event."""
    if isinstance(trigger, TagAddedTrigger) and isinstance(event, ev.TagAdded):
        return event.tag in trigger.tag_added
    if isinstance(trigger, TagRemovedTrigger) and isinstance(event, ev.TagRemoved):
        return event.tag in trigger.tag_removed
    if isinstance(trigger, ScoreChangedTrigger) and isinstance(event, ev.ScoreChanged):
        return event.name == trigger.score_changed
    if isinstance(trigger, FieldChangedTrigger) and isinstance(event, ev.FieldChanged):
        return event.name == trigger.field_changed
    if isinstance(trigger, MessageTrigger) and isinstance(event, ev.MessageReceived):
        return trigger.message.matches(event.text)
    if isinstance(trigger, PostbackTrigger) and isinstance(event, ev.PostbackReceived):
        return _matches(trigger.postback, event.data)
    if isinstance(trigger, LinkClickedTrigger) and isinstance(event, ev.LinkClicked):
        return _matches(trigger.link_clicked, event.url)
    if isinstance(trigger, FormSubmittedTrigger) and isinstance(event, ev.FormSubmitted):
        return event.form == trigger.form_submitted
    if isinstance(trigger, SurveyCompletedTrigger) and isinstance(event, ev.SurveyCompleted):
        return event.survey == trigger.survey_completed
    if isinstance(trigger, PaymentTrigger) and isinstance(event, ev.PaymentReceived):
        return _payment_matches(trigger.payment, event)
    if isinstance(trigger, OrderPaidTrigger) and isinstance(event, ev.OrderPaid):
        order = trigger.order_paid
        if order.sku is None and order.product_id is None:
            return True
        return bool(
            set(order.sku or ()) & set(event.skus)
            or set(order.product_id or ()) & set(event.product_ids)
        )
    if isinstance(trigger, WebhookTrigger) and isinstance(event, ev.InboundReceived):
        hook = trigger.webhook
        return hook.source == event.hook and (hook.event is None or event.event in hook.event)
    if isinstance(trigger, RouteTrigger) and isinstance(event, ev.RouteArrived):
        return event.route in trigger.route
    return True  # followed, unfollowed, points_changed carry nothing more to compare


def _payment_matches(spec: PaymentMatch, event: ev.PaymentReceived) -> bool:
    if event.renewal and not spec.renewals:
        return False
    if spec.price is None and spec.product is None:
        return True
    return bool(
        set(spec.price or ()) & set(event.prices) or set(spec.product or ()) & set(event.products)
    )


def _step_triggers(scenario: Scenario) -> list[Rule]:
    """A step scenario's `trigger` is a rule that starts it (named `steps:<name>` in logs)."""
    rules = []
    for name, steps in scenario.steps.items():
        if steps.trigger:
            rules.append(
                Rule.model_construct(
                    name=f"steps:{name}",
                    when=steps.trigger,
                    if_=steps.trigger_if,
                    do=[StartSteps(start_steps=name)],
                    repeat=False,
                    enabled=True,
                )
            )
    return rules


class RuleEngine:
    def __init__(self, scenario: Scenario, crm: Crm, actions: ActionRunner) -> None:
        self.scenario = scenario
        self.crm = crm
        self.actions = actions
        self._by_kind: dict[str, list[tuple[Rule, Any]]] = defaultdict(list)
        for rule in [*scenario.rules, *_step_triggers(scenario)]:
            if not rule.enabled:
                continue
            for trigger in rule.when:
                kind = next(iter(type(trigger).model_fields))
                self._by_kind[kind].append((rule, trigger))
        crm.bus.subscribe(self.on_event)

    async def on_event(self, event: ev.DomainEvent) -> None:
        kind = _EVENT_KIND.get(type(event))
        if kind is None:
            return
        fired: set[str] = set()
        for rule, trigger in self._by_kind.get(kind, ()):
            if rule.name in fired or not _trigger_matches(trigger, event):
                continue
            fired.add(rule.name)
            await self._consider(rule, event.friend_id, state=kind in STATE_TRIGGERS)

    async def _holds(self, rule: Rule, friend_id: int) -> bool:
        if rule.if_ is None:
            return True
        return await self.crm.segments.matches(rule.if_, friend_id)

    async def _consider(self, rule: Rule, friend_id: int, *, state: bool) -> None:
        holds = await self._holds(rule, friend_id)
        if state and not rule.repeat:
            if not await self._crossed(rule.name, friend_id, holds):
                return
        elif not holds:
            return
        await self.fire(rule, friend_id)

    @staticmethod
    async def _crossed(rule: str, friend_id: int, holds: bool) -> bool:
        """Remember whether the condition holds; True only when it just became true."""
        now = clock.now()
        row = await RuleState.get_or_none(rule=rule, friend_id=friend_id)
        if row is None:
            await RuleState.create(rule=rule, friend_id=friend_id, matched=holds, updated_at=now)
            return holds
        if row.matched == holds:
            return False
        await RuleState.filter(id=row.id).update(matched=holds, updated_at=now)
        return holds

    async def fire(self, rule: Rule, friend_id: int, *, dedupe: str | None = None) -> None:
        depth = _depth.get()
        if depth >= MAX_CHAIN_DEPTH:
            log.error(
                "rule chain stopped at depth %s: rule %r for friend #%s (rules keep triggering "
                "each other; check their when/do)",
                depth,
                rule.name,
                friend_id,
            )
            return
        token = _depth.set(depth + 1)
        try:
            log.info("rule %r fired for friend #%s", rule.name, friend_id)
            await self.actions.run(
                friend_id, rule.do, source="rule", actor=rule.name, dedupe=dedupe
            )
        finally:
            _depth.reset(token)

    # --- time ------------------------------------------------------------------------------

    async def tick(self) -> None:
        now = clock.now()
        for rule, trigger in self._by_kind.get("tag_age", ()):
            await self._tag_age(rule, trigger, now)
        for rule, trigger in self._by_kind.get("schedule", ()):
            await self._schedule(rule, trigger, now)

    @staticmethod
    async def _cursor(key: str, now: datetime) -> datetime | None:
        row = await RuleCursor.get_or_none(rule=key)
        if row is None:
            await RuleCursor.create(rule=key, checked_until=now)
            return None
        return row.checked_until

    async def _tag_age(self, rule: Rule, trigger: TagAgeTrigger, now: datetime) -> None:
        """Friends whose tag turned `at_least` old since the last look (still holding it)."""
        age = parse_duration(trigger.tag_age.at_least)
        key = f"{rule.name}:tag_age:{trigger.tag_age.tag}:{trigger.tag_age.at_least}"
        since = await self._cursor(key, now)
        if since is None:
            return
        rows = await FriendTag.filter(
            tag__name=trigger.tag_age.tag,
            removed_at__isnull=True,
            added_at__gt=since - age,
            added_at__lte=now - age,
        ).values_list("id", "friend_id")
        await RuleCursor.filter(rule=key).update(checked_until=now)
        periods = {int(friend_id): int(period_id) for period_id, friend_id in rows}
        await self.fire_many(
            rule, list(periods), lambda fid: f"rule:{rule.name}:age:{periods[fid]}"
        )

    async def _schedule(self, rule: Rule, trigger: ScheduleTrigger, now: datetime) -> None:
        """At a cron time: every friend the rule's `if` selects (blocked ones never)."""
        key = f"{rule.name}:schedule:{trigger.schedule.cron}"
        since = await self._cursor(key, now)
        if since is None:
            return
        cron = CronTrigger.from_crontab(trigger.schedule.cron, timezone=self.scenario.zone)
        fire_at = cron.get_next_fire_time(None, since + timedelta(microseconds=1))
        if fire_at is None or fire_at > now:
            return
        # After downtime, missed times are run once (for the latest), not once each.
        while True:
            following = cron.get_next_fire_time(fire_at, fire_at + timedelta(seconds=1))
            if following is None or following > now:
                break
            fire_at = following
        await RuleCursor.filter(rule=key).update(checked_until=now)
        following = validate_condition({"blocked": False})
        selector = AllOf(all=[following, rule.if_]) if rule.if_ is not None else following
        friend_ids = await self.crm.segments.friend_ids(selector)
        stamp = int(fire_at.timestamp())
        log.info("rule %r: schedule %s selects %s friends", rule.name, fire_at, len(friend_ids))
        await self.fire_many(
            rule, friend_ids, lambda fid: f"rule:{rule.name}:{stamp}:{fid}", checked=True
        )

    async def fire_many(
        self,
        rule: Rule,
        friend_ids: list[int],
        dedupe: Callable[[int], str],
        *,
        checked: bool = False,
    ) -> None:
        """Fire for many friends at once (time-based rules). The `if` is one SQL query for
        all of them; a rule that only adds tags does so with set-based inserts."""
        if not friend_ids:
            return
        if not checked and rule.if_ is not None:
            matching = await self.crm.segments.matching_among(rule.if_, friend_ids)
            friend_ids = [fid for fid in friend_ids if fid in matching]
        tag_actions = [action for action in rule.do if isinstance(action, AddTag)]
        if len(tag_actions) == len(rule.do):
            token = _depth.set(_depth.get() + 1)
            try:
                for action in tag_actions:
                    for name in action.add_tag:
                        await self.crm.tags.add_many(
                            friend_ids, name, source="rule", actor=rule.name
                        )
            finally:
                _depth.reset(token)
            log.info("rule %r fired for %s friends", rule.name, len(friend_ids))
            return
        for friend_id in friend_ids:
            await self.fire(rule, friend_id, dedupe=dedupe(friend_id))
