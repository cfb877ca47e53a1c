"""Running what an admin sent: a flow in progress first (a broadcast draft, a reply, a
confirmation), otherwise a command; every command checked against the admin's role and
written to the audit log."""

from __future__ import annotations

import logging
from typing import Any

from bot.admin import audit, flows
from bot.admin.commands import BY_KEY, CONFIRMABLE, PHRASES, broadcast
from bot.admin.commands.common import CONFIRM, PICK
from bot.admin.commands.friends import REPLY, ask_reply, send_reply
from bot.admin.commands.system import quick_commands
from bot.admin.grammar import Parsed, normalize, parse, suggestions
from bot.admin.session import ADMIN_POSTBACK, AdminSession, UsageError
from bot.admin.targets import TargetError
from bot.db.models import AdminFlow, Friend

log = logging.getLogger(__name__)

YES_WORDS = {"はい", "yes", "ok", "実行", "実行する", "送信"}
NO_WORDS = {"いいえ", "no", "キャンセル", "cancel", "やめる"}
#: Commands that change nothing and say nothing about friends: not audited.
UNAUDITED = {"help", "time", "cancel", "admin"}
STALE = "このボタンは期限切れか、すでに使われています。"


async def enter(session: AdminSession) -> None:
    if not session.admin.in_admin_mode:
        session.admin.in_admin_mode = True
        await session.admin.save(update_fields=["in_admin_mode"])
        await session.audit("admin mode", result=audit.OK)
        if session.ctx.friend is not None:
            # An admin added from the shell gets the admins' menu at the latest here.
            await session.services.menus.refresh([session.ctx.friend.id])
    session.say(
        f"管理者モードです({session.role.label})。送ったメッセージはコマンドとして扱います。"
        "/help で一覧、/exit で終了します。",
        quick_commands(),
    )


async def run_text(session: AdminSession, text: str) -> None:
    parsed = parse(text, PHRASES)
    if parsed is None:
        close = suggestions(text, PHRASES)
        hint = f"もしかして: {'、'.join(close)}\n" if close else ""
        shown = normalize(text)[:40]
        session.say(
            f"「{shown}」というコマンドはありません。{hint}"
            "/help でコマンド一覧、/exit で管理者モードを終了します。",
            quick_commands(),
        )
        return
    await run_parsed(session, parsed)


async def run_parsed(session: AdminSession, parsed: Parsed) -> None:
    command = BY_KEY[parsed.key]
    if session.role < command.role:
        session.say(
            f"「{command.name}」は{command.role.label}以上が使えます"
            f"(あなたは{session.role.label}です)。"
        )
        await session.audit(command.key, target=parsed.rest, result=audit.REFUSED)
        return
    session.audit_target = parsed.rest
    try:
        await command.run(session, parsed)
    except (UsageError, TargetError) as exc:
        session.say(f"{exc}\n使い方: {command.usage}")
        session.audit_result = audit.FAILED
        session.audit_detail = {"error": str(exc)}
    if command.key not in UNAUDITED:
        await session.audit(
            command.key,
            target=session.audit_target,
            result=session.audit_result,
            detail=session.audit_detail,
        )


async def _reply_flow(session: AdminSession, flow: AdminFlow, text: str | None) -> None:
    if text is not None and normalize(text).lstrip("/").casefold() in NO_WORDS:
        await flows.finish(flow)
        session.say("返信をやめました。")
        return
    if text is None or not text.strip():
        session.say("返信はテキストで送ってください(やめるときは「キャンセル」)。")
        return
    friend = await Friend.get_or_none(id=int(flow.data["friend_id"]))
    if not await flows.finish(flow) or friend is None:
        return
    await send_reply(session, friend, text)
    await session.audit(
        "reply", target=session.audit_target, result=audit.OK, detail=session.audit_detail
    )


async def handle_message(session: AdminSession, message: dict[str, Any]) -> None:
    """A message from an admin in admin mode."""
    text = str(message["text"]) if message.get("type") == "text" else None
    flow = await flows.current(session.user_id)
    if flow is not None and flow.kind == broadcast.FLOW:
        await broadcast.on_message(session, flow, message)
        return
    if flow is not None and flow.kind == REPLY:
        await _reply_flow(session, flow, text)
        return
    if flow is not None and flow.kind == CONFIRM and text is not None:
        word = normalize(text).lstrip("/").casefold()
        if word in YES_WORDS:
            await _confirm(session, flow)
            return
        if word in NO_WORDS:
            await _cancel(session, flow)
            return
    if text is None:
        session.say(
            "管理者モードではテキストでコマンドを送ってください。/help で一覧を見られます。"
        )
        return
    await run_text(session, text)


async def _confirm(session: AdminSession, flow: AdminFlow) -> None:
    if not await flows.finish(flow):
        session.say(STALE)
        return
    data = dict(flow.data)
    operation = CONFIRMABLE[str(data["op"])]
    await operation(session, data)
    await session.audit(
        str(data["op"]),
        target=session.audit_target or str(data.get("label", "")),
        result=session.audit_result,
        detail=session.audit_detail,
    )


async def _cancel(session: AdminSession, flow: AdminFlow) -> None:
    if await flows.finish(flow):
        await session.audit(
            str(flow.data.get("op", flow.kind)),
            target=str(flow.data.get("label", "")),
            result=audit.CANCELLED,
        )
        session.say("キャンセルしました。何も変更していません。")


async def handle_postback(session: AdminSession, data: str) -> None:
    """A tap on an admin button: `adm:<action>:<flow id>:<argument>`."""
    action, _, rest = data.removeprefix(ADMIN_POSTBACK).partition(":")
    flow_id, _, argument = rest.partition(":")
    if action == REPLY:
        friend = await Friend.get_or_none(id=int(argument)) if argument.isdigit() else None
        if friend is None:
            session.say("この友だちは見つかりません。")
            return
        await ask_reply(session, friend)
        return
    flow = await flows.current(session.user_id)
    if flow is None or str(flow.id) != flow_id:
        session.say(STALE)
        return
    if action == "cancel":
        await _cancel(session, flow)
    elif action == CONFIRM:
        await _confirm(session, flow)
    elif action == PICK and argument.isdigit():
        if not await flows.finish(flow):
            return
        start, stop = flow.data["slice"]
        args = list(flow.data["args"])
        args[start:stop] = [f"#{argument}"]
        await run_parsed(session, Parsed(key=flow.data["key"], args=args, rest=" ".join(args)))
    elif action in ("bc_send", "bc_when") and flow.kind == broadcast.FLOW:
        await broadcast.on_tap(session, flow, action)
        if action == "bc_send" and session.audit_detail:
            await session.audit(
                "broadcast",
                target=session.audit_target,
                result=audit.OK,
                detail=session.audit_detail,
            )
    else:
        session.say(STALE)
