"""Step scenarios for one friend: start, stop, pause, resume."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable

from bot.admin.commands.common import need, one_friend
from bot.admin.grammar import Parsed
from bot.admin.registry import Command, Runner
from bot.admin.roles import Role
from bot.admin.session import AdminSession, UsageError
from bot.admin.targets import short
from bot.automation.steps import RUNNING
from bot.db.models import Friend, StepRun

WHAT = "シナリオ名と友だち"


def _scenario_name(session: AdminSession, name: str) -> str:
    known = list(session.scenario.steps)
    if name in known:
        return name
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
    listed = "、".join(close or known) or "(シナリオにステップ配信がありません)"
    raise UsageError(
        f"ステップ配信「{name}」はありません。{'もしかして' if close else 'あるもの'}: {listed}"
    )


def _for_a_friend(act: Callable[[AdminSession, str, Friend], Awaitable[None]]) -> Runner:
    """A step command: the scenario's name (checked first), then the friend."""

    async def run(session: AdminSession, parsed: Parsed) -> None:
        need(parsed, 2, WHAT)
        name = _scenario_name(session, parsed.args[0])
        friend = await one_friend(session, parsed, 1)
        if friend is not None:
            session.audit_target = f"{name} → {short(friend)}"
            await act(session, name, friend)

    return run


async def start(session: AdminSession, name: str, friend: Friend) -> None:
    if friend.blocked:
        raise UsageError(f"{short(friend)} さんはブロック中のため配信できません。")
    run = await session.services.steps.start(friend.id, name, source="admin")
    if run is None:
        session.say(f"{short(friend)} さんには「{name}」がすでに配信中です(再開始しない設定です)。")
        return
    session.say(f"{short(friend)} さんに「{name}」を開始しました。")


async def stop(session: AdminSession, name: str, friend: Friend) -> None:
    if await session.services.steps.stop(friend.id, name):
        session.say(f"{short(friend)} さんの「{name}」を停止しました。")
    else:
        session.say(f"{short(friend)} さんに配信中の「{name}」はありません。")


async def pause(session: AdminSession, name: str, friend: Friend) -> None:
    if await session.services.steps.pause(friend.id, name):
        session.say(
            f"{short(friend)} さんの「{name}」を一時停止しました。"
            "「ステップ再開」で続きから送ります。"
        )
    else:
        session.say(f"{short(friend)} さんに配信中の「{name}」はありません。")


async def resume(session: AdminSession, name: str, friend: Friend) -> None:
    if await session.services.steps.resume(friend.id, name):
        session.say(f"{short(friend)} さんの「{name}」を再開しました。")
    elif await StepRun.exists(friend_id=friend.id, scenario=name, status=RUNNING):
        session.say(f"{short(friend)} さんの「{name}」は一時停止していません。")
    else:
        session.say(f"{short(friend)} さんに一時停止中の「{name}」はありません。")


COMMANDS = (
    Command("step start", ("ステップ開始", "step start", "シナリオ開始"), Role.ADMIN,
            "ステップ開始 <シナリオ名> <#ID|名前>", "友だちにステップ配信を始める", "ステップ配信",
            _for_a_friend(start)),
    Command("step stop", ("ステップ停止", "step stop", "シナリオ停止"), Role.ADMIN,
            "ステップ停止 <シナリオ名> <#ID|名前>", "友だちへのステップ配信をやめる",
            "ステップ配信", _for_a_friend(stop)),
    Command("step pause", ("ステップ一時停止", "step pause"), Role.ADMIN,
            "ステップ一時停止 <シナリオ名> <#ID|名前>", "友だちへのステップ配信を止めておく",
            "ステップ配信", _for_a_friend(pause)),
    Command("step resume", ("ステップ再開", "step resume"), Role.ADMIN,
            "ステップ再開 <シナリオ名> <#ID|名前>", "一時停止したステップ配信を続ける",
            "ステップ配信", _for_a_friend(resume)),
)  # fmt: skip
