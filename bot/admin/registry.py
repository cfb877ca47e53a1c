"""What a command is: its words in both languages, who may run it, how it is written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.admin.grammar import Parsed
from bot.admin.roles import Role

if TYPE_CHECKING:
    from bot.admin.session import AdminSession

Runner = Callable[["AdminSession", Parsed], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    key: str
    """The English phrase that names it in the code and the audit log."""
    phrases: tuple[str, ...]
    """Every way to write it: Japanese first (shown in /help), then English."""
    role: Role
    """The least role that may run it."""
    usage: str
    """How it is written, in Japanese, shown when the arguments are wrong."""
    summary: str
    group: str
    run: Runner

    @property
    def name(self) -> str:
        """The Japanese phrase, as /help shows it."""
        return self.phrases[0]
