"""Inflow routes (流入経路): tracking links `/r/NAME` and their QR codes.

Each opening of a route's link is a visit with a random code. The visitor becomes known in
one of three ways, and then the route's actions run for them (its `do:`, an admin route's
tag) and `RouteArrived` reaches rules and step scenarios:

1. LIFF (when `LIFF_ID` is set, always in the sandbox): the visit goes through a LIFF page
   whose ID token LINE vouches for. A friend arrives at once; someone who is not a friend
   yet is sent to the friend-add page and arrives when they follow (within a day).
2. Without LIFF, the landing page shows the visit's code; a friend who sends it in chat
   arrives (a new friend when they followed after the visit).
3. Nothing: a target-URL route without LIFF only counts the visit.

Conversions: an arrival who gets the route's conversion tag within its time converts.
Counting is in `route_stats`, the pages in `route_pages`, which routes exist in
`route_catalog`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from tortoise.exceptions import IntegrityError

from bot import clock
from bot.crm.events import DomainEvent, Followed, RouteArrived, TagAdded
from bot.db.models import Friend, RouteArrival, RouteVisit
from bot.integrations import route_codes
from bot.integrations.part import IntegrationPart
from bot.integrations.route_catalog import RouteCatalog, RouteDef
from bot.scenario import TextMessage
from bot.scenario.actions import Send

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

ROUTE_PATH = "/r/"
#: A visit identified by LIFF but not followed yet waits this long for the follow.
FOLLOW_WINDOW = timedelta(hours=24)
#: A code from the landing page can be sent in chat this long after the visit.
CODE_WINDOW = timedelta(days=7)
#: Where the sandbox's visitors "add the friend": the chat simulator.
SANDBOX_FRIEND_ADD = "/sandbox"
#: Tag history and the points ledger keep sources in 32 characters.
SOURCE_CHARS = 32

CODE_UNKNOWN = (
    "このコードは見つからないか、有効期限が切れています。"
    "もう一度リンクを開いて、表示されたコードを送ってください。"
)
CODE_AGAIN = "このコードは受け付け済みです。"
CODE_OK = "コードを確認しました。ありがとうございます。"


def route_source(name: str) -> str:
    """How the route appears in tag history and logs (`route:instagram`)."""
    return f"route:{name}"[:SOURCE_CHARS]


def _followed_since(friend: Friend, visit: RouteVisit) -> bool:
    """Whether the friend added (or unblocked) the account after opening the link."""
    return friend.followed_at is not None and friend.followed_at >= visit.at


class InflowRoutes(IntegrationPart):
    """Visits, arrivals and conversions of the scenario's and the admins' routes."""

    def prepare(self) -> None:
        self.catalog = RouteCatalog(self.scenario)
        self._conversions: dict[str, list[RouteDef]] = {}
        for route in self.catalog.declared.values():
            if route.conversion_tag is not None:
                self._conversions.setdefault(route.conversion_tag, []).append(route)
        self.crm.bus.subscribe(self._on_event)

    # --- where things are --------------------------------------------------------------

    async def find(self, name: str) -> RouteDef | None:
        return await self.catalog.find(name)

    def url(self, name: str) -> str:
        """The public address of the route (printed, put in QR codes and bios)."""
        return f"{self.settings.base_url}{ROUTE_PATH}{name}"

    @property
    def friend_add_url(self) -> str | None:
        """Where someone who is not a friend yet goes: `LINE_FRIEND_URL`, the chat simulator
        in the sandbox, None when it is not set."""
        if self.settings.sandbox:
            return SANDBOX_FRIEND_ADD
        return self.settings.friend_add_url

    # --- visits ------------------------------------------------------------------------

    async def record_visit(self, name: str, line_user_id: str | None = None) -> RouteVisit:
        """A new visit with a fresh code (a collision, one in 10^12, just draws again)."""
        for _ in range(5):
            try:
                return await RouteVisit.create(
                    route=name, code=route_codes.new_code(), at=clock.now(),
                    line_user_id=line_user_id,
                )  # fmt: skip
            except IntegrityError:
                continue
        raise RuntimeError("could not draw a free visit code")

    async def _visit_of(self, name: str, code: str | None, line_user_id: str) -> RouteVisit:
        """The visit the LIFF page came with, now known to be this LINE user's. A missing or
        unknown code (a LIFF URL opened directly), or one somebody else was identified with
        (a shared URL), is a visit of its own."""
        visit = None
        if route_codes.valid(code):
            visit = await RouteVisit.get_or_none(code=code, route=name)
        if visit is not None and visit.line_user_id is None and visit.matched_at is None:
            await RouteVisit.filter(
                id=visit.id, line_user_id__isnull=True, matched_at__isnull=True
            ).update(line_user_id=line_user_id)
            visit = await RouteVisit.get(id=visit.id)
        if visit is None or visit.line_user_id != line_user_id:
            visit = await self.record_visit(name, line_user_id)
        return visit

    async def _match(self, visit: RouteVisit, friend_id: int) -> bool:
        """Give the visit to the friend; False when it was matched before (a reload, a
        replay, a second tab), so whatever follows happens once per visit."""
        changed = await RouteVisit.filter(id=visit.id, matched_at__isnull=True).update(
            friend_id=friend_id, matched_at=clock.now()
        )
        return changed == 1

    # --- the three ways in ---------------------------------------------------------------

    async def identify(self, route: RouteDef, code: str | None, line_user_id: str) -> bool:
        """A LIFF visitor LINE vouched for. True when they are a friend (and arrived);
        False when they should add the friend first (the visit waits for their follow)."""
        visit = await self._visit_of(route.name, code, line_user_id)
        friend = await Friend.get_or_none(line_user_id=line_user_id)
        if friend is None or friend.blocked:
            log.info("route %s: visit %s waits for %s to follow", route.name, visit.id,
                     line_user_id)  # fmt: skip
            return False
        if await self._match(visit, friend.id):
            # Following after the visit (LIFF's add-friend option at login, whose follow
            # webhook can come first) is a friend-add through the route all the same.
            await self.arrive(
                route, friend.id, visit_id=visit.id, new_friend=_followed_since(friend, visit)
            )
        return True

    async def _on_followed(self, friend_id: int) -> None:
        """A follow (or unblock) of someone LIFF identified on a route recently: the newest
        such visit is where they came from; older ones are closed with it."""
        friend = await Friend.get_or_none(id=friend_id)
        if friend is None:
            return
        since = clock.now() - FOLLOW_WINDOW
        waiting = await RouteVisit.filter(
            line_user_id=friend.line_user_id, matched_at__isnull=True, at__gte=since
        ).order_by("-at", "-id")
        arrived = False
        for visit in waiting:
            if not await self._match(visit, friend_id):
                continue  # matched meanwhile (the same follow handled twice)
            if arrived:
                continue  # an older visit: closed, counted as identified only
            route = await self.find(visit.route)
            if route is None:
                continue
            arrived = True
            log.info("route %s: friend #%s followed after visit %s", route.name, friend_id,
                     visit.id)  # fmt: skip
            await self.arrive(route, friend_id, visit_id=visit.id, new_friend=True)

    def looks_like_visit_code(self, text: str) -> bool:
        """Whether a chat message is a landing page's code (no database: every message of
        every friend is asked)."""
        return route_codes.code_in(text) is not None

    async def claim_code(self, friend_id: int, text: str) -> str:
        """A friend sent a landing page's code: they came that way. Answers them and
        returns an outcome for the logs."""
        code = route_codes.code_in(text)
        visit = await RouteVisit.get_or_none(code=code) if code else None
        friend = await Friend.get_or_none(id=friend_id)
        if friend is None:
            return "route code from no friend"
        if visit is not None and visit.friend_id == friend_id:
            await self._tell(friend_id, CODE_AGAIN)
            return f"route code {visit.route} again"
        route = await self.find(visit.route) if visit is not None else None
        usable = (
            visit is not None
            and route is not None
            and visit.friend_id is None
            and visit.line_user_id in (None, friend.line_user_id)
            and visit.at >= clock.now() - CODE_WINDOW
        )
        if not usable or visit is None or route is None:
            await self._tell(friend_id, CODE_UNKNOWN)
            return "route code unknown"
        if not await self._match(visit, friend_id):
            await self._tell(friend_id, CODE_AGAIN)
            return f"route code {route.name} again"
        new_friend = _followed_since(friend, visit)
        ran = await self.arrive(route, friend_id, visit_id=visit.id, new_friend=new_friend)
        if not (ran and any(isinstance(action, Send) for action in route.do)):
            await self._tell(friend_id, CODE_OK)
        return f"route {route.name} arrival by code"

    async def _tell(self, friend_id: int, text: str) -> None:
        await self.actions.send(
            friend_id, [TextMessage(type="text", text=text)], source="route code"
        )

    # --- arriving ------------------------------------------------------------------------

    async def arrive(
        self, route: RouteDef, friend_id: int, *, visit_id: int, new_friend: bool
    ) -> bool:
        """The friend came through the route: record it (once per route and friend), run
        the route's actions (only the first time for a `once` route) and tell the rules.
        Returns whether the actions ran now."""
        now = clock.now()
        try:
            arrival = await RouteArrival.create(
                route=route.name, friend_id=friend_id, at=now, new_friend=new_friend
            )
        except IntegrityError:
            arrival = await RouteArrival.get(route=route.name, friend_id=friend_id)
        if route.once:
            # Claimed before running: two visits at once still run the actions once.
            claimed = await RouteArrival.filter(id=arrival.id, actions_run=False).update(
                actions_run=True
            )
            if claimed != 1:
                log.info("route %s: friend #%s came again (once)", route.name, friend_id)
                return False
        elif not arrival.actions_run:
            await RouteArrival.filter(id=arrival.id).update(actions_run=True)
        source = route_source(route.name)
        dedupe = f"route:{route.name}:{visit_id}"
        if route.do:
            await self.actions.run(friend_id, route.do, source=source, dedupe=dedupe)
        if route.tag:
            await self.crm.tags.add(friend_id, route.tag, source=source)
        await self.crm.bus.publish(RouteArrived(friend_id, source="route", route=route.name))
        log.info("route %s: friend #%s arrived%s", route.name, friend_id,
                 " (new friend)" if new_friend else "")  # fmt: skip
        return True

    # --- events --------------------------------------------------------------------------

    async def _on_event(self, event: DomainEvent) -> None:
        if isinstance(event, Followed):
            await self._on_followed(event.friend_id)
        elif isinstance(event, TagAdded) and event.tag in self._conversions:
            await self._on_conversion_tag(event.friend_id, event.tag)

    async def _on_conversion_tag(self, friend_id: int, tag: str) -> None:
        """An arrival who got the route's conversion tag in time converts (once)."""
        routes = {route.name: route for route in self._conversions[tag]}
        now = clock.now()
        waiting = await RouteArrival.filter(
            friend_id=friend_id, route__in=list(routes), converted_at__isnull=True
        )
        for arrival in waiting:
            within = routes[arrival.route].conversion_within
            if within is not None and now - arrival.at <= within:
                await RouteArrival.filter(id=arrival.id, converted_at__isnull=True).update(
                    converted_at=now
                )
                log.info("route %s: friend #%s converted (%s)", arrival.route, friend_id, tag)


def setup_routes(app: web.Application) -> None:
    """Add `/r/NAME` (and its QR codes) and the LIFF page `go/NAME` with its API."""
    from bot.appkeys import SERVICES  # it imports bot.services, which imports this module
    from bot.integrations.route_pages import add_route_pages

    settings = app[SERVICES].settings
    if app[SERVICES].scenario.routes and not settings.sandbox:
        if not settings.friend_add_url:
            log.warning("LINE_FRIEND_URL is not set: inflow routes cannot send visitors to add "
                        "the account (they are asked to search for it)")  # fmt: skip
        if not settings.liff_id:
            log.info("LIFF_ID is not set: inflow routes identify visitors by a code sent in chat")
    add_route_pages(app)
