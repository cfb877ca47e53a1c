"""Step scenarios and reminders: the schedule is the database.

A run is a row per friend and scenario holding the next step and when it is due. Each tick
claims due runs in batches (`UPDATE … RETURNING`, with `FOR UPDATE SKIP LOCKED` on
PostgreSQL so several processes share the work), decides per friend what the step does
(stopped, blocked, too late, condition, branch), and writes in ONE transaction: a delivery
record per run and step (unique, so a step never goes twice), the outbox rows (identical
messages grouped into multicasts of 500, personal ones as pushes) and the advanced runs.
The outbox then sends; a crash after the commit is finished by the outbox's retries, with
LINE's retry keys keeping every message single.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise.connection import connections
from tortoise.transactions import in_transaction

from bot import clock
from bot.automation import experiments
from bot.automation.actions import ActionRunner, current_answer
from bot.automation.experiments import link_source, variant_for
from bot.automation.outbox import MAX_MESSAGES_PER_REQUEST, MAX_MULTICAST, Outbox
from bot.automation.personalize import contexts_for, template_context
from bot.clock import parse_duration
from bot.crm.events import DomainEvent, FieldChanged
from bot.db.bulk import db_value, insert_many
from bot.db.models import Friend, StepDelivery, StepRun, StepScenarioState
from bot.scenario import Scenario, render_messages
from bot.scenario.render import renders_alike
from bot.scenario.steps import Step, after_quiet_hours, step_due

log = logging.getLogger(__name__)

RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"
FINISHED = "finished"
REMINDER_PREFIX = "reminder:"
LEASE = timedelta(seconds=30)  # a claimed batch is delivered well within this
CLAIM_BATCH = 1000


@dataclass
class _Definition:
    steps: list[Step]
    stop_if: Any
    reminder: bool


@dataclass
class _Plan:
    run: StepRun
    index: int
    due: datetime
    status: str = "sent"
    reason: str | None = None
    branch: str | None = None
    variant: str | None = None
    messages: list[Any] | None = None
    actions: list[Any] | None = None


#: The columns of a run and of its friend that delivering a step reads (the friend's are
#: what templates may name, bot/automation/personalize.py, and whom to send to).
_RUN_COLUMNS = ("id", "friend_id", "scenario", "status", "started_at", "next_step")
_FRIEND_COLUMNS = ("id", "line_user_id", "display_name", "language", "points", "blocked")
_DELIVERY_COLUMNS = (
    "run_id", "friend_id", "scenario", "step", "branch", "status", "reason", "due_at", "at",
)  # fmt: skip


def step_source(scenario: str, index: int) -> str:
    """What the outbox rows of one step are labelled, for per-step failure counts."""
    return f"step:{scenario}:{index}"


def step_experiment(scenario: str, index: int) -> str:
    """The A/B test of one step (steps are numbered from 0, as in statistics)."""
    return f"step:{scenario}:{index}"


class StepRunner:
    def __init__(self, scenario: Scenario, actions: ActionRunner, outbox: Outbox) -> None:
        self.scenario = scenario
        self.actions = actions
        self.outbox = outbox
        self.zone = scenario.zone
        self.max_delay = parse_duration(scenario.delivery.max_delay)
        self.quiet = scenario.delivery.quiet_hours
        actions.steps = self
        self._reminder_fields = {r.field: name for name, r in scenario.reminders.items()}
        actions.crm.bus.subscribe(self._on_event)

    # --- definitions and times -----------------------------------------------------------

    def definition(self, key: str) -> _Definition | None:
        if key.startswith(REMINDER_PREFIX):
            reminder = self.scenario.reminders.get(key[len(REMINDER_PREFIX) :])
            return _Definition(reminder.steps, reminder.stop_if, True) if reminder else None
        steps = self.scenario.steps.get(key)
        return _Definition(steps.steps, steps.stop_if, False) if steps else None

    def due(self, run: StepRun, definition: _Definition, index: int) -> datetime:
        step = definition.steps[index]
        when = step_due(run.started_at, step, self.zone, reminder=definition.reminder)
        # UTC always: SQLite compares stored times as text, so one offset for every row.
        return after_quiet_hours(when, self.quiet, self.zone).astimezone(UTC)

    # --- starting, stopping, pausing -----------------------------------------------------

    async def start(self, friend_id: int, name: str, *, source: str) -> StepRun | None:
        definition = self.definition(name)
        if definition is None or definition.reminder:
            log.warning("no step scenario named %s", name)
            return None
        steps = self.scenario.steps[name]
        running = await StepRun.filter(
            friend_id=friend_id, scenario=name, status__in=[RUNNING, PAUSED]
        )
        if running:
            if steps.on_restart == "ignore":
                return running[0]
            await self._stop_runs([r.id for r in running])
        return await self._begin(friend_id, name, clock.now(), definition)

    async def _begin(
        self, friend_id: int, key: str, anchor: datetime, definition: _Definition, first: int = 0
    ) -> StepRun | None:
        if first >= len(definition.steps):
            return None
        run = await StepRun.create(
            friend_id=friend_id,
            scenario=key,
            status=RUNNING,
            started_at=anchor,
            next_step=first,
            next_due_at=anchor,
        )
        due = self.due(run, definition, first)
        run.next_due_at = due
        await StepRun.filter(id=run.id).update(next_due_at=due)
        if due <= clock.now():
            await self._process([run])
        return run

    async def stop(self, friend_id: int, name: str | None = None) -> int:
        query = StepRun.filter(friend_id=friend_id, status__in=[RUNNING, PAUSED])
        if name is not None:
            query = query.filter(scenario=name)
        ids = [run.id for run in await query.only("id")]
        return await self._stop_runs(ids)

    @staticmethod
    async def _stop_runs(ids: list[int]) -> int:
        if not ids:
            return 0
        return await StepRun.filter(id__in=ids).update(
            status=STOPPED, finished_at=clock.now(), next_due_at=None
        )

    async def pause(self, friend_id: int, name: str) -> int:
        return await StepRun.filter(friend_id=friend_id, scenario=name, status=RUNNING).update(
            status=PAUSED
        )

    async def resume(self, friend_id: int, name: str) -> int:
        """Continue where it stopped; steps that fell due meanwhile go out now (if not older
        than max_delay)."""
        return await StepRun.filter(friend_id=friend_id, scenario=name, status=PAUSED).update(
            status=RUNNING, next_due_at=clock.now()
        )

    async def set_paused_for_all(self, name: str, paused: bool) -> None:
        await StepScenarioState.update_or_create(
            defaults={"paused": paused, "updated_at": clock.now()}, scenario=name
        )

    # --- reminders -----------------------------------------------------------------------

    async def _on_event(self, event: DomainEvent) -> None:
        if isinstance(event, FieldChanged) and event.name in self._reminder_fields:
            await self.schedule_reminder(
                event.friend_id, self._reminder_fields[event.name], event.after
            )

    async def schedule_reminder(self, friend_id: int, name: str, day: Any) -> StepRun | None:
        """(Re)place a reminder around a date; steps already in the past are left out."""
        key = REMINDER_PREFIX + name
        await self.stop(friend_id, key)
        definition = self.definition(key)
        if definition is None or not isinstance(day, date):
            return None
        anchor = datetime.combine(day, time(0, 0), tzinfo=self.zone).astimezone(UTC)
        probe = StepRun(started_at=anchor)
        now = clock.now()
        first = 0
        while first < len(definition.steps) and self.due(probe, definition, first) < now:
            first += 1
        return await self._begin(friend_id, key, anchor, definition, first)

    # --- delivering ----------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[int]:
        conn = connections.get("default")
        field = StepRun._meta.fields_map["next_due_at"]
        now = field.to_db_value(clock.now(), StepRun)
        lease = field.to_db_value(clock.now() + LEASE, StepRun)
        paused = list(
            await StepScenarioState.filter(paused=True).values_list("scenario", flat=True)
        )
        params: list[Any] = [lease, now]
        postgres = conn.capabilities.dialect == "postgres"
        mark = (lambda n: f"${n}") if postgres else (lambda n: "?")
        exclude = ""
        if paused:
            marks = ", ".join(mark(3 + i) for i in range(len(paused)))
            exclude = f" AND scenario NOT IN ({marks})"
            params += paused
        params.append(limit)
        sql = (
            f"UPDATE step_runs SET next_due_at = {mark(1)} WHERE id IN (SELECT id FROM step_runs "
            f"WHERE status = 'running' AND next_due_at <= {mark(2)}{exclude} "
            f"ORDER BY next_due_at LIMIT {mark(len(params))}"
            + (" FOR UPDATE SKIP LOCKED" if postgres else "")
            + ") RETURNING id"
        )
        rows = await conn.execute_query_dict(sql, params)
        return [int(r["id"]) for r in rows]

    async def run_due(self, limit: int = 100_000) -> int:
        done = 0
        while done < limit:
            ids = await self._claim(min(CLAIM_BATCH, limit - done))
            if not ids:
                break
            # Only what delivering needs: building 1,000 full rows (dates parsed) per batch
            # was a third of a large step's time.
            runs = await StepRun.filter(id__in=ids).only(*_RUN_COLUMNS)
            await self._process(runs)
            done += len(ids)
        return done

    async def _process(self, runs: list[StepRun]) -> None:
        now = clock.now()
        plans: list[_Plan] = []
        finished: list[int] = []
        waiting: list[tuple[int, datetime]] = []
        for run in runs:
            definition = self.definition(run.scenario)
            if definition is None or run.next_step >= len(definition.steps):
                finished.append(run.id)
                continue
            due = self.due(run, definition, run.next_step)
            if due > now:
                waiting.append((run.id, due))
                continue
            plans.append(_Plan(run, run.next_step, due))
        for run_id, due in waiting:
            await StepRun.filter(id=run_id).update(next_due_at=due)
        if finished:
            await StepRun.filter(id__in=finished).update(
                status=FINISHED, finished_at=now, next_due_at=None
            )
        if not plans:
            return
        friends = {
            f.id: f
            for f in await Friend.filter(id__in=[p.run.friend_id for p in plans]).only(
                *_FRIEND_COLUMNS
            )
        }
        await self._decide(plans, friends, now)
        await self._commit(plans, friends, now)
        await self._after(plans)

    async def _decide(self, plans: list[_Plan], friends: dict[int, Friend], now: datetime) -> None:
        """For each planned delivery: skip (why) or which content."""
        segments = self.actions.crm.segments
        by_key: dict[tuple[str, int], list[_Plan]] = defaultdict(list)
        for plan in plans:
            friend = friends.get(plan.run.friend_id)
            if friend is None or friend.blocked:
                plan.status, plan.reason = "skipped", "blocked"
            elif now - plan.due > self.max_delay:
                plan.status, plan.reason = "skipped", "too old"
            else:
                by_key[(plan.run.scenario, plan.index)].append(plan)
        for (key, index), group in by_key.items():
            definition = self.definition(key)
            assert definition is not None
            step = definition.steps[index]
            ids = [p.run.friend_id for p in group]
            stopped = (
                await segments.matching_among(definition.stop_if, ids)
                if definition.stop_if
                else set()
            )
            allowed = await segments.matching_among(step.if_, ids) if step.if_ else set(ids)
            open_ids = [i for i in ids if i not in stopped and i in allowed]
            chosen: dict[int, Any] = {}
            for branch in step.branches or []:
                candidates = [i for i in open_ids if i not in chosen]
                for fid in await segments.matching_among(branch.if_, candidates):
                    chosen[fid] = branch
            for plan in group:
                fid = plan.run.friend_id
                if fid in stopped:
                    plan.status, plan.reason = "skipped", "stopped"
                elif fid not in allowed:
                    plan.status, plan.reason = "skipped", "condition"
                elif fid in chosen:
                    branch = chosen[fid]
                    plan.branch = branch.name or f"branch{(step.branches or []).index(branch)}"
                    plan.messages = branch.messages
                    plan.actions = [*(branch.do or []), *(step.do or [])]
                elif step.variants:
                    variant = variant_for(step_experiment(key, index), fid, step.variants)
                    plan.messages, plan.variant, plan.actions = (
                        variant.messages,
                        variant.name,
                        step.do,
                    )
                else:
                    plan.messages, plan.actions = step.messages, step.do

    async def _commit(self, plans: list[_Plan], friends: dict[int, Friend], now: datetime) -> None:
        """Delivery records, outbox rows and advanced runs: all or nothing."""
        groups: dict[tuple[str, int, str], list[_Plan]] = defaultdict(list)
        answering = current_answer.get()
        distinct = {id(p.messages): p.messages for p in plans if p.messages}
        # Messages with no template and no per-friend link are the same for everyone: they
        # are rendered once, not once per friend (a step due for 100,000 friends at once).
        personal = {
            key
            for key, messages in distinct.items()
            if self.actions.links.per_friend or not renders_alike(messages or ())
        }
        contexts = await contexts_for(
            [friends[p.run.friend_id] for p in plans if id(p.messages) in personal],
            [m for key in personal for m in distinct[key] or ()],
            self.zone,
            self.actions.crm.fields,
        )
        shared: dict[tuple[int, str], str] = {}
        for plan in plans:
            if plan.status != "sent" or not plan.messages:
                continue
            friend = friends[plan.run.friend_id]
            if answering is not None and answering.answering_friend_id == friend.id:
                continue  # answered by reply in _after
            experiment = step_experiment(plan.run.scenario, plan.index)
            source = link_source(experiment, plan.variant)
            same_for_all = id(plan.messages) not in personal
            content = shared.get((id(plan.messages), source)) if same_for_all else None
            if content is None:
                context = contexts.get(friend.id) or template_context(friend, self.zone)
                rendered = render_messages(plan.messages, context)
                rendered = await self.actions.links.rewrite(rendered, source, friend.id)
                content = json.dumps(rendered, ensure_ascii=False, sort_keys=True)
                if same_for_all:
                    shared[(id(plan.messages), source)] = content
            groups[(plan.run.scenario, plan.index, content)].append(plan)
        rows: list[dict[str, Any]] = []
        for (key, index, content), members in groups.items():
            for row in self._outbox_rows(json.loads(content), members, friends):
                rows.append({**row, "source": step_source(key, index)})
        stamp = db_value(StepDelivery, "at", now)
        records = [
            [p.run.id, p.run.friend_id, p.run.scenario, p.index, p.branch, p.status, p.reason,
             db_value(StepDelivery, "due_at", p.due), stamp]
            for p in plans
        ]  # fmt: skip
        updates: dict[tuple[int, str, datetime | None], list[int]] = defaultdict(list)
        for plan in plans:
            step, status, due = self._next(plan, stop=plan.reason in ("stopped", "blocked"))
            updates[(step, status, due)].append(plan.run.id)
        tested: dict[str, dict[int, str]] = defaultdict(dict)
        for plan in plans:
            if plan.status == "sent" and plan.variant is not None:
                experiment = step_experiment(plan.run.scenario, plan.index)
                tested[experiment][plan.run.friend_id] = plan.variant
        async with in_transaction():
            await insert_many("step_deliveries", _DELIVERY_COLUMNS, records)
            await self.outbox.enqueue_many(rows, source="step")
            for experiment, chosen in tested.items():
                await experiments.record(experiment, chosen, now)
            for (step, status, due), run_ids in updates.items():
                finished_at = now if status != RUNNING else None
                await StepRun.filter(id__in=run_ids).update(
                    next_step=step, status=status, next_due_at=due, finished_at=finished_at
                )

    def _next(self, plan: _Plan, *, stop: bool) -> tuple[int, str, datetime | None]:
        """The run after this delivery: next step, status, when it is due. Runs started at
        the same time share it, so a batch needs a few updates, not one per friend."""
        run = plan.run
        definition = self.definition(run.scenario)
        following = plan.index + 1
        if stop:
            return following, STOPPED, None
        if definition is None or following >= len(definition.steps):
            return following, FINISHED, None
        run.next_step = following
        return following, RUNNING, self.due(run, definition, following)

    @staticmethod
    def _outbox_rows(
        rendered: list[Any], members: list[_Plan], friends: dict[int, Friend]
    ) -> list[dict[str, Any]]:
        """The same messages for many friends: multicasts of 500; for one friend: a push.
        Keys name the first run of each group, unique per step."""
        size = MAX_MESSAGES_PER_REQUEST
        chunks = [rendered[i : i + size] for i in range(0, len(rendered), size)]
        rows: list[dict[str, Any]] = []
        if len(members) == 1:
            plan = members[0]
            user_id = friends[plan.run.friend_id].line_user_id
            for n, chunk in enumerate(chunks):
                key = f"step:{plan.run.id}:{plan.index}:{n}"
                rows.append({"user_id": user_id, "messages": chunk, "dedupe_key": key})
            return rows
        for start in range(0, len(members), MAX_MULTICAST):
            part = members[start : start + MAX_MULTICAST]
            recipients = [friends[p.run.friend_id].line_user_id for p in part]
            for n, chunk in enumerate(chunks):
                key = f"stepmc:{part[0].run.id}:{part[0].index}:{n}"
                rows.append({"recipients": recipients, "messages": chunk, "dedupe_key": key})
        return rows

    async def _after(self, plans: list[_Plan]) -> None:
        """Replies for the friend being answered, actions on delivery, then send."""
        answering = current_answer.get()
        for plan in plans:
            if plan.status != "sent":
                continue
            fid = plan.run.friend_id
            key = f"step:{plan.run.id}:{plan.index}"
            if plan.messages and answering is not None and answering.answering_friend_id == fid:
                await self.actions.send(fid, plan.messages, source="step", dedupe=key)
            if plan.actions:
                await self.actions.run(fid, plan.actions, source="step", dedupe=key)
        await self.outbox.drain()
