"""Admin roles and what each may do: operator < admin < owner."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """Ordered, so "at least admin" is a comparison."""

    OPERATOR = 1
    """Looks friends up, tags, gives or takes points, talks with friends."""
    ADMIN = 2
    """Also broadcasts, step scenarios per friend, exports, scenario reload, audit log."""
    OWNER = 3
    """Also invites, removes and promotes admins."""

    @classmethod
    def parse(cls, text: str) -> Role | None:
        """A role from its English or Japanese name."""
        return _NAMES.get(text.strip().casefold())

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def key(self) -> str:
        """The name stored in the database."""
        return self.name.lower()


_LABELS = {Role.OPERATOR: "オペレーター", Role.ADMIN: "管理者", Role.OWNER: "オーナー"}
_NAMES = {
    "operator": Role.OPERATOR,
    "オペレーター": Role.OPERATOR,
    "担当者": Role.OPERATOR,
    "admin": Role.ADMIN,
    "管理者": Role.ADMIN,
    "owner": Role.OWNER,
    "オーナー": Role.OWNER,
}


def role_of(stored: str) -> Role:
    """The role of an admin row (an unknown value counts as the least)."""
    return Role.parse(stored) or Role.OPERATOR
