"""Which rich menu each friend sees: ordered rules over tags, fields and points.

The first rule whose `if` the friend matches names their menu; a rule without `if` matches
everyone and belongs last (it becomes the account's default menu).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .schema import _Model
from .segment import Condition


class MenuRule(_Model):
    """Show `menu` to friends who match `if` (or to everyone, without `if`)."""

    if_: Condition | None = Field(default=None, alias="if")
    """A segment condition (tags, fields, points…); omitted on the last, default rule."""
    menu: Annotated[str, Field(min_length=1, max_length=100)]
    """A rich menu declared under `rich_menus`."""
