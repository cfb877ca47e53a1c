"""Routing admins' traffic to admin mode, before anything else sees it.

- A code (the operator's STEPBOT_ADMIN_CODE, an invitation like SB-7K3M-Q9XP, or
  `/admin CODE`) from anyone is an attempt to become an admin.
- An admin in admin mode: every message is a command (no auto-replies, no surveys).
- An admin outside it: `/admin`, or any `/command`, enters admin mode; anything else is
  ordinary friend traffic.
- A tap on an admin button counts only from an admin.
Anyone else sending a command gets ordinary friend behaviour, and nothing changes.
"""

from __future__ import annotations

from bot.admin import accounts, engine
from bot.admin.commands import PHRASES
from bot.admin.grammar import normalize, parse
from bot.admin.session import ADMIN_POSTBACK, AdminSession
from bot.handlers.context import EventContext
from bot.handlers.router import Filter, PostbackData, Router

ENTER_WORDS = ("/admin", "/管理者モード", "/管理")


def _code_in(ctx: EventContext) -> str | None:
    """The code the text carries, if it is an attempt to become an admin."""
    if ctx.text is None:
        return None
    text = normalize(ctx.text)
    first, _, rest = text.partition(" ")
    if first.casefold() in ENTER_WORDS and rest.strip():
        return rest.strip()
    if accounts.looks_like_invite(text):
        return text
    code = ctx.services.settings.admin_code
    if code and text == code:
        return text
    return None


class CodeAttempt(Filter):
    async def check(self, ctx: EventContext) -> bool:
        if _code_in(ctx) is None:
            return False
        admin = await ctx.admin()
        # An admin in admin mode typing `/admin X` is running a command, not enrolling.
        return (
            admin is None or not admin.in_admin_mode or accounts.looks_like_invite(ctx.text or "")
        )


class InAdminMode(Filter):
    async def check(self, ctx: EventContext) -> bool:
        admin = await ctx.admin()
        return admin is not None and admin.in_admin_mode


class SlashCommand(Filter):
    """An admin's `/admin` or `/command` outside admin mode."""

    async def check(self, ctx: EventContext) -> bool:
        if ctx.text is None or await ctx.admin() is None:
            return False
        text = normalize(ctx.text)
        if not text.startswith("/"):
            return False
        return text.split()[0].casefold() in ENTER_WORDS or parse(text, PHRASES) is not None


class IsAdmin(Filter):
    async def check(self, ctx: EventContext) -> bool:
        return await ctx.admin() is not None


def admin_router() -> Router:
    router = Router("admin")

    @router.message(CodeAttempt(), name="code")
    async def code(ctx: EventContext) -> None:
        code_text = _code_in(ctx)
        assert code_text is not None and ctx.user_id is not None
        result = await accounts.enroll(ctx.user_id, code_text, ctx.services.settings.admin_code)
        ctx.admin_traffic = True
        messages = [{"type": "text", "text": result.message}]
        if result.ok:
            messages[0]["text"] += " /admin で管理者モードに入れます(/help でコマンド一覧)。"
            if ctx.friend is not None:
                await ctx.services.menus.refresh([ctx.friend.id])
        await ctx.answer(messages, source="admin")
        ctx.outcome = f"admin code: {'accepted' if result.ok else 'refused'}"

    @router.message(InAdminMode(), name="command")
    async def command(ctx: EventContext) -> None:
        admin = await ctx.admin()
        assert admin is not None
        session = AdminSession(ctx, admin)
        ctx.admin_traffic = True
        await engine.handle_message(session, dict(ctx.raw.get("message") or {}))
        await session.flush()
        ctx.outcome = "admin command"

    @router.message(SlashCommand(), name="enter")
    async def enter(ctx: EventContext) -> None:
        admin = await ctx.admin()
        assert admin is not None and ctx.text is not None
        session = AdminSession(ctx, admin)
        ctx.admin_traffic = True
        await engine.enter(session)
        if normalize(ctx.text).split()[0].casefold() not in ENTER_WORDS:
            await engine.run_text(session, ctx.text)
        await session.flush()
        ctx.outcome = "admin mode entered"

    @router.postback(PostbackData(prefix=ADMIN_POSTBACK), IsAdmin(), name="button")
    async def button(ctx: EventContext) -> None:
        admin = await ctx.admin()
        assert admin is not None
        session = AdminSession(ctx, admin)
        ctx.admin_traffic = True
        if not admin.in_admin_mode:
            admin.in_admin_mode = True
            await admin.save(update_fields=["in_admin_mode"])
        await engine.handle_postback(session, ctx.postback_data or "")
        await session.flush()
        ctx.outcome = "admin button"

    return router
