"""The LIFF side of the stand-in: ID tokens for virtual friends, verified the way LINE does.

In LINE a LIFF page gets an ID token from the LIFF SDK and the bot's server checks it with
LINE Login's verify endpoint. Here the simulator asks `POST /sandbox/api/liff/token` for a
token of a virtual friend and opens the page with it; the bot then verifies it at
`{api_prefix}/oauth2/v2.1/verify`, which answers like LINE: the claims, or 400 with
`{"error": "invalid_request", "error_description": ...}` in LINE's wording.

Tokens are JWTs signed with HS256 and a random key made per process, so nothing but this
process can issue one; times come from `bot.clock`, so the test clock expires them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from aiohttp import web

from bot import clock
from bot.config import ID_TOKEN_VERIFY_PATH
from bot.sandbox.state import SandboxState

ISSUER = "https://access.line.me"
TOKEN_LIFETIME_S = 3600
MAX_TOKEN_CHARS = 4096
_CHANNEL_ID = re.compile(r"^[0-9]{1,20}$")
_HEADER = {"typ": "JWT", "alg": "HS256"}

# LINE's `error_description` wording for refused tokens.
INVALID = "Invalid IdToken."
INVALID_ISSUER = "Invalid IdToken Issuer."
EXPIRED = "IdToken expired."
INVALID_AUDIENCE = "Invalid IdToken Audience."
INVALID_NONCE = "Invalid IdToken Nonce."
INVALID_SUBJECT = "Invalid IdToken Subject Identifier."


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Refused(Exception):
    """Why a token is not accepted, in LINE's words."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class IdTokenIssuer:
    """Signs and checks the sandbox's ID tokens."""

    def __init__(self, channel_id: str, key: bytes | None = None) -> None:
        self.channel_id = channel_id
        self._key = key or secrets.token_bytes(32)

    def _sign(self, signing_input: str) -> str:
        digest = hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return _b64encode(digest)

    def issue(
        self,
        user_id: str,
        *,
        name: str | None = None,
        picture: str | None = None,
        channel_id: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """A token for `user_id`, for this channel unless another `channel_id` is named."""
        issued = int(clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": user_id,
            "aud": channel_id or self.channel_id,
            "exp": issued + TOKEN_LIFETIME_S,
            "iat": issued,
            "amr": ["linesso"],
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if name is not None:
            claims["name"] = name
        if picture:
            claims["picture"] = picture
        head = _b64encode(json.dumps(_HEADER, separators=(",", ":")).encode())
        body = _b64encode(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode())
        return f"{head}.{body}.{self._sign(f'{head}.{body}')}"

    def verify(
        self,
        token: str,
        client_id: str,
        *,
        nonce: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """The token's claims, or `Refused` with LINE's description of what is wrong."""
        parts = token.split(".")
        if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or not token.isascii():
            raise Refused(INVALID)
        head, body, signature = parts
        # Compare the encoded signature itself: decoding would ignore altered padding bits.
        if not hmac.compare_digest(self._sign(f"{head}.{body}"), signature):
            raise Refused(INVALID)
        try:
            header = json.loads(_b64decode(head))
            claims = json.loads(_b64decode(body))
        except (ValueError, binascii.Error):
            raise Refused(INVALID) from None
        if header != _HEADER or not isinstance(claims, dict):
            raise Refused(INVALID)
        if claims.get("iss") != ISSUER:
            raise Refused(INVALID_ISSUER)
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= clock.now().timestamp():
            raise Refused(EXPIRED)
        if claims.get("aud") != client_id:
            raise Refused(INVALID_AUDIENCE)
        if nonce is not None and claims.get("nonce") != nonce:
            raise Refused(INVALID_NONCE)
        if user_id is not None and claims.get("sub") != user_id:
            raise Refused(INVALID_SUBJECT)
        return claims


def _invalid_request(description: str) -> web.Response:
    return web.json_response(
        {"error": "invalid_request", "error_description": description}, status=400
    )


def _not_found(message: str) -> web.Response:
    return web.json_response({"message": message}, status=404)


class LiffHandlers:
    """The token endpoint the simulator uses and LINE Login's verify endpoint."""

    def __init__(self, state: SandboxState, issuer: IdTokenIssuer) -> None:
        self.state = state
        self.issuer = issuer

    async def token(self, request: web.Request) -> web.Response:
        """`{"userId"}` (optionally `channelId`, `nonce`) → `{"idToken", "expiresIn"}`.

        Another `channelId` makes a token of another LIFF app, which this bot must refuse.
        """
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"message": "JSON の本文が必要です"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("userId"), str):
            return web.json_response({"message": "userId を指定してください"}, status=400)
        channel_id = body.get("channelId")
        if channel_id is not None and not (
            isinstance(channel_id, str) and _CHANNEL_ID.match(channel_id)
        ):
            return web.json_response({"message": "channelId は数字の文字列です"}, status=400)
        nonce = body.get("nonce")
        if nonce is not None and not (isinstance(nonce, str) and 0 < len(nonce) <= 255):
            return web.json_response({"message": "nonce は1〜255文字の文字列です"}, status=400)
        friend = self.state.friends.get(body["userId"])
        if friend is None:
            return _not_found("その友だちは見つかりません")
        token = self.issuer.issue(
            friend.user_id,
            name=friend.display_name,
            picture=friend.picture_url,
            channel_id=channel_id,
            nonce=nonce,
        )
        return web.json_response({"idToken": token, "expiresIn": TOKEN_LIFETIME_S})

    async def verify(self, request: web.Request) -> web.Response:
        """LINE Login's `POST /oauth2/v2.1/verify`: form-encoded `id_token` and `client_id`,
        optionally `nonce` and `user_id`."""
        form = await request.post()
        values = {
            key: value
            for key in ("id_token", "client_id", "nonce", "user_id")
            if isinstance(value := form.get(key), str) and value
        }
        if "id_token" not in values:
            return _invalid_request("id_token is required.")
        if "client_id" not in values:
            return _invalid_request("client_id is required.")
        try:
            claims = self.issuer.verify(
                values["id_token"],
                values["client_id"],
                nonce=values.get("nonce"),
                user_id=values.get("user_id"),
            )
        except Refused as refused:
            return _invalid_request(refused.description)
        return web.json_response(claims)

    def routes(self, api_prefix: str) -> list[web.RouteDef]:
        return [
            web.post("/sandbox/api/liff/token", self.token),
            web.post(api_prefix + ID_TOKEN_VERIFY_PATH, self.verify),
        ]
