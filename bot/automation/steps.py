"""Step scenarios, minimal engine: a run per friend, the next step's due time in the row.

Due steps are claimed with a conditional update (so two ticks or two processes never send
one twice) and their messages go through the outbox with a key per run and step.
"""

from __future__ import annotations

import logging

from bot import clock
from bot.automation.actions import ActionRunner
from bot.db.models import StepRun
from bot.scenario import Scenario

log = logging.getLogger(__name__)

RUNNING = "running"
STOPPED = "stopped"
FINISHED = "finished"


class StepRunner:
    def __init__(self, scenario: Scenario, actions: ActionRunner) -> None:
        self.scenario = scenario
        self.actions = actions
        actions.steps = self

    async def start(self, friend_id: int, name: str, *, source: str) -> StepRun | None:
        definition = self.scenario.steps.get(name)
        if definition is None:
            log.warning("no step scenario named %s", name)
            return None
        running = await StepRun.filter(friend_id=friend_id, scenario=name, status=RUNNING)
        if running:
            if definition.on_restart == "ignore":
                return running[0]
            await StepRun.filter(id__in=[r.id for r in running]).update(
                status=STOPPED, finished_at=clock.now()
            )
        now = clock.now()
        run = await StepRun.create(
            friend_id=friend_id,
            scenario=name,
            status=RUNNING,
            started_at=now,
            next_step=0,
            next_due_at=now + definition.steps[0].offset,
        )
        if run.next_due_at is not None and run.next_due_at <= now:
            await self._deliver(run)
        return run

    async def stop(self, friend_id: int, name: str | None = None) -> int:
        query = StepRun.filter(friend_id=friend_id, status=RUNNING)
        if name is not None:
            query = query.filter(scenario=name)
        return await query.update(status=STOPPED, finished_at=clock.now(), next_due_at=None)

    async def run_due(self, limit: int = 500) -> int:
        due = (
            await StepRun.filter(status=RUNNING, next_due_at__lte=clock.now())
            .order_by("next_due_at")
            .limit(limit)
        )
        for run in due:
            await self._deliver(run)
        return len(due)

    async def _deliver(self, run: StepRun) -> None:
        """Send every step of this run that is due now, in order."""
        definition = self.scenario.steps.get(run.scenario)
        while True:
            if definition is None or run.next_step >= len(definition.steps):
                await StepRun.filter(id=run.id, status=RUNNING).update(
                    status=FINISHED, finished_at=clock.now(), next_due_at=None
                )
                return
            step = definition.steps[run.next_step]
            due = run.started_at + step.offset
            if due > clock.now():
                await StepRun.filter(id=run.id).update(next_due_at=due)
                return
            index = run.next_step
            claimed = await StepRun.filter(id=run.id, status=RUNNING, next_step=index).update(
                next_step=index + 1
            )
            if not claimed:
                return
            run.next_step = index + 1
            source = "step"
            key = f"step:{run.id}:{index}"
            if step.messages:
                await self.actions.send(run.friend_id, step.messages, source=source, dedupe=key)
            if step.do:
                await self.actions.run(run.friend_id, step.do, source=source, dedupe=key)
