"""Friend references handed to other services (Stripe's `client_reference_id`, a Shopify cart
attribute) that come back in their webhooks.

A reference is the friend's number and a short HMAC, e.g. `sb-2s-Zk3v9QxL0a`: the service
hands it back unchanged, and nobody can make one naming another friend. Letters, digits and
'-' only, which every such field accepts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from bot.automation.links import base36

PREFIX = "sb-"
_SIGNATURE_BYTES = 9


class FriendRefs:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"stepbot friend references", hashlib.sha256).digest()

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        encoded = base64.urlsafe_b64encode(digest[:_SIGNATURE_BYTES]).decode()
        return encoded.replace("-", "0").replace("_", "1")

    def make(self, friend_id: int) -> str:
        payload = base36(friend_id)
        return f"{PREFIX}{payload}-{self._signature(payload)}"

    def parse(self, ref: str | None) -> int | None:
        """The friend a reference names, or None for anything we did not make."""
        if not ref or not ref.startswith(PREFIX):
            return None
        payload, _, signature = ref[len(PREFIX) :].partition("-")
        if not payload or not hmac.compare_digest(signature, self._signature(payload)):
            return None
        try:
            return int(payload, 36)
        except ValueError:
            return None
