"""Rich menus (リッチメニュー) in the scenario file. (Being written: see the rich-menu work.)"""

from __future__ import annotations

from .schema import _Model


class RichMenu(_Model):
    """A rich menu."""
