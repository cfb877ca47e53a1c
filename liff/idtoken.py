"""Who is on a LIFF page: the ID token from the LIFF SDK, checked by LINE Login.

The page sends the token it got from `liff.getIDToken()`; LINE's verify endpoint checks the
signature, expiry and audience (our LINE Login channel) and answers the claims. Only its
`sub` says who the friend is: a user id or profile the browser sends is never believed.
Nothing is cached, so a refused token is asked about again (and refused again) each time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import aiohttp

from bot.line.client import proxy_for

log = logging.getLogger(__name__)

ISSUER = "https://access.line.me"
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
#: LINE's ID tokens are a few hundred characters; anything far longer is not one.
MAX_TOKEN_CHARS = 4096
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Verified:
    """A token LINE accepted: the friend's LINE user id (the `sub` claim)."""

    user_id: str
    name: str | None = None


@dataclass(frozen=True)
class Rejected:
    """A token LINE refused (or that is not a token at all); `expired` tells the page to
    have the friend open it again."""

    reason: str
    expired: bool = False


class VerifierUnavailable(Exception):
    """LINE could not be asked (network, timeout, 5xx): the token may well be fine."""


class IdTokenVerifier:
    """Asks LINE Login's verify endpoint about ID tokens, with one HTTP session for the app."""

    def __init__(
        self, verify_url: str, channel_id: str, *, timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.verify_url = verify_url
        self.channel_id = channel_id
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None

    async def start(self) -> None:
        self._proxy = proxy_for(self.verify_url)
        self._session = aiohttp.ClientSession(timeout=self._timeout, trust_env=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def verify(self, token: str) -> Verified | Rejected:
        """Who the token belongs to, or why it is refused; VerifierUnavailable if LINE
        could not answer."""
        if not token or len(token) > MAX_TOKEN_CHARS or not _TOKEN_SHAPE.match(token):
            return Rejected("not an ID token")
        if self._session is None:
            raise RuntimeError("IdTokenVerifier.start() was not called")
        form = {"id_token": token, "client_id": self.channel_id}
        try:
            async with self._session.post(self.verify_url, data=form, proxy=self._proxy) as resp:
                status = resp.status
                body = await resp.json(content_type=None) if status < 500 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise VerifierUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if status >= 500 or status == 429:
            raise VerifierUnavailable(f"LINE answered {status}")
        if status != 200:
            description = body.get("error_description") if isinstance(body, dict) else None
            reason = str(description or f"LINE answered {status}")
            return Rejected(reason, expired=reason == "IdToken expired.")
        return self._check_claims(body)

    def _check_claims(self, claims: object) -> Verified | Rejected:
        """LINE checked these already; checking again guards against a misconfigured URL."""
        if not isinstance(claims, dict):
            return Rejected("the verify endpoint answered no claims")
        if claims.get("iss") != ISSUER:
            return Rejected("Invalid IdToken Issuer.")
        if str(claims.get("aud")) != self.channel_id:
            return Rejected("Invalid IdToken Audience.")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not USER_ID.match(sub):
            return Rejected("the token names no LINE user")
        name = claims.get("name")
        return Verified(sub, name if isinstance(name, str) else None)
