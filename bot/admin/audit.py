"""The audit log: every admin action, written whether it worked, was refused or failed."""

from __future__ import annotations

import json
from typing import Any

from bot import clock
from bot.db.models import Admin, AuditEntry

OK = "ok"
REFUSED = "refused"
FAILED = "error"
PENDING = "awaiting confirmation"
CANCELLED = "cancelled"


async def record(
    admin: Admin,
    command: str,
    *,
    target: str = "",
    result: str = OK,
    detail: dict[str, Any] | str | None = None,
) -> None:
    text = detail if isinstance(detail, str) else json.dumps(detail or {}, ensure_ascii=False)
    await AuditEntry.create(
        admin_user_id=admin.line_user_id,
        role=admin.role,
        command=command[:100],
        target=target[:500],
        detail=text,
        result=result[:32],
        at=clock.now(),
    )


async def recent(limit: int = 10) -> list[AuditEntry]:
    return await AuditEntry.all().order_by("-at", "-id").limit(limit)
