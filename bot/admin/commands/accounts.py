"""Admins managing admins: list, invite with a one-time code, change a role, remove."""

from __future__ import annotations

from bot.admin import accounts as enrollment
from bot.admin.commands.common import need, one_friend
from bot.admin.grammar import Parsed
from bot.admin.registry import Command
from bot.admin.roles import Role, role_of
from bot.admin.session import AdminSession, UsageError
from bot.admin.targets import short
from bot.clock import parse_duration
from bot.db.models import Admin, Friend


async def listing(session: AdminSession, parsed: Parsed) -> None:
    admins = await Admin.all().order_by("id")
    friends = {
        f.line_user_id: f
        for f in await Friend.filter(line_user_id__in=[a.line_user_id for a in admins])
    }
    lines = [f"管理者({len(admins)}人)"]
    for admin in admins:
        friend = friends.get(admin.line_user_id)
        who = short(friend) if friend else f"(未登録 …{admin.line_user_id[-6:]})"
        flags = []
        if admin.in_admin_mode:
            flags.append("管理者モード中")
        if admin.talk_notifications:
            flags.append("通知オン")
        lines.append(f"・{who} {role_of(admin.role).label} {' '.join(flags)}".rstrip())
    session.say("\n".join(lines))


async def invite(session: AdminSession, parsed: Parsed) -> None:
    role = Role.ADMIN
    if parsed.args:
        found = Role.parse(parsed.args[0])
        if found is None:
            raise UsageError(
                "権限は オーナー / 管理者 / オペレーター(owner / admin / operator)のどれかです。"
            )
        role = found
    lifetime = parse_duration(session.scenario.admin.invite_expires)
    code, invite_row = await enrollment.new_invite(session.user_id, role, lifetime)
    expires = invite_row.expires_at.astimezone(session.scenario.zone)
    session.audit_target = role.key
    session.audit_detail = {"invite": invite_row.id, "expires_at": expires.isoformat()}
    session.say(
        f"{role.label}の招待コードを作りました。招待する方に、このアカウントを友だち追加して"
        f"次のコードをトークに送ってもらってください({expires:%m/%d %H:%M}まで・1回限り)。"
    )
    session.say(code)


async def _admin_of(session: AdminSession, parsed: Parsed) -> tuple[Admin, Friend] | None:
    friend = await one_friend(session, parsed, 0, 1)
    if friend is None:
        return None
    admin = await Admin.get_or_none(line_user_id=friend.line_user_id)
    if admin is None:
        raise UsageError(f"{short(friend)} さんは管理者ではありません。")
    return admin, friend


async def _last_owner(admin: Admin) -> bool:
    return (
        role_of(admin.role) == Role.OWNER and await Admin.filter(role=Role.OWNER.key).count() == 1
    )


async def remove(session: AdminSession, parsed: Parsed) -> None:
    need(parsed, 1, "管理者の指定(#12 または名前)")
    found = await _admin_of(session, parsed)
    if found is None:
        return
    admin, friend = found
    if await _last_owner(admin):
        raise UsageError("最後のオーナーは削除できません。先に別の方をオーナーにしてください。")
    await Admin.filter(id=admin.id).delete()
    await session.services.menus.refresh([friend.id])
    session.say(f"{short(friend)} さんを管理者から外しました。")


async def change_role(session: AdminSession, parsed: Parsed) -> None:
    need(parsed, 2, "管理者の指定と権限")
    role = Role.parse(parsed.args[1])
    if role is None:
        raise UsageError(
            "権限は オーナー / 管理者 / オペレーター(owner / admin / operator)のどれかです。"
        )
    found = await _admin_of(session, parsed)
    if found is None:
        return
    admin, friend = found
    if role != Role.OWNER and await _last_owner(admin):
        raise UsageError(
            "最後のオーナーの権限は下げられません。先に別の方をオーナーにしてください。"
        )
    await Admin.filter(id=admin.id).update(role=role.key)
    session.audit_detail = {"role": role.key}
    session.say(f"{short(friend)} さんを{role.label}にしました。")


COMMANDS = (
    Command("admins", ("管理者一覧", "admins", "admin list"), Role.OPERATOR, "管理者一覧",
            "管理者と権限", "管理者", listing),
    Command("invite", ("招待", "invite"), Role.OWNER, "招待 [オーナー|管理者|オペレーター]",
            "管理者を招待する1回限りのコードを作る(期限つき)", "管理者", invite),
    Command("admin remove", ("管理者削除", "admin remove", "remove admin"), Role.OWNER,
            "管理者削除 <#ID|名前>", "管理者から外す", "管理者", remove),
    Command("admin role", ("権限変更", "admin role", "set role"), Role.OWNER,
            "権限変更 <#ID|名前> <オーナー|管理者|オペレーター>", "管理者の権限を変える", "管理者",
            change_role),
)  # fmt: skip
