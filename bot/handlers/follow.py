"""Friend-add and block: keep the friend's record and greet them."""

from __future__ import annotations

import logging

from linebot.v3.webhooks import FollowEvent

from bot.crm import friends
from bot.crm.events import Followed, Unfollowed
from bot.handlers.context import EventContext
from bot.handlers.router import Router
from bot.line.client import LineApiError

log = logging.getLogger(__name__)

router = Router("friends")


@router.on("follow")
async def on_follow(ctx: EventContext) -> None:
    """Create or reactivate the friend, fetch their profile, send the welcome as a reply."""
    user_id = ctx.user_id
    if not user_id:
        return
    profile = None
    try:
        profile = await ctx.services.line.get_profile(user_id)
    except LineApiError as exc:
        log.warning("could not fetch the profile of %s: %s", user_id, exc.describe())
    friend, is_new = await friends.record_follow(user_id, profile)
    ctx.friend = friend
    unblocked = isinstance(ctx.event, FollowEvent) and bool(ctx.event.follow.is_unblocked)
    scenario = ctx.services.scenario
    if scenario.welcome and (scenario.welcome_on_unblock or not unblocked):
        await ctx.send_scenario_messages(scenario.welcome, source="welcome")
    crm = ctx.services.crm
    await crm.bus.publish(Followed(friend.id, "follow", unblocked=unblocked))
    await crm.scores.on_activity(friend.id, "followed")
    ctx.outcome = "unblocked" if unblocked else ("followed" if is_new else "refollowed")


@router.on("unfollow")
async def on_unfollow(ctx: EventContext) -> None:
    """Mark the friend blocked and cancel everything still waiting to be sent to them."""
    user_id = ctx.user_id
    if not user_id:
        return
    ctx.friend = await friends.record_unfollow(user_id)
    cancelled = await ctx.services.outbox.cancel_pending(user_id)
    await ctx.services.steps.stop(ctx.friend.id)
    await ctx.services.surveys.abandon(ctx.friend.id)
    await ctx.services.crm.bus.publish(Unfollowed(ctx.friend.id, "unfollow"))
    ctx.outcome = f"blocked, {cancelled} pending cancelled" if cancelled else "blocked"
