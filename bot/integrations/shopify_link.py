"""Link codes: how a shop customer proves, in LINE, which shop account is theirs.

The shop's theme shows a logged-in customer a code it computes itself with Liquid, so no app
code runs in the shop:

    {{ customer.id | hmac_sha256: "<SHOPIFY_LINK_SECRET>" }}     → 64 hex characters

The code a friend sends is `連携 <customer id>-<first 10 of those hex characters>`, e.g.
`連携 7012345678901-3fa9c01b2e`. Also accepted: the code alone, `連携コード` as the word, a
colon or spaces after it, full-width digits, letters and dashes (NFKC), and the dashes a
Japanese keyboard makes (ー, −, ‐). Nothing else is taken for a code: a message is either a
customer number, one dash and ten hex characters, or 連携 followed by a number and nothing
but letters, digits, spaces and dashes (then answered as a malformed code).

The LIFF link carries the same HMAC as `sig` (the whole 64 characters, or at least the first
10), e.g. `/liff/shop/link?customer=7012345678901&sig=3fa9c01b2e…`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

CODE_HEX = 10
#: '-' and the dashes a Japanese keyboard makes instead (after NFKC, which leaves them).
_DASH = "[-‐‑‒–—―−ーｰ﹣]"
_CODE = re.compile(rf"^(?:連携(?:コード)?[\s:]*)?(\d{{1,20}})\s*{_DASH}\s*([0-9a-f]{{10}})$")
_LOOKS = re.compile(rf"^連携(?:コード)?[\s:]*\d(?:[0-9a-z\s]|{_DASH})*$")
_SIG = re.compile(r"^[0-9a-f]{10,64}$")


def normalise(text: str) -> str:
    """NFKC (full-width → ASCII), trimmed, lower case."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def looks_like_code(text: str) -> bool:
    """Meant as a link code (well formed or not): the code alone, or 連携 and a number."""
    if len(text) > 200:
        return False
    plain = normalise(text)
    return bool(_CODE.match(plain) or _LOOKS.match(plain))


@dataclass(frozen=True)
class CodeParts:
    customer_id: str
    signature: str


def split_code(text: str) -> CodeParts | None:
    """The customer number and signature of a well-formed code; None otherwise."""
    match = _CODE.match(normalise(text))
    if match is None:
        return None
    return CodeParts(str(int(match.group(1))), match.group(2))


class LinkCodes:
    """Signs and checks customer codes with `SHOPIFY_LINK_SECRET`."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def signature(self, customer_id: str) -> str:
        """What Liquid's `hmac_sha256` gives for the customer id (64 hex characters)."""
        return hmac.new(self._secret, customer_id.encode(), hashlib.sha256).hexdigest()

    def code(self, customer_id: str) -> str:
        """The code the shop shows, e.g. `7012345678901-3fa9c01b2e`."""
        return f"{customer_id}-{self.signature(customer_id)[:CODE_HEX]}"

    def valid(self, customer_id: str, signature: str) -> bool:
        """Whether `signature` is the customer's HMAC, whole or its first 10+ characters."""
        signature = signature.strip().lower()
        if not customer_id.isdigit() or len(customer_id) > 20 or not _SIG.match(signature):
            return False
        expected = self.signature(str(int(customer_id)))[: len(signature)]
        return hmac.compare_digest(signature, expected)
