"""Becoming and ceasing to be an admin: the operator's secret code, one-time invitations,
and a limit on wrong guesses (kept in the database, so every process counts them)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from tortoise.transactions import in_transaction

from bot import clock
from bot.admin.roles import Role, role_of
from bot.db.models import Admin, AdminCodeAttempt, AdminInvite

#: Invitation codes look like SB-7K3M-Q9XP: unambiguous letters, easy to read aloud.
INVITE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
INVITE_CODE = re.compile(r"^SB-[0-9A-Z]{4}-[0-9A-Z]{4}$")
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Enrollment:
    """What sending a code did."""

    ok: bool
    message: str
    role: Role | None = None


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def looks_like_invite(text: str) -> bool:
    return INVITE_CODE.match(text.strip().upper()) is not None


async def get_admin(line_user_id: str | None) -> Admin | None:
    if not line_user_id:
        return None
    return await Admin.get_or_none(line_user_id=line_user_id)


async def new_invite(created_by: str, role: Role, lifetime: timedelta) -> tuple[str, AdminInvite]:
    """A fresh one-time code; only its hash is stored."""
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
    code = f"SB-{raw[:4]}-{raw[4:]}"
    now = clock.now()
    invite = await AdminInvite.create(
        code_hash=_digest(code),
        role=role.key,
        created_by=created_by,
        created_at=now,
        expires_at=now + lifetime,
    )
    return code, invite


async def _wrong_recently(line_user_id: str) -> int:
    since = clock.now() - WRONG_CODE_WINDOW
    return await AdminCodeAttempt.filter(
        line_user_id=line_user_id, succeeded=False, at__gte=since
    ).count()


async def _record(line_user_id: str, succeeded: bool) -> None:
    await AdminCodeAttempt.create(line_user_id=line_user_id, succeeded=succeeded, at=clock.now())


async def _grant(line_user_id: str, role: Role) -> Admin:
    admin, created = await Admin.get_or_create(
        line_user_id=line_user_id, defaults={"role": role.key, "created_at": clock.now()}
    )
    if not created and role_of(admin.role) < role:
        admin.role = role.key
        await admin.save(update_fields=["role"])
    return admin


async def enroll(line_user_id: str, code: str, admin_code: str | None) -> Enrollment:
    """Try a code: the operator's `STEPBOT_ADMIN_CODE` (only while there is no owner) or an
    invitation. Wrong codes count against a limit per LINE user."""
    if await _wrong_recently(line_user_id) >= MAX_WRONG_CODES:
        return Enrollment(
            False,
            "コードの入力ミスが続いたため、しばらく受け付けません。1時間ほどしてからお試しください。",
        )
    code = code.strip()
    if admin_code and hmac.compare_digest(code.encode(), admin_code.encode()):
        if await Admin.filter(role=Role.OWNER.key).exists():
            await _record(line_user_id, False)
            return Enrollment(
                False,
                "オーナーはすでに登録されています。オーナーから招待コードを受け取ってください。",
            )
        await _grant(line_user_id, Role.OWNER)
        await _record(line_user_id, True)
        return Enrollment(True, "オーナーとして登録しました。", Role.OWNER)
    digest = _digest(code.upper())
    now = clock.now()
    async with in_transaction():
        # Claiming the row is one UPDATE: two people sending the same code cannot both win.
        claimed = await AdminInvite.filter(
            code_hash=digest, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now, used_by=line_user_id)
        invite = await AdminInvite.get_or_none(code_hash=digest) if claimed else None
        if invite is not None:
            role = role_of(invite.role)
            await _grant(line_user_id, role)
    if invite is not None:
        await _record(line_user_id, True)
        return Enrollment(True, f"{role.label}として登録しました。", role)
    await _record(line_user_id, False)
    left = MAX_WRONG_CODES - await _wrong_recently(line_user_id)
    return Enrollment(
        False,
        "コードが正しくないか、使用済み・期限切れです。"
        + (f"あと{left}回まで試せます。" if left > 0 else "しばらく受け付けません。"),
    )
