"""Rendering the LIFF pages: jinja2 templates, asset URLs, and the headers every page gets.

In sandbox mode a page takes its ID token from the URL fragment the simulator adds and may
load nothing from outside this server (its Content-Security-Policy says so, and tests run
offline). In LINE mode it loads LINE's LIFF SDK, the one outside script allowed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
STATIC_PATH = "/liff/static"
LIFF_SDK_ORIGIN = "https://static.line-scdn.net"
LIFF_SDK_URL = f"{LIFF_SDK_ORIGIN}/liff/edge/2/sdk.js"

_SANDBOX_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)
_LINE_POLICY = (
    f"script-src 'self' {LIFF_SDK_ORIGIN}; style-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)


class Pages:
    """Templates with what every page needs: mode, LIFF id, versioned asset URLs."""

    def __init__(self, *, sandbox: bool, liff_id: str | None) -> None:
        self.sandbox = sandbox
        self.liff_id = liff_id
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(("html",)),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # A content hash in asset URLs: a LIFF browser that cached an old script gets the new.
        self.versions = {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            for path in STATIC_DIR.iterdir()
            if path.is_file()
        }

    def static(self, name: str) -> str:
        return f"{STATIC_PATH}/{name}?v={self.versions.get(name, '0')}"

    def render(self, template: str, *, status: int = 200, **context: Any) -> web.Response:
        html = self.env.get_template(template).render(
            mode="sandbox" if self.sandbox else "line",
            liff_id=self.liff_id or "",
            sdk_url=None if self.sandbox else LIFF_SDK_URL,
            static=self.static,
            **context,
        )
        return web.Response(
            text=html,
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": _SANDBOX_POLICY if self.sandbox else _LINE_POLICY,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )
