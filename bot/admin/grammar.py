"""Reading an admin's message as a command: Japanese and English words, full-width or not.

A command is named by one of its phrases (`タグ追加`, `tag add`, `/tag add`); what follows
are its arguments, split on spaces, where "..." or 「...」 keeps spaces inside one argument.
A phrase that is close to a known one is suggested when nothing matches.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_QUOTED = re.compile(r'"([^"]*)"|「([^」]*)」|(\S+)')


def normalize(text: str) -> str:
    """Full-width letters, digits, '#', '/' and spaces become their ASCII forms."""
    return unicodedata.normalize("NFKC", text).strip()


def split_words(text: str) -> list[str]:
    """Arguments on spaces; quotes keep a tag name with spaces together."""
    words: list[str] = []
    for match in _QUOTED.finditer(text):
        quoted = match.group(1) if match.group(1) is not None else match.group(2)
        words.append(quoted if quoted is not None else match.group(3))
    return words


def fold(word: str) -> str:
    return word.casefold()


@dataclass(frozen=True)
class Phrase:
    """The words that name a command, e.g. ("tag", "add") or ("タグ追加",)."""

    words: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Phrase:
        return cls(tuple(fold(w) for w in text.split()))

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class Parsed:
    """A message split into the phrase it starts with and the rest."""

    key: str
    """The command's key (its first English phrase)."""
    args: list[str]
    rest: str
    """The text after the phrase, as typed (for messages and reasons with spaces)."""


def _strip_slash(text: str) -> str:
    return text[1:].lstrip() if text.startswith("/") else text


def parse(text: str, phrases: Mapping[str, Sequence[str]]) -> Parsed | None:
    """The command whose longest phrase starts the text, or None.

    `phrases` maps a command key to its phrases in every language.
    """
    body = _strip_slash(normalize(text))
    words = body.split()
    folded = [fold(w) for w in words]
    best: tuple[int, str] | None = None
    for key, names in phrases.items():
        for name in names:
            phrase = Phrase.of(normalize(name))
            size = len(phrase.words)
            if tuple(folded[:size]) == phrase.words and (best is None or size > best[0]):
                best = (size, key)
    if best is None:
        return None
    size, key = best
    rest = body
    for word in words[:size]:
        rest = rest[rest.index(word) + len(word) :]
    rest = rest.strip()
    return Parsed(key=key, args=split_words(rest), rest=rest)


def suggestions(text: str, phrases: Mapping[str, Sequence[str]], limit: int = 3) -> list[str]:
    """Known phrases that look like what was typed (its first one or two words)."""
    words = _strip_slash(normalize(text)).split()
    if not words:
        return []
    every = [normalize(name) for names in phrases.values() for name in names]
    by_fold = {fold(name): name for name in every}
    found: list[str] = []
    for size in (2, 1):
        typed = fold(" ".join(words[:size]))
        for match in difflib.get_close_matches(typed, list(by_fold), n=limit, cutoff=0.6):
            if by_fold[match] not in found:
                found.append(by_fold[match])
    return found[:limit]
