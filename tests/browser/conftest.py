"""What every browser test shares: Debian's Chromium driven by Playwright, and phone-sized
pages that may only talk to the server under test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Request, Route, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
#: Bot replies go through the webhook, the inbox and the reply API: allow some time.
TIMEOUT_MS = 15_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (scripts/system-deps.sh), or install "
            "Debian's chromium package yourself"
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class PhonePage:
    page: Page
    requests: list[str] = field(default_factory=list)
    """Every URL the page asked for (including the ones blocked)."""
    errors: list[str] = field(default_factory=list)
    """Uncaught script errors."""


@contextlib.asynccontextmanager
async def phone_page(browser: Browser, origin: str) -> AsyncIterator[PhonePage]:
    """A phone-sized Japanese page; requests leaving `origin` are recorded and blocked, so a
    page that needs the internet fails here as it would offline."""
    origin = origin.rstrip("/")
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="ja-JP", timezone_id="Asia/Tokyo"
    )

    async def only_local(route: Route, request: Request) -> None:
        if request.url.startswith(origin + "/") or request.url.startswith("data:"):
            await route.continue_()
        else:
            await route.abort()

    await context.route("**/*", only_local)
    phone = PhonePage(await context.new_page())
    phone.page.on("request", lambda request: phone.requests.append(request.url))
    phone.page.on("pageerror", lambda error: phone.errors.append(str(error)))
    phone.page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        yield phone
    finally:
        await context.close()
