"""LIFF answer forms (回答フォーム) in the scenario file. (Being written: see the LIFF work.)"""

from __future__ import annotations

from .schema import _Model


class Form(_Model):
    """A LIFF answer form."""
