"""Broadcasts: each occurrence is a row (unique per name and time, so it happens once however
many processes tick), recipients come from one SQL query, and every message is queued as
outbox rows in one transaction — the same messages as multicasts of 500, personal ones as
pushes — before anything is sent.

The scenario's broadcasts and those admins compose in chat (`chat_broadcasts` rows, run as
`chat:<id>`) go through the same machinery."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import clock
from bot.automation import experiments
from bot.automation.experiments import AbResult, ab_results, in_test_group, link_source, variant_for
from bot.automation.links import LinkTracker
from bot.automation.outbox import MAX_MESSAGES_PER_REQUEST, MAX_MULTICAST, Outbox
from bot.automation.personalize import contexts_for
from bot.clock import parse_duration
from bot.crm.segments import SegmentError
from bot.crm.service import Crm
from bot.db.models import BroadcastRun, ChatBroadcast, Friend, RuleCursor, VariantAssignment
from bot.scenario import Scenario, render_messages
from bot.scenario.broadcasts import CHAT_BROADCAST_PREFIX, Broadcast
from bot.scenario.segment import AllOf, Not, validate_condition

log = logging.getLogger(__name__)

PREPARING = "preparing"
QUEUED = "queued"
SKIPPED = "skipped"
PREPARE_LEASE = timedelta(minutes=2)
FRIEND_CHUNK = 5000


WINNER_SUFFIX = "#winner"
CHAT_PREFIX = CHAT_BROADCAST_PREFIX
"""Runs of broadcasts composed in chat are named `chat:<ChatBroadcast id>`."""


def chat_run_name(broadcast_id: int) -> str:
    return f"{CHAT_PREFIX}{broadcast_id}"


def chat_broadcast(row: ChatBroadcast) -> Broadcast:
    """The broadcast a chat-composed row stands for, validated like one in the scenario
    (its messages through the scenario's message models, its audience as a condition).

    Raises pydantic's ValidationError when the row holds something LINE would not take."""
    return Broadcast.model_validate({"to": row.audience, "at": row.send_at,
                                     "messages": row.messages})  # fmt: skip


def base_name(run_name: str) -> str:
    """The broadcast a run belongs to (the winner send of an A/B test carries a suffix)."""
    return run_name.removesuffix(WINNER_SUFFIX)


def experiment_key(name: str) -> str:
    return f"broadcast:{name}"


def _verdict(result: AbResult) -> str:
    if result.p_value is None:
        return "no difference to test"
    return f"p={result.p_value:.3f}" + (" significant" if result.significant else "")


class Broadcaster:
    def __init__(self, scenario: Scenario, crm: Crm, outbox: Outbox, links: LinkTracker) -> None:
        self.scenario = scenario
        self.crm = crm
        self.outbox = outbox
        self.links = links
        self.max_delay = parse_duration(scenario.delivery.max_delay)

    def _occurrence_at(self, broadcast: Broadcast) -> datetime:
        assert broadcast.at is not None
        at = broadcast.at
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.scenario.zone)
        return at.astimezone(UTC)

    async def tick(self) -> None:
        now = clock.now()
        for name, broadcast in self.scenario.broadcasts.items():
            if broadcast.at is not None:
                occurrence = self._occurrence_at(broadcast)
                if occurrence <= now:
                    await self.run(name, broadcast, occurrence)
            elif broadcast.cron is not None:
                scheduled = await self._cron_due(name, broadcast.cron, now)
                if scheduled is not None:
                    await self.run(name, broadcast, scheduled)
            if broadcast.ab_test is not None and broadcast.ab_test.test_share is not None:
                await self._send_winners(name, broadcast, now)
        await self._resume_interrupted()

    async def _cron_due(self, name: str, cron: str, now: datetime) -> datetime | None:
        """The latest scheduled time since the last look (missed ones are not repeated)."""
        key = f"broadcast:{name}:{cron}"
        cursor = await RuleCursor.get_or_none(rule=key)
        if cursor is None:
            await RuleCursor.create(rule=key, checked_until=now)
            return None
        trigger = CronTrigger.from_crontab(cron, timezone=self.scenario.zone)
        fire = trigger.get_next_fire_time(None, cursor.checked_until + timedelta(microseconds=1))
        if fire is None or fire > now:
            return None
        while True:
            following = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
            if following is None or following > now:
                break
            fire = following
        await RuleCursor.filter(rule=key).update(checked_until=now)
        return fire.astimezone(UTC)

    async def run(
        self, name: str, broadcast: Broadcast, occurrence: datetime
    ) -> BroadcastRun | None:
        """Queue one occurrence and send it; None if it was queued before (by this or
        another process)."""
        run = await self.queue(name, broadcast, occurrence)
        if run is not None and run.status == QUEUED:
            await self.outbox.drain()
        return run

    async def queue(
        self, name: str, broadcast: Broadcast, occurrence: datetime
    ) -> BroadcastRun | None:
        """Queue one occurrence as outbox rows without sending them (the caller, or the
        outbox's retry pass, drains them); None if it was queued before. A run more than
        `delivery.max_delay` late comes back `skipped`."""
        now = clock.now()
        try:
            run = await BroadcastRun.create(
                name=name, occurrence=occurrence, status=PREPARING, created_at=now
            )
        except IntegrityError:
            return None
        if now - occurrence > self.max_delay:
            await BroadcastRun.filter(id=run.id).update(status=SKIPPED, reason="too old")
            log.warning("broadcast %r of %s skipped: more than max_delay late", name, occurrence)
            run.status, run.reason = SKIPPED, "too old"
            return run
        await self._prepare(run, broadcast)
        return run

    async def _send_winners(self, name: str, broadcast: Broadcast, now: datetime) -> None:
        """Once a test send is `decide_after` old, the best variant goes to the rest."""
        assert broadcast.ab_test is not None and broadcast.variants is not None
        wait = parse_duration(broadcast.ab_test.decide_after)
        tests = await BroadcastRun.filter(
            name=name, status=QUEUED, occurrence__lte=now - wait
        ).values_list("occurrence", flat=True)
        for occurrence in tests:
            if await BroadcastRun.exists(name=name + WINNER_SUFFIX, occurrence=occurrence):
                continue
            result = await ab_results(experiment_key(name), broadcast.variants, broadcast.ab_test)
            winner = result.leader or broadcast.variants[0].name
            try:
                run = await BroadcastRun.create(
                    name=name + WINNER_SUFFIX,
                    occurrence=occurrence,
                    status=PREPARING,
                    variant=winner,
                    reason=_verdict(result),
                    created_at=now,
                )
            except IntegrityError:
                continue  # another process decided it
            log.info("broadcast %r: variant %s wins (%s)", name, winner, run.reason)
            await self._prepare(run, broadcast)
            await self.outbox.drain()

    def _audience(self, broadcast: Broadcast) -> Any:
        parts: list[Any] = [validate_condition({"blocked": False})]
        if broadcast.to is not None:
            parts.append(broadcast.to)
        if broadcast.exclude is not None:
            parts.append(Not.model_validate({"not": broadcast.exclude}))
        return AllOf(all=parts)

    async def _recipients(
        self, run: BroadcastRun, broadcast: Broadcast
    ) -> dict[int, tuple[str | None, list[Any]]]:
        """Who gets which messages: friend id → (variant name, messages)."""
        ids = await self.crm.segments.friend_ids(self._audience(broadcast))
        experiment = experiment_key(base_name(run.name))
        variants = broadcast.variants
        if variants is None:
            return {fid: (None, list(broadcast.messages or ())) for fid in ids}
        if run.variant is not None:  # the winner, to everyone who was not in the test
            tested = set(
                await VariantAssignment.filter(experiment=experiment).values_list(
                    "friend_id", flat=True
                )
            )
            winner = next(v for v in variants if v.name == run.variant)
            return {fid: (None, list(winner.messages)) for fid in ids if fid not in tested}
        share = broadcast.ab_test.test_share if broadcast.ab_test else None
        chosen: dict[int, tuple[str | None, list[Any]]] = {}
        for fid in ids:
            if share is None or in_test_group(experiment, fid, share):
                variant = variant_for(experiment, fid, variants)
                chosen[fid] = (variant.name, list(variant.messages))
        return chosen

    async def _prepare(self, run: BroadcastRun, broadcast: Broadcast) -> None:
        name = base_name(run.name)
        experiment = experiment_key(name)
        recipients = await self._recipients(run, broadcast)
        ids = sorted(recipients)
        groups: dict[str, list[str]] = defaultdict(list)
        every_message = [m for v in broadcast.variants or () for m in v.messages]
        every_message += broadcast.messages or []
        for start in range(0, len(ids), FRIEND_CHUNK):
            chunk = ids[start : start + FRIEND_CHUNK]
            friends = await Friend.filter(id__in=chunk).order_by("id")
            contexts = await contexts_for(
                friends, every_message, self.scenario.zone, self.crm.fields
            )
            for friend in friends:
                variant, messages = recipients[friend.id]
                rendered = render_messages(messages, contexts[friend.id])
                source = link_source(experiment, variant)
                rendered = await self.links.rewrite(rendered, source, friend.id)
                key = json.dumps(rendered, ensure_ascii=False, sort_keys=True)
                groups[key].append(friend.line_user_id)
        assignments = {fid: v for fid, (v, _) in recipients.items() if v is not None}
        rows: list[dict[str, Any]] = []
        for number, (rendered_json, users) in enumerate(groups.items()):
            rendered = json.loads(rendered_json)
            size = MAX_MESSAGES_PER_REQUEST
            parts = [rendered[i : i + size] for i in range(0, len(rendered), size)]
            if len(users) == 1:
                for n, part in enumerate(parts):
                    rows.append({"user_id": users[0], "messages": part,
                                 "dedupe_key": f"bc:{run.id}:{number}:0:{n}"})  # fmt: skip
                continue
            for batch, start in enumerate(range(0, len(users), MAX_MULTICAST)):
                batch_users = users[start : start + MAX_MULTICAST]
                for n, part in enumerate(parts):
                    rows.append({"recipients": batch_users, "messages": part,
                                 "dedupe_key": f"bc:{run.id}:{number}:{batch}:{n}"})  # fmt: skip
        async with in_transaction():
            await self.outbox.enqueue_many(rows, source=f"broadcast:{name}")
            if assignments:
                await experiments.record(experiment, assignments, clock.now())
            await BroadcastRun.filter(id=run.id).update(status=QUEUED, recipients=len(ids))
        run.status, run.recipients = QUEUED, len(ids)
        log.info("broadcast %r queued for %s friends in %s requests", run.name, len(ids), len(rows))

    async def _definition(self, run: BroadcastRun) -> Broadcast | None:
        """What a run sends: the scenario's broadcast, or for `chat:<id>` the admin's row
        (None when it is gone from the scenario, or the row can no longer be sent)."""
        name = base_name(run.name)
        if not name.startswith(CHAT_PREFIX):
            return self.scenario.broadcasts.get(name)
        number = name.removeprefix(CHAT_PREFIX)
        row = await ChatBroadcast.get_or_none(id=int(number)) if number.isdigit() else None
        if row is None:
            return None
        try:
            return chat_broadcast(row)
        except ValidationError:
            log.exception("chat broadcast #%s cannot be sent", row.id)
            return None

    async def _resume_interrupted(self) -> None:
        """A process that died while preparing left no rows (one transaction): redo it."""
        stale = await BroadcastRun.filter(
            status=PREPARING, created_at__lt=clock.now() - PREPARE_LEASE
        )
        for run in stale:
            broadcast = await self._definition(run)
            if broadcast is None:
                await BroadcastRun.filter(id=run.id).update(status=SKIPPED, reason="removed")
                continue
            try:
                await self._prepare(run, broadcast)
            except SegmentError as exc:  # its audience names a segment no longer declared
                log.error("broadcast %r skipped: %s", run.name, exc)
                await BroadcastRun.filter(id=run.id).update(status=SKIPPED, reason=str(exc)[:100])
        if stale:
            await self.outbox.drain()
