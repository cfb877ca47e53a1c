"""Domain events: how a change in the CRM reaches whatever reacts to it (rules, scores).

The CRM publishes, subscribers (the rule engine) listen; the CRM imports none of them.
Subscribers run in the publisher's task, one after another, so a chain of rules completes
within the same second as the change that started it, in order.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainEvent:
    friend_id: int
    source: str = ""
    actor: str | None = None


@dataclass(frozen=True)
class Followed(DomainEvent):
    unblocked: bool = False


@dataclass(frozen=True)
class Unfollowed(DomainEvent):
    pass


@dataclass(frozen=True)
class TagAdded(DomainEvent):
    tag: str = ""


@dataclass(frozen=True)
class TagRemoved(DomainEvent):
    tag: str = ""


@dataclass(frozen=True)
class PointsChanged(DomainEvent):
    before: int = 0
    after: int = 0
    reason: str = ""


@dataclass(frozen=True)
class FieldChanged(DomainEvent):
    name: str = ""
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class ScoreChanged(DomainEvent):
    name: str = ""
    before: int = 0
    after: int = 0


@dataclass(frozen=True)
class MessageReceived(DomainEvent):
    text: str = ""


@dataclass(frozen=True)
class PostbackReceived(DomainEvent):
    data: str = ""
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormSubmitted(DomainEvent):
    form: str = ""


@dataclass(frozen=True)
class LinkClicked(DomainEvent):
    url: str = ""
    message: str = ""
    """Where the link was sent (e.g. step:レッスン:2, broadcast:セール)."""


@dataclass(frozen=True)
class SurveyCompleted(DomainEvent):
    survey: str = ""


@dataclass(frozen=True)
class StampAdded(DomainEvent):
    rally: str = ""
    stamps: int = 0
    """How many stamps the card holds now."""


@dataclass(frozen=True)
class PaymentReceived(DomainEvent):
    """A Stripe payment of the friend (checkout completed or an invoice paid)."""

    prices: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    amount: int = 0
    currency: str = ""
    renewal: bool = False


@dataclass(frozen=True)
class SubscriptionCanceled(DomainEvent):
    subscription: str = ""


@dataclass(frozen=True)
class PaymentFailed(DomainEvent):
    amount: int = 0
    currency: str = ""


@dataclass(frozen=True)
class OrderPaid(DomainEvent):
    """A paid shop order of the friend."""

    order: str = ""
    skus: tuple[str, ...] = ()
    product_ids: tuple[int, ...] = ()
    total: int = 0


@dataclass(frozen=True)
class InboundReceived(DomainEvent):
    """A signed event from another system (`integrations.webhooks`)."""

    hook: str = ""
    event: str = ""


@dataclass(frozen=True)
class RouteArrived(DomainEvent):
    """The friend came through an inflow route (流入経路)."""

    route: str = ""


Subscriber = Callable[[DomainEvent], Awaitable[None]]
BatchEnd = Callable[[], Awaitable[None]]

#: Set while a bulk change publishes its events (see `EventBus.batch`).
_in_batch: contextvars.ContextVar[bool] = contextvars.ContextVar("bus_batch", default=False)


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._batch_ends: list[BatchEnd] = []

    def subscribe(self, subscriber: Subscriber, on_batch_end: BatchEnd | None = None) -> None:
        """`on_batch_end` lets a subscriber collect a bulk change's events and act on all of
        them at once (one bulk rich-menu link instead of 50,000 single ones)."""
        self._subscribers.append(subscriber)
        if on_batch_end is not None:
            self._batch_ends.append(on_batch_end)

    @property
    def batching(self) -> bool:
        """True while the events being published belong to one bulk change."""
        return _in_batch.get()

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Publish a bulk change's events inside this; batch-aware subscribers finish their
        work when it ends. Nested batches end with the outermost."""
        if _in_batch.get():
            yield
            return
        token = _in_batch.set(True)
        try:
            yield
        finally:
            _in_batch.reset(token)
            for end in self._batch_ends:
                await end()

    async def publish(self, event: DomainEvent) -> None:
        for subscriber in self._subscribers:
            await subscriber(event)
