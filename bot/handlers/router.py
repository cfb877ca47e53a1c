"""A small router in the spirit of aiogram's: handlers registered per event type with filters.

Filters are composable (`&`, `|`, `~`). Within a router, handlers are tried in the order they
were registered and the first whose filters all pass handles the event; then included
routers are tried in the order they were included.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.handlers.context import EventContext

Handler = Callable[["EventContext"], Awaitable[None]]


class Filter(ABC):
    """A condition on an event. Subclasses implement `check`."""

    @abstractmethod
    async def check(self, ctx: EventContext) -> bool:
        """True when the event passes."""

    def __and__(self, other: Filter) -> Filter:
        return _All((self, other))

    def __or__(self, other: Filter) -> Filter:
        return _Any((self, other))

    def __invert__(self) -> Filter:
        return _Not(self)


@dataclass(frozen=True)
class _All(Filter):
    parts: tuple[Filter, ...]

    async def check(self, ctx: EventContext) -> bool:
        for part in self.parts:
            if not await part.check(ctx):
                return False
        return True


@dataclass(frozen=True)
class _Any(Filter):
    parts: tuple[Filter, ...]

    async def check(self, ctx: EventContext) -> bool:
        for part in self.parts:
            if await part.check(ctx):
                return True
        return False


@dataclass(frozen=True)
class _Not(Filter):
    inner: Filter

    async def check(self, ctx: EventContext) -> bool:
        return not await self.inner.check(ctx)


@dataclass(frozen=True)
class IsText(Filter):
    """The event is a text message."""

    async def check(self, ctx: EventContext) -> bool:
        return ctx.text is not None


@dataclass(frozen=True)
class TextEquals(Filter):
    values: tuple[str, ...]

    def __init__(self, *values: str) -> None:
        object.__setattr__(self, "values", tuple(v.strip() for v in values))

    async def check(self, ctx: EventContext) -> bool:
        return ctx.text is not None and ctx.text.strip() in self.values


@dataclass(frozen=True)
class TextContains(Filter):
    values: tuple[str, ...]

    def __init__(self, *values: str) -> None:
        object.__setattr__(self, "values", values)

    async def check(self, ctx: EventContext) -> bool:
        return ctx.text is not None and any(v in ctx.text for v in self.values)


@dataclass(frozen=True)
class TextRegex(Filter):
    pattern: re.Pattern[str]

    def __init__(self, pattern: str | re.Pattern[str]) -> None:
        object.__setattr__(self, "pattern", re.compile(pattern))

    async def check(self, ctx: EventContext) -> bool:
        return ctx.text is not None and self.pattern.search(ctx.text) is not None


@dataclass(frozen=True)
class PostbackData(Filter):
    """Postback data equal to `equals`, or starting with `prefix`."""

    equals: str | None = None
    prefix: str | None = None

    async def check(self, ctx: EventContext) -> bool:
        data = ctx.postback_data
        if data is None:
            return False
        if self.equals is not None:
            return data == self.equals
        return self.prefix is None or data.startswith(self.prefix)


@dataclass(frozen=True)
class HasTag(Filter):
    """The friend currently holds the tag."""

    name: str

    async def check(self, ctx: EventContext) -> bool:
        from bot.crm.friends import has_tag

        return ctx.friend is not None and await has_tag(ctx.friend, self.name)


@dataclass(frozen=True)
class Predicate(Filter):
    """Any callable on the context, for conditions that need no class of their own."""

    func: Callable[[EventContext], Any]

    async def check(self, ctx: EventContext) -> bool:
        result = self.func(ctx)
        if isinstance(result, Awaitable):
            result = await result
        return bool(result)


@dataclass(frozen=True)
class Route:
    event_type: str
    filters: tuple[Filter, ...]
    handler: Handler
    name: str


class Router:
    def __init__(self, name: str = "router") -> None:
        self.name = name
        self._routes: list[Route] = []
        self._children: list[Router] = []

    def on(
        self, event_type: str, *filters: Filter, name: str | None = None
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(event_type, handler, *filters, name=name)
            return handler

        return register

    def add(
        self, event_type: str, handler: Handler, *filters: Filter, name: str | None = None
    ) -> None:
        label = name or getattr(handler, "__name__", "handler")
        self._routes.append(Route(event_type, tuple(filters), handler, f"{self.name}.{label}"))

    def message(self, *filters: Filter, name: str | None = None) -> Callable[[Handler], Handler]:
        return self.on("message", *filters, name=name)

    def postback(self, *filters: Filter, name: str | None = None) -> Callable[[Handler], Handler]:
        return self.on("postback", *filters, name=name)

    def include(self, router: Router) -> Router:
        self._children.append(router)
        return router

    async def resolve(self, ctx: EventContext) -> Route | None:
        """The route that would handle this event, or None."""
        for route in self._routes:
            if route.event_type != ctx.event_type:
                continue
            if await _All(route.filters).check(ctx):
                return route
        for child in self._children:
            found = await child.resolve(ctx)
            if found is not None:
                return found
        return None

    async def dispatch(self, ctx: EventContext) -> str | None:
        """Run the first matching handler; return its name, or None if nothing matched."""
        route = await self.resolve(ctx)
        if route is None:
            return None
        await route.handler(ctx)
        return route.name
