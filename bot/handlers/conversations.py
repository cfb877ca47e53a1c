"""Messages that belong to a conversation: answers to the survey a friend is in, the
"which survey?" choice, and stamp-rally codes. Routed before keyword auto-replies, so a
friend's answer is never taken for a keyword."""

from __future__ import annotations

from bot.handlers.context import EventContext
from bot.handlers.router import Filter, PostbackData, Router
from bot.states.survey import CHOICE_PREFIX


class InSurvey(Filter):
    """The friend is answering a survey. A message that is no acceptable answer but is an
    auto-reply keyword goes to that auto-reply instead (it may resume the survey); the
    survey keeps waiting for its answer."""

    async def check(self, ctx: EventContext) -> bool:
        if ctx.text is None or ctx.friend is None or not ctx.services.surveys.enabled:
            return False
        conversation = await ctx.services.surveys.active(ctx.friend.id)
        if conversation is None:
            return False
        if ctx.services.surveys.accepts(conversation, ctx.text):
            return True
        return ctx.services.scenario.find_auto_reply(ctx.text) is None


class IsStampCode(Filter):
    """The message is one of the stamp rallies' codes."""

    async def check(self, ctx: EventContext) -> bool:
        return ctx.text is not None and ctx.services.stamps.rally_for_code(ctx.text) is not None


def conversation_router() -> Router:
    router = Router("conversations")

    @router.postback(PostbackData(prefix=CHOICE_PREFIX), name="survey_choice")
    async def choose(ctx: EventContext) -> None:
        if ctx.friend is None:
            return
        # Client-sent data: only a conversation of this friend's is ever touched.
        conversation_id, _, choice = (ctx.postback_data or "")[len(CHOICE_PREFIX) :].partition(":")
        if not conversation_id.isdigit():
            ctx.outcome = "malformed survey choice"
            return
        outcome = await ctx.services.surveys.choose(ctx.friend.id, int(conversation_id), choice)
        ctx.outcome = f"survey: {outcome.what}"

    @router.message(InSurvey(), name="survey_answer")
    async def answer(ctx: EventContext) -> None:
        assert ctx.friend is not None and ctx.text is not None
        conversation = await ctx.services.surveys.active(ctx.friend.id)
        if conversation is None:  # finished meanwhile by another process
            return
        outcome = await ctx.services.surveys.answer(conversation, ctx.text)
        ctx.outcome = f"survey {conversation.name}: {outcome.what}"

    @router.message(IsStampCode(), name="stamp_code")
    async def stamp_code(ctx: EventContext) -> None:
        assert ctx.friend is not None and ctx.text is not None
        found = ctx.services.stamps.rally_for_code(ctx.text)
        if found is None:
            return
        rally, code = found
        result = await ctx.services.stamps.stamp(
            ctx.friend.id,
            rally,
            f"code:{code}",
            source="stamp_code",
            dedupe=f"event:{ctx.webhook_event_id}",
        )
        ctx.outcome = f"stamp {rally}: {'added' if result.added else 'already'}"

    return router
