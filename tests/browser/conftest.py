"""What every browser test shares: Debian's Chromium driven by Playwright, and phone-sized
pages that may only talk to the server under test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Browser, Page, Request, Route, async_playwright, expect

if TYPE_CHECKING:
    from bot.services import Services
    from tests.dsl import SandboxDriver

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


@dataclass
class ScenarioTab:
    """A phone page on the server of the test module's scenario (`scenario_app`)."""

    page: Page
    sandbox: SandboxDriver
    services: Services
    requests: list[str]
    errors: list[str]

    async def open(self, path: str, token: str | None) -> None:
        """Open a page of the server as the simulator opens LIFF pages: signed in with a
        sandbox ID token in the fragment (or without one)."""
        fragment = f"#sandbox_id_token={token}" if token else ""
        await self.page.goto(f"{self.sandbox.base_url}{quote(path, safe='/?=&')}{fragment}")

    def only_local(self) -> None:
        """Every request the page made stayed on the server under test."""
        origin = urlsplit(self.sandbox.base_url)
        for url in self.requests:
            parts = urlsplit(url)
            assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), url


@pytest.fixture
async def scenario_tab(
    scenario_app: tuple[SandboxDriver, Services], browser: Browser
) -> AsyncIterator[ScenarioTab]:
    """A phone-sized page on the module scenario's server; requests leaving it are recorded
    and blocked."""
    sandbox, services = scenario_app
    async with phone_page(browser, sandbox.base_url) as phone:
        yield ScenarioTab(phone.page, sandbox, services, phone.requests, phone.errors)
