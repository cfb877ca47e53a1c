"""X-Line-Signature: HMAC-SHA256 of the raw body with the channel secret, base64-encoded."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(channel_secret: str, body: bytes) -> str:
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(channel_secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check, so response timing never reveals how much of a guess was right."""
    if not signature:
        return False
    expected = sign(channel_secret, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))
