"""Settings from environment variables: the one place that reads them (documented in README)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

LINE_API_DEFAULT = "https://api.line.me"
LINE_API_DATA_DEFAULT = "https://api-data.line.me"
SANDBOX_CHANNEL_SECRET = "stepbot-sandbox-channel-secret"
SANDBOX_API_PREFIX = "/sandbox/line"
#: The LIFF app id pages use in sandbox mode (a LIFF id is the LINE Login channel id, a dash
#: and eight characters); the sandbox issues ID tokens for its channel.
SANDBOX_LIFF_ID = "1000000000-sandbox0"
#: Where LINE Login verifies ID tokens, below the API host.
ID_TOKEN_VERIFY_PATH = "/oauth2/v2.1/verify"
DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "examples" / "welcome.yaml"


MIN_ADMIN_CODE = 8
#: Integration secrets the sandbox uses when none is set, so its test events verify.
SANDBOX_STRIPE_SECRET = "whsec_stepbotsandbox"
SANDBOX_SHOPIFY_SECRET = "stepbot-sandbox-shopify-secret"
SANDBOX_HOOK_SECRET = "stepbot-sandbox-hook-secret"


class ConfigError(ValueError):
    """A setting has a value stepbot cannot use; the message names the variable."""


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _data_url(env: Mapping[str, str]) -> str:
    """api-data host; a stand-in given only LINE_API_BASE_URL serves both."""
    explicit = (env.get("LINE_API_DATA_BASE_URL") or "").strip()
    if explicit:
        return explicit.rstrip("/")
    base = (env.get("LINE_API_BASE_URL") or "").strip()
    return base.rstrip("/") if base else LINE_API_DATA_DEFAULT


_LIFF_ID = re.compile(r"^([0-9]+)-[A-Za-z0-9]+$")


def _liff(env: Mapping[str, str], sandbox: bool) -> tuple[str | None, str | None]:
    """LIFF_ID and the LINE Login channel id that ID tokens are issued for (its `aud`).

    The channel id defaults to the LIFF id's first part, which is that channel's id.
    """
    liff_id = (env.get("LIFF_ID") or "").strip() or (SANDBOX_LIFF_ID if sandbox else None)
    match = _LIFF_ID.match(liff_id) if liff_id else None
    if liff_id and match is None:
        raise ConfigError(f"LIFF_ID must look like 1657000000-AbCdEfGh, got {liff_id!r}")
    channel = (env.get("LINE_LOGIN_CHANNEL_ID") or "").strip() or (
        match.group(1) if match else None
    )
    if channel is not None and not channel.isdigit():
        raise ConfigError(f"LINE_LOGIN_CHANNEL_ID must be a number, got {channel!r}")
    return liff_id, channel


def _rate_limits(value: str | None) -> str | None:
    from bot.line.ratelimit import parse_limits

    try:
        parse_limits(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return value


@dataclass(frozen=True)
class Settings:
    """Everything stepbot needs to know about its deployment."""

    channel_secret: str
    channel_access_token: str | None
    line_api_base_url: str
    line_api_data_base_url: str
    database_url: str
    scenario_path: Path
    host: str
    port: int
    test_clock: bool
    log_format: str
    public_url: str | None = None
    line_rate_limits: str | None = None
    liff_id: str | None = None
    line_login_channel_id: str | None = None
    admin_code: str | None = None
    """`STEPBOT_ADMIN_CODE`: sent to the bot, it makes the sender the first owner."""
    stripe_webhook_secret: str | None = None
    """`STRIPE_WEBHOOK_SECRET` (whsec_…): Stripe events are refused without it."""
    shopify_webhook_secret: str | None = None
    """`SHOPIFY_WEBHOOK_SECRET`: the app's client secret that signs Shopify webhooks."""
    shopify_link_secret: str | None = None
    """`SHOPIFY_LINK_SECRET`: signs the customer codes that link a shop customer to a friend."""
    friend_add_url: str | None = None
    """`LINE_FRIEND_URL`: the account's friend-add URL (https://lin.ee/… or
    https://line.me/R/ti/p/@…), where inflow routes send visitors."""
    env_secrets: tuple[tuple[str, str], ...] = ()
    """Environment variables whose names contain SECRET, for per-source webhook secrets
    named in the scenario (read once, like every setting)."""

    def secret(self, name: str) -> str | None:
        """A secret from the environment by name, or the sandbox's own in sandbox mode."""
        value = dict(self.env_secrets).get(name)
        if value:
            return value
        return SANDBOX_HOOK_SECRET if self.sandbox else None

    @property
    def sandbox(self) -> bool:
        """Sandbox mode: no access token, so the built-in LINE stand-in answers instead."""
        return not self.channel_access_token

    @property
    def base_url(self) -> str:
        """Where this server can be reached (for links it prints or hands out)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{host}:{self.port}"

    def line_api_urls(self) -> tuple[str, str]:
        """The Messaging API hosts the bot talks to (the in-process sandbox in sandbox mode)."""
        if self.sandbox:
            url = self.base_url + SANDBOX_API_PREFIX
            return url, url
        return self.line_api_base_url, self.line_api_data_base_url

    @property
    def id_token_verify_url(self) -> str:
        """LINE Login's ID-token verification endpoint (the sandbox's in sandbox mode)."""
        return self.line_api_urls()[0] + ID_TOKEN_VERIFY_PATH

    def with_port(self, port: int) -> Settings:
        return replace(self, port=port)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        token = (env.get("LINE_CHANNEL_ACCESS_TOKEN") or "").strip() or None
        secret = (env.get("LINE_CHANNEL_SECRET") or "").strip()
        if not secret:
            if token:
                raise ConfigError(
                    "LINE_CHANNEL_SECRET is required when LINE_CHANNEL_ACCESS_TOKEN is set"
                )
            secret = SANDBOX_CHANNEL_SECRET
        log_format = (env.get("LOG_FORMAT") or "text").strip().lower()
        if log_format not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be 'text' or 'json', got {log_format!r}")
        liff_id, login_channel = _liff(env, sandbox=not token)
        admin_code = (env.get("STEPBOT_ADMIN_CODE") or "").strip() or None
        if admin_code is not None and len(admin_code) < MIN_ADMIN_CODE:
            raise ConfigError(
                f"STEPBOT_ADMIN_CODE must be at least {MIN_ADMIN_CODE} characters "
                "(it makes an owner)"
            )
        sandbox = not token

        def env_secret(name: str, sandbox_value: str) -> str | None:
            value = (env.get(name) or "").strip()
            return value or (sandbox_value if sandbox else None)

        friend_url = (env.get("LINE_FRIEND_URL") or "").strip() or None
        if friend_url is not None and not friend_url.startswith("https://"):
            raise ConfigError(f"LINE_FRIEND_URL must be an https:// URL, got {friend_url!r}")
        port = _int(env, "PORT", 8080)
        if not 0 <= port <= 65535:
            raise ConfigError(f"PORT must be between 0 and 65535, got {port}")
        return cls(
            channel_secret=secret,
            channel_access_token=token,
            line_api_base_url=(env.get("LINE_API_BASE_URL") or LINE_API_DEFAULT).rstrip("/"),
            line_api_data_base_url=_data_url(env),
            database_url=(env.get("DATABASE_URL") or "sqlite://stepbot.db").strip(),
            scenario_path=Path(env.get("STEPBOT_SCENARIO") or DEFAULT_SCENARIO),
            host=(env.get("HOST") or "127.0.0.1").strip(),
            port=port,
            test_clock=_flag(env.get("STEPBOT_TEST_CLOCK")),
            log_format=log_format,
            public_url=(env.get("STEPBOT_PUBLIC_URL") or "").strip() or None,
            line_rate_limits=_rate_limits(env.get("LINE_RATE_LIMITS")),
            liff_id=liff_id,
            line_login_channel_id=login_channel,
            admin_code=admin_code,
            stripe_webhook_secret=env_secret("STRIPE_WEBHOOK_SECRET", SANDBOX_STRIPE_SECRET),
            shopify_webhook_secret=env_secret("SHOPIFY_WEBHOOK_SECRET", SANDBOX_SHOPIFY_SECRET),
            shopify_link_secret=env_secret("SHOPIFY_LINK_SECRET", SANDBOX_SHOPIFY_SECRET),
            friend_add_url=friend_url,
            env_secrets=tuple(
                sorted((k, v.strip()) for k, v in env.items() if "SECRET" in k and v.strip())
            ),
        )
