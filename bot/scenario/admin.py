"""The `admin:` section: how in-chat admin mode behaves for this account."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .crm import Duration
from .schema import _Model

#: Postback data of admin-mode buttons starts with this; scenario buttons cannot use it.
ADMIN_POSTBACK_PREFIX = "adm:"


class AdminSettings(_Model):
    """In-chat admin mode (管理者モード): the admins' rich menu and safety limits."""

    rich_menu: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """A menu from `rich_menus` that every admin sees instead of the friends' menu. Its
    areas usually send commands such as `/admin`, `/統計` or `/配信`."""
    confirm_above: Annotated[int, Field(ge=0)] = 20
    """A tag change that touches more friends than this asks for confirmation first
    (broadcasts always do)."""
    invite_expires: Duration = "24h"
    """How long an invitation code stays usable."""
    export_expires: Duration = "1h"
    """How long a CSV download link works."""
    progress_every: Duration = "5s"
    """How often an admin watching a broadcast from chat gets a progress message."""
