"""Pieces every command uses: finding the one friend meant, reading a target, asking for
confirmation before a change that touches many friends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.admin import audit, flows
from bot.admin.grammar import Parsed
from bot.admin.registry import Runner
from bot.admin.session import AdminSession, UsageError, tap_item
from bot.admin.targets import Target, parse_target, search_by_name, short
from bot.db.models import Friend

PICK = "pick"
CONFIRM = "confirm"
MAX_CANDIDATES = 12


def need(parsed: Parsed, count: int, what: str) -> None:
    """At least `count` arguments, or say which are missing."""
    if len(parsed.args) < count:
        raise UsageError(f"{what}がありません。")


def target_of(session: AdminSession, words: Sequence[str]) -> Target:
    return parse_target(words, session.scenario)


async def one_friend(
    session: AdminSession, parsed: Parsed, start: int, end: int | None = None
) -> Friend | None:
    """The one friend named by args[start:end] (`#12` or a name), who becomes the audit
    entry's target. Several matching names: the admin is asked to pick, and the command
    runs again with the pick (None here)."""
    words = parsed.args[start:end]
    target = target_of(session, words)
    if target.is_group or len(target.friend_ids) > 1:
        raise UsageError("友だちを1人だけ指定してください(#12 または名前)。")
    if target.friend_ids:
        friend = await Friend.get_or_none(id=target.friend_ids[0])
        if friend is None:
            raise UsageError(f"#{target.friend_ids[0]} の友だちはいません。")
        session.audit_target = short(friend)
        return friend
    assert target.name is not None
    found = await search_by_name(target.name, limit=MAX_CANDIDATES + 1)
    if not found:
        raise UsageError(f"「{target.name}」という名前の友だちは見つかりません。")
    if len(found) == 1:
        session.audit_target = short(found[0])
        return found[0]
    stop = len(parsed.args) if end is None else end
    flow = await flows.begin(
        session.user_id, PICK, {"key": parsed.key, "args": parsed.args, "slice": [start, stop]}
    )
    shown = found[:MAX_CANDIDATES]
    more = "(多いので一部です。#ID で指定してください)" if len(found) > MAX_CANDIDATES else ""
    session.say(
        f"「{target.name}」に当てはまる友だちが{len(shown)}人以上います。どの方ですか?{more}\n"
        + "\n".join(short(f) for f in shown),
        [tap_item(short(f), PICK, flow.id, str(f.id)) for f in shown],
    )
    return None


FRIEND_WANTED = "友だちの指定(#12 または名前)"


def about_a_friend(act: Callable[[AdminSession, Friend], Awaitable[None]]) -> Runner:
    """A command whose arguments all name one friend: find them (or ask which), then act."""

    async def run(session: AdminSession, parsed: Parsed) -> None:
        need(parsed, 1, FRIEND_WANTED)
        friend = await one_friend(session, parsed, 0)
        if friend is not None:
            await act(session, friend)

    return run


async def confirm_first(
    session: AdminSession, op: str, data: dict[str, Any], question: str, yes: str = "実行する"
) -> None:
    """Keep the operation as a flow and ask; it runs when the admin taps `yes`. The
    command's audit entry says it awaits confirmation; the confirmation gets its own."""
    flow = await flows.begin(session.user_id, CONFIRM, {"op": op, **data})
    session.say(
        question,
        [tap_item(yes, CONFIRM, flow.id), tap_item("キャンセル", "cancel", flow.id)],
    )
    session.audit_result = audit.PENDING
    session.audit_detail = data


def thousands(number: int) -> str:
    return f"{number:,}"
