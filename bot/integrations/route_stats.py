"""Counts per inflow route (流入経路分析), from the visits and arrivals tables.

- visits: openings of `/r/NAME` (link-preview robots not counted), plus LIFF openings that
  came without a visit code;
- identified: visits whose visitor LINE told us (LIFF) or who sent the visit's code;
- arrivals: friends who came this way (one per friend and route);
- friend_adds: arrivals that brought a new friend (followed, or unblocked, after the visit);
- actions_run: arrivals for whom the route's actions ran;
- conversions: arrivals who got the route's conversion tag within its time.

Two grouped queries whatever the number of routes; the same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.connection import connections

from bot.automation.report import Row


@dataclass
class RouteCounts:
    route: str
    visits: int = 0
    identified: int = 0
    arrivals: int = 0
    friend_adds: int = 0
    actions_run: int = 0
    conversions: int = 0

    @property
    def conversion_rate(self) -> float | None:
        """Conversions per arrival (None before anyone arrived)."""
        return self.conversions / self.arrivals if self.arrivals else None


_VISITS = (
    "SELECT route, COUNT(*) AS visits, "
    "SUM(CASE WHEN line_user_id IS NOT NULL OR friend_id IS NOT NULL THEN 1 ELSE 0 END) "
    "AS identified FROM route_visits {where} GROUP BY route"
)
_ARRIVALS = (
    "SELECT route, COUNT(*) AS arrivals, "
    "SUM(CASE WHEN new_friend THEN 1 ELSE 0 END) AS friend_adds, "
    "SUM(CASE WHEN actions_run THEN 1 ELSE 0 END) AS actions_run, "
    "COUNT(converted_at) AS conversions FROM route_arrivals {where} GROUP BY route"
)


def _where(names: Sequence[str] | None, postgres: bool) -> str:
    if names is None:
        return ""
    marks = ", ".join(f"${i}" if postgres else "?" for i in range(1, len(names) + 1))
    return f"WHERE route IN ({marks})"


async def route_counts(names: Sequence[str] | None = None) -> dict[str, RouteCounts]:
    """Counts for these routes (every route with any visit or arrival when None); a route
    nobody opened yet has zeros."""
    wanted = list(dict.fromkeys(names)) if names is not None else None
    counts = {name: RouteCounts(name) for name in wanted or ()}
    if wanted == []:
        return counts
    db = connections.get("default")
    postgres = db.capabilities.dialect == "postgres"
    where = _where(wanted, postgres)
    params = list(wanted or ())
    for row in await db.execute_query_dict(_VISITS.format(where=where), params):
        entry = counts.setdefault(str(row["route"]), RouteCounts(str(row["route"])))
        entry.visits = int(row["visits"] or 0)
        entry.identified = int(row["identified"] or 0)
    for row in await db.execute_query_dict(_ARRIVALS.format(where=where), params):
        entry = counts.setdefault(str(row["route"]), RouteCounts(str(row["route"])))
        entry.arrivals = int(row["arrivals"] or 0)
        entry.friend_adds = int(row["friend_adds"] or 0)
        entry.actions_run = int(row["actions_run"] or 0)
        entry.conversions = int(row["conversions"] or 0)
    return counts


async def route_report(scenario: Any) -> list[Row]:
    """Every route's counts as statistics rows (section `routes`), for `stepbot stats`: the
    scenario's routes in file order, then the admins', each with zeros until visited."""
    from bot.integrations.route_catalog import RouteCatalog

    routes = await RouteCatalog(scenario).all()
    counts = await route_counts([route.name for route in routes])
    rows: list[Row] = []
    for route in routes:
        c = counts[route.name]
        detail = route.title or ""
        for measure in ("visits", "identified", "arrivals", "friend_adds", "actions_run"):
            rows.append(Row("routes", route.name, detail, measure, getattr(c, measure)))
        if route.conversion_tag is not None:
            rows.append(Row("routes", route.name, detail, "conversions", c.conversions))
            rate = c.conversion_rate
            rows.append(
                Row(
                    "routes",
                    route.name,
                    detail,
                    "conversion_rate",
                    "" if rate is None else round(rate, 4),
                )
            )
    return rows
