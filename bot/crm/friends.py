"""Friends: created on follow, reactivated on unblock, marked blocked on unfollow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot import clock
from bot.db.models import Friend, FriendTag


async def get_friend(line_user_id: str) -> Friend | None:
    return await Friend.get_or_none(line_user_id=line_user_id)


async def ensure_friend(line_user_id: str) -> Friend:
    """The friend for an event, created if LINE sends us someone we have not seen follow.

    That happens for accounts that had friends before stepbot was installed.
    """
    friend = await Friend.get_or_none(line_user_id=line_user_id)
    if friend is not None:
        return friend
    now = clock.now()
    friend, _ = await Friend.get_or_create(
        line_user_id=line_user_id, defaults={"created_at": now, "updated_at": now}
    )
    return friend


async def record_follow(line_user_id: str, profile: dict[str, Any] | None) -> tuple[Friend, bool]:
    """Create or reactivate the friend; return (friend, is_new)."""
    now = clock.now()
    friend = await Friend.get_or_none(line_user_id=line_user_id)
    is_new = friend is None
    if friend is None:
        friend, is_new = await Friend.get_or_create(
            line_user_id=line_user_id, defaults={"created_at": now, "updated_at": now}
        )
    friend.blocked = False
    friend.followed_at = now
    friend.updated_at = now
    friend.last_event_at = now
    if profile:
        friend.display_name = (profile.get("display_name") or friend.display_name)[:200]
        friend.picture_url = profile.get("picture_url")
        friend.status_message = profile.get("status_message")
        friend.language = profile.get("language")
    await friend.save()
    return friend, is_new


async def record_unfollow(line_user_id: str) -> Friend:
    friend = await ensure_friend(line_user_id)
    now = clock.now()
    friend.blocked = True
    friend.unfollowed_at = now
    friend.updated_at = now
    friend.last_event_at = now
    await friend.save(update_fields=["blocked", "unfollowed_at", "updated_at", "last_event_at"])
    return friend


TOUCH_EVERY = timedelta(minutes=1)


async def touch(friend: Friend) -> None:
    """Remember when the friend was last active (at most once a minute: it is a hot path)."""
    now = clock.now()
    if friend.last_event_at is not None and now - friend.last_event_at < TOUCH_EVERY:
        return
    friend.last_event_at = now
    await Friend.filter(id=friend.id).update(last_event_at=now)


async def has_tag(friend: Friend, tag_name: str) -> bool:
    """True while the friend holds the tag (an open history row)."""
    return await FriendTag.filter(
        friend_id=friend.id, tag__name=tag_name, removed_at__isnull=True
    ).exists()
