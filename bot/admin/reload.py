"""Reloading the scenario file while the server runs (an admin's 再読込).

A file with any error changes nothing: the errors (file, path inside it, what is wrong) go
back to the admin and the old scenario keeps running. A good file replaces the scenario in
place (`Services.use_scenario`) and is recorded as a `scenario_reloads` row with the hash of
its bytes; every other process notices the row on its next tick (`follow_reloads`) and reads
the file itself, so all of them run the same scenario.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot import clock
from bot.appkeys import SERVICES
from bot.db.models import ScenarioReload
from bot.scenario import Scenario, ScenarioError, ScenarioIssue, load_scenario, summarize
from bot.scenario.forms import check_forms
from bot.services import Services
from liff.forms import FormService
from liff.routes import LIFF_KEY

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    summary: str = ""
    """What changed, for the admin (e.g. "ステップ配信 2 → 3"), when ok."""
    errors: str = ""
    """Every problem, one a line, each naming the file and the path inside it, when not ok."""
    content_hash: str | None = None


def scenario_file_hash(path: Path) -> str | None:
    """SHA-256 of the file's bytes (None if it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _read(path: Path) -> tuple[Scenario, str | None]:
    """The scenario in the file and the hash of its bytes, checked as at start-up (the
    LIFF forms included); raises ScenarioError."""
    content_hash = scenario_file_hash(path)
    scenario = load_scenario(path)
    problems = check_forms(scenario)
    if problems:
        raise ScenarioError(ScenarioIssue(str(path), where, what) for where, what in problems)
    return scenario, content_hash


_COUNTED: tuple[tuple[str, Callable[[Scenario], int]], ...] = (
    ("ステップ配信", lambda s: len(s.steps)),
    ("ルール", lambda s: len(s.rules)),
    ("一斉配信", lambda s: len(s.broadcasts)),
    ("自動応答", lambda s: len(s.auto_replies)),
    ("リッチメニュー", lambda s: len(s.rich_menus)),
)


def describe_change(before: Scenario, after: Scenario) -> str:
    """How many steps, rules, broadcasts, auto-replies and rich menus, before → after."""
    return "\n".join(f"{name} {count(before)} → {count(after)}" for name, count in _COUNTED)


def _services(target: web.Application | Services) -> Services:
    return target if isinstance(target, Services) else target[SERVICES]


async def _swap(services: Services) -> ReloadResult:
    """Read the file and run it; on any error keep the scenario that runs now."""
    path = services.settings.scenario_path
    before = services.scenario
    try:
        scenario, content_hash = await asyncio.to_thread(_read, path)
    except ScenarioError as exc:
        return ReloadResult(ok=False, errors=str(exc))
    await services.use_scenario(scenario, content_hash)
    log.info("scenario reloaded from %s: %s", path, summarize(scenario))
    return ReloadResult(
        ok=True, summary=describe_change(before, scenario), content_hash=content_hash
    )


async def reload_scenario(
    target: web.Application | Services, admin_user_id: str | None
) -> ReloadResult:
    """Load `settings.scenario_path` again and run it, recording who asked, so the other
    processes follow. `target` is the running app or its services (all a command handler
    has)."""
    services = _services(target)
    async with services.reload_lock:
        result = await _swap(services)
        if not result.ok:
            log.warning("scenario reload refused, the running scenario stays:\n%s", result.errors)
            return result
        row = await ScenarioReload.create(
            content_hash=result.content_hash or "", admin_user_id=admin_user_id, at=clock.now()
        )
        services.scenario_reload_seen = row.id
        return result


async def follow_reloads(target: web.Application | Services) -> None:
    """Reload when another process recorded a reload of a file other than the one this
    process runs (from the tick; errors are logged, and this process keeps its scenario)."""
    services = _services(target)
    newest = await ScenarioReload.all().order_by("-id").first()
    if newest is None or newest.id == services.scenario_reload_seen:
        return
    async with services.reload_lock:
        if services.scenario_reload_seen is not None and newest.id <= services.scenario_reload_seen:
            return
        services.scenario_reload_seen = newest.id
        if newest.content_hash == services.scenario_hash:
            return
        path = services.settings.scenario_path
        if await asyncio.to_thread(scenario_file_hash, path) == services.scenario_hash:
            return  # the file is the one this process runs (it changed back since)
        result = await _swap(services)
    if result.ok:
        log.info("followed the scenario reload #%s:\n%s", newest.id, result.summary)
    else:
        log.error("could not follow the scenario reload #%s:\n%s", newest.id, result.errors)


def keep_liff_current(app: web.Application) -> None:
    """The LIFF forms are built from the scenario: rebuild them after each reload."""
    if LIFF_KEY not in app:
        return

    def rebuild(services: Services) -> None:
        app[LIFF_KEY].forms = FormService(services)

    app[SERVICES].scenario_listeners.append(rebuild)
