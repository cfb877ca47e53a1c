"""Domain events: how a change in the CRM reaches whatever reacts to it (rules, scores).

The CRM publishes, subscribers (the rule engine) listen; the CRM imports none of them.
Subscribers run in the publisher's task, one after another, so a chain of rules completes
within the same second as the change that started it, in order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
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


Subscriber = Callable[[DomainEvent], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def publish(self, event: DomainEvent) -> None:
        for subscriber in self._subscribers:
            await subscriber(event)
