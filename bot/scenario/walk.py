"""Walking a loaded scenario: every model inside it with its path in the file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

Loc = tuple[str | int, ...]


def walk(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """Every model inside `value` with its path (field aliases, such as `if`, as written).

    Walks every field, including a postback button's `do` (left out of the message's LINE
    JSON), so what buttons inside other messages send is found too."""
    if isinstance(value, BaseModel):
        yield loc, value
        for name, info in type(value).model_fields.items():
            yield from walk(getattr(value, name), (*loc, info.alias or name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, (*loc, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, (*loc, key))


def dotted(loc: Loc) -> str:
    """A path as people read it: steps.レッスン.steps[0].messages[1]."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
