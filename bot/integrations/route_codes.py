"""Visit codes of inflow routes: the random code each opening of `/r/NAME` gets.

The code travels with the visitor (in the LIFF URL, or on the landing page as something to
send in chat), so it must be unguessable and easy to copy by hand: eight characters from an
alphabet without 0/O and 1/I, shown as `K7M2-Q9XP`. About 10^12 codes, and a code only
counts within days of its visit, so guessing one that is waiting is hopeless.

Every code mixes letters and digits, and only such text is taken for a code in chat: a
hyphenated word (`cafe-menu`, `data-type`) or a number (`2345-6789`) a friend sends stays an
ordinary message for the keyword replies.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 8
_CODE = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")
_DASHES = "\\-‐‑‒–—―ー−"
#: What a friend sends: `K7M2-Q9XP`, or the eight characters after a word such as コード.
_TEXT = re.compile(
    rf"^(?P<prefix>(?:経路)?コード|CODE)?\s*[:]?\s*"
    rf"(?P<a>[{ALPHABET}]{{4}})(?P<sep>[{_DASHES}]|\s)?(?P<b>[{ALPHABET}]{{4}})$"
)


def _mixed(code: str) -> bool:
    return any(c.isdigit() for c in code) and any(c.isalpha() for c in code)


def new_code() -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if _mixed(code):
            return code


def shown(code: str) -> str:
    """How people see a code: two groups of four."""
    return f"{code[:4]}-{code[4:]}"


def valid(code: object) -> bool:
    """A code as it travels in URLs (`?v=K7M2Q9XP`)."""
    return isinstance(code, str) and _CODE.match(code) is not None and _mixed(code)


def code_in(text: str) -> str | None:
    """The visit code a chat message consists of, or None.

    Full-width letters, lower case, another dash are all fine; a bare eight-letter word is
    not a code (it could be anything), so without a dash a prefix such as コード is needed.
    """
    if len(text) > 40:
        return None
    folded = unicodedata.normalize("NFKC", text).strip().upper()
    match = _TEXT.match(folded)
    if match is None or (match.group("prefix") is None and match.group("sep") is None):
        return None
    code = match.group("a") + match.group("b")
    return code if _mixed(code) else None
