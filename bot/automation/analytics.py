"""Delivery statistics kept in the database: per step (sent, skipped and why), per
broadcast (delivered, failed and why), taps per button, taps per tracked link, and A/B
results per variant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.automation.broadcasts import experiment_key
from bot.automation.experiments import AbResult, ab_results
from bot.automation.steps import step_experiment, step_source
from bot.db.models import OutboxMessage, StepDelivery


@dataclass
class StepStats:
    step: int
    sent: int = 0
    """Handed to LINE (queued and sent); `failed` of them LINE refused for good."""
    skipped: dict[str, int] = field(default_factory=dict)
    branches: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def due(self) -> int:
        return self.sent + sum(self.skipped.values())


async def _failures(source: str) -> tuple[int, dict[str, int]]:
    """Recipients LINE refused for good among the outbox rows of `source`, and why."""
    failed, reasons = 0, dict[str, int]()
    for count, error in await OutboxMessage.filter(source=source, status="failed").values_list(
        "recipient_count", "error"
    ):
        failed += int(count)
        key = str(error or "unknown")[:200]
        reasons[key] = reasons.get(key, 0) + int(count)
    return failed, reasons


async def step_stats(scenario: str) -> list[StepStats]:
    """One entry per step that has come due for anyone, in step order."""
    rows = await StepDelivery.filter(scenario=scenario).values_list(
        "step", "status", "reason", "branch"
    )
    stats: dict[int, StepStats] = {}
    for step, status, reason, branch in rows:
        entry = stats.setdefault(int(step), StepStats(int(step)))
        if status == "sent":
            entry.sent += 1
            if branch:
                entry.branches[str(branch)] = entry.branches.get(str(branch), 0) + 1
        else:
            key = str(reason or status)
            entry.skipped[key] = entry.skipped.get(key, 0) + 1
    for entry in stats.values():
        entry.failed, entry.failures = await _failures(step_source(scenario, entry.step))
    return [stats[k] for k in sorted(stats)]


@dataclass
class BroadcastStats:
    name: str
    occurrences: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    recipients: int = 0
    delivered: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)


async def broadcast_stats(name: str) -> BroadcastStats:
    """Occurrences, recipients, and how many recipients LINE took or refused (with why)."""
    from bot.db.models import BroadcastRun

    stats = BroadcastStats(name)
    for status, reason, recipients in await BroadcastRun.filter(name=name).values_list(
        "status", "reason", "recipients"
    ):
        stats.occurrences += 1
        stats.recipients += int(recipients)
        if status == "skipped":
            key = str(reason or status)
            stats.skipped[key] = stats.skipped.get(key, 0) + 1
    source = f"broadcast:{name}"
    for status, count, error in await OutboxMessage.filter(source=source).values_list(
        "status", "recipient_count", "error"
    ):
        if status == "sent":
            stats.delivered += int(count)
        elif status == "failed":
            stats.failed += int(count)
            key = str(error or "unknown")[:200]
            stats.failures[key] = stats.failures.get(key, 0) + int(count)
    return stats


@dataclass
class TapStats:
    button: str
    """Where the button is in the scenario, e.g. steps.レッスン.steps[0].messages[0]…"""
    label: str | None
    taps: int = 0
    friends: int = 0


async def tap_stats(scenario: Any) -> list[TapStats]:
    """Taps per postback button of the scenario: all taps and distinct friends."""
    from bot.db.models import Tap
    from bot.scenario.schema import PostbackAction
    from bot.scenario.walk import dotted, walk

    buttons: dict[str, TapStats] = {}
    for loc, model in walk(scenario):
        if isinstance(model, PostbackAction) and model.data and model.data not in buttons:
            buttons[model.data] = TapStats(dotted(loc), model.label)
    rows = await Tap.filter(data__in=list(buttons)).values_list("data", "friend_id")
    seen: dict[str, set[int]] = {}
    for data, friend_id in rows:
        buttons[str(data)].taps += 1
        seen.setdefault(str(data), set()).add(int(friend_id))
    for data, friends in seen.items():
        buttons[data].friends = len(friends)
    return sorted(buttons.values(), key=lambda b: b.button)


@dataclass
class LinkStats:
    url: str
    source: str
    """Where it was sent: step:<name>:<step>, broadcast:<name>, or the reply's source."""
    clicks: int = 0
    friends: int = 0
    """Distinct friends who tapped (only known with `track_links: friend`)."""


async def link_stats(source_prefix: str = "") -> list[LinkStats]:
    """Taps per tracked link, all taps and distinct friends, optionally for one source
    (e.g. "broadcast:セール")."""
    from bot.db.models import LinkClick, TrackedLink

    links = await TrackedLink.filter(source__startswith=source_prefix).order_by("source", "id")
    by_id = {link.id: LinkStats(link.url, link.source) for link in links}
    rows = await LinkClick.filter(link_id__in=list(by_id)).values_list("link_id", "friend_id")
    seen: dict[int, set[int]] = {}
    for link_id, friend_id in rows:
        by_id[int(link_id)].clicks += 1
        if friend_id is not None:
            seen.setdefault(int(link_id), set()).add(int(friend_id))
    for link_id, friends in seen.items():
        by_id[link_id].friends = len(friends)
    return list(by_id.values())


async def broadcast_ab_results(scenario: Any, name: str) -> AbResult:
    """The A/B results of a broadcast with variants (see bot.automation.experiments)."""
    broadcast = scenario.broadcasts[name]
    if not broadcast.variants:
        raise ValueError(f"broadcast {name!r} has no variants")
    return await ab_results(experiment_key(name), broadcast.variants, broadcast.ab_test)


async def step_ab_results(scenario: Any, name: str, index: int) -> AbResult:
    """The A/B results of one step (numbered from 0) with variants."""
    step = scenario.steps[name].steps[index]
    if not step.variants:
        raise ValueError(f"step {index} of {name!r} has no variants")
    return await ab_results(step_experiment(name, index), step.variants, step.ab_test)
