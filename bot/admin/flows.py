"""What an admin is in the middle of (a draft, a confirmation, a pick), one per admin, in
the database: it survives a restart and every process sees it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from bot import clock
from bot.db.models import AdminFlow

FLOW_LIFETIME = timedelta(minutes=30)
"""An unfinished flow is forgotten after this long (an old confirmation must not fire)."""


async def current(admin_user_id: str) -> AdminFlow | None:
    flow = await AdminFlow.get_or_none(admin_user_id=admin_user_id)
    if flow is not None and flow.expires_at <= clock.now():
        await AdminFlow.filter(id=flow.id).delete()
        return None
    return flow


async def begin(admin_user_id: str, kind: str, data: dict[str, Any]) -> AdminFlow:
    """Start a flow, replacing whatever the admin was doing."""
    now = clock.now()
    await AdminFlow.filter(admin_user_id=admin_user_id).delete()
    try:
        return await AdminFlow.create(
            admin_user_id=admin_user_id,
            kind=kind,
            data=data,
            created_at=now,
            expires_at=now + FLOW_LIFETIME,
        )
    except IntegrityError:  # the same admin's other event won the race
        await AdminFlow.filter(admin_user_id=admin_user_id).delete()
        return await begin(admin_user_id, kind, data)


async def update(flow: AdminFlow, data: dict[str, Any]) -> None:
    flow.data = data
    flow.expires_at = clock.now() + FLOW_LIFETIME
    await flow.save(update_fields=["data", "expires_at"])


async def finish(flow: AdminFlow) -> bool:
    """End a flow; False if it had already ended (another process, a double tap)."""
    return await AdminFlow.filter(id=flow.id).delete() > 0


async def clear(admin_user_id: str) -> bool:
    return await AdminFlow.filter(admin_user_id=admin_user_id).delete() > 0
