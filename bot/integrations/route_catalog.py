"""Which inflow routes exist: the scenario's `routes:` and the ones admins made in chat.

A scenario route wins over an admin route of the same name (a reload may add one), and
admins cannot make a name the scenario has. Admin routes are rows (`inflow_routes`, origin
`admin`) with a target and at most one tag; everything richer belongs in the scenario.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from bot import clock
from bot.db.models import RouteArrival, RouteRecord, RouteVisit
from bot.scenario.integrations import URL_NAME

if TYPE_CHECKING:
    from bot.scenario import Scenario

FRIEND_ADD = "friend_add"
SCENARIO = "scenario"
ADMIN = "admin"
MAX_TARGET = 2000
MAX_TITLE = 200


class RouteError(ValueError):
    """A route an admin asked for that cannot be made; the message says why, in Japanese."""


@dataclass(frozen=True)
class RouteDef:
    """One route as the rest of the code sees it, wherever it was declared."""

    name: str
    title: str
    target: str
    """`friend_add` or an https URL."""
    do: Sequence[Any] = ()
    """Scenario actions for the friend who came this way."""
    tag: str | None = None
    """The tag an admin route gives."""
    conversion_tag: str | None = None
    conversion_within: timedelta | None = None
    once: bool = True
    origin: str = SCENARIO

    @property
    def to_friend_add(self) -> bool:
        return self.target == FRIEND_ADD

    @property
    def has_actions(self) -> bool:
        return bool(self.do) or self.tag is not None


def scenario_routes(scenario: Scenario) -> dict[str, RouteDef]:
    routes = {}
    for name, spec in scenario.routes.items():
        conversion = spec.conversion
        routes[name] = RouteDef(
            name=name,
            title=spec.title or "",
            target=spec.to,
            do=tuple(spec.do or ()),
            conversion_tag=conversion.tag if conversion else None,
            conversion_within=clock.parse_duration(conversion.within) if conversion else None,
            once=spec.once,
        )
    return routes


def from_record(record: RouteRecord) -> RouteDef:
    return RouteDef(
        name=record.name,
        title=record.title,
        target=record.target,
        tag=record.tag,
        origin=ADMIN,
    )


class RouteCatalog:
    """The routes of one scenario plus the admins' rows."""

    def __init__(self, scenario: Scenario) -> None:
        self.declared = scenario_routes(scenario)

    async def find(self, name: str) -> RouteDef | None:
        route = self.declared.get(name)
        if route is not None:
            return route
        if not URL_NAME.match(name):
            return None
        record = await RouteRecord.get_or_none(name=name, origin=ADMIN)
        return from_record(record) if record is not None else None

    async def all(self) -> list[RouteDef]:
        """Scenario routes in the file's order, then admin routes by name."""
        records = await RouteRecord.filter(origin=ADMIN).order_by("name")
        extra = [from_record(r) for r in records if r.name not in self.declared]
        return [*self.declared.values(), *extra]

    async def create(
        self, name: str, *, target: str = FRIEND_ADD, tag: str | None = None,
        title: str = "", created_by: str | None = None,
    ) -> RouteDef:  # fmt: skip
        """A new admin route; RouteError when the name or target cannot be used."""
        if not URL_NAME.match(name):
            raise RouteError(
                "経路名は英数字と - _ で64文字までにしてください(URLの一部になります)。"
            )
        if name in self.declared:
            raise RouteError(
                f"経路「{name}」はシナリオにあります。シナリオファイルで変更してください。"
            )
        if target != FRIEND_ADD and (not target.startswith("https://") or len(target) > MAX_TARGET):
            raise RouteError("行き先は https:// で始まるURLにしてください(2000文字まで)。")
        try:
            record = await RouteRecord.create(
                name=name, title=title[:MAX_TITLE], target=target, tag=tag, origin=ADMIN,
                created_by=created_by, created_at=clock.now(),
            )  # fmt: skip
        except IntegrityError:
            raise RouteError(f"経路「{name}」はすでにあります。") from None
        return from_record(record)

    async def delete(self, name: str) -> bool:
        """Remove an admin route and its counts (a new route of that name starts at zero)."""
        deleted = await RouteRecord.filter(name=name, origin=ADMIN).delete()
        if not deleted:
            return False
        await RouteVisit.filter(route=name).delete()
        await RouteArrival.filter(route=name).delete()
        return True
