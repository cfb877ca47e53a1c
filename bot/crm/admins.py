"""Admins: who runs the account. This issue needs them for notices; in-chat admin mode
(roles, invitations) builds on the same table."""

from __future__ import annotations

import re

from bot import clock
from bot.db.models import Admin

ROLES = ("owner", "admin", "operator")
USER_ID = re.compile(r"^U[0-9a-f]{32}$")


class AdminError(ValueError):
    pass


async def add_admin(line_user_id: str, role: str) -> Admin:
    if not USER_ID.match(line_user_id):
        raise AdminError(f"LINE user ids look like U followed by 32 hex digits: {line_user_id!r}")
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    admin, created = await Admin.get_or_create(
        line_user_id=line_user_id, defaults={"role": role, "created_at": clock.now()}
    )
    if not created and admin.role != role:
        admin.role = role
        await admin.save(update_fields=["role"])
    return admin


async def remove_admin(line_user_id: str) -> bool:
    return await Admin.filter(line_user_id=line_user_id).delete() > 0


async def admin_user_ids() -> list[str]:
    return [str(u) for u in await Admin.all().order_by("id").values_list("line_user_id", flat=True)]
