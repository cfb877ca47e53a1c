"""Fixtures: a real database (SQLite file, or PostgreSQL when DATABASE_URL says so), a real
stepbot server on a free port with its sandbox, and a driver for virtual friends."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot import clock
from bot.app import create_app
from bot.appkeys import SERVICES
from bot.config import Settings
from bot.services import Services
from tests.dsl import SandboxDriver

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ["no_proxy"] = os.environ["NO_PROXY"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SCENARIO = ROOT / "examples" / "welcome.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_base() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for one test: migrations create its tables."""
    base = _postgres_base()
    if base is None:
        yield f"sqlite://{tmp_path / 'stepbot-test.db'}"
        return
    import asyncpg

    parts = urlsplit(base)
    name = f"stepbot_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql", path="/postgres")))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(parts._replace(path=f"/{name}"))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def make_settings(database_url: str, **env: str) -> Settings:
    values = {
        "DATABASE_URL": database_url,
        "PORT": str(free_port()),
        "STEPBOT_TEST_CLOCK": "1",
        "STEPBOT_SCENARIO": str(EXAMPLE_SCENARIO),
    }
    values.update(env)
    return Settings.from_env(values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    clock.clock.reset()
    yield None
    clock.clock.reset()


async def start_server(settings: Settings) -> TestServer:
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    return server


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[TestServer]:
    srv = await start_server(settings)
    yield srv
    await srv.close()


@pytest.fixture
async def services(server: TestServer) -> Services:
    """The running server's services (outbox, LINE client, scenario)."""
    return server.app[SERVICES]


@pytest.fixture
async def base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def live_server(base_url: str) -> str:
    """Base URL of a running stepbot in sandbox mode with the bundled example scenario."""
    return base_url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sandbox(base_url: str, http: aiohttp.ClientSession) -> SandboxDriver:
    return SandboxDriver(base_url, http)


@pytest.fixture
async def scenario_app(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    http: aiohttp.ClientSession,
) -> AsyncIterator[tuple[SandboxDriver, Services]]:
    """A server running the test module's scenario: SCENARIO names an example file,
    or SCENARIO_TEXT holds the YAML itself; a test may pass its own YAML instead
    (`@pytest.mark.parametrize("scenario_app", [YAML], indirect=True)`). SERVER_ENV adds
    settings (e.g. STEPBOT_ADMIN_CODE)."""
    text = getattr(request, "param", None) or getattr(request.module, "SCENARIO_TEXT", None)
    if text is not None:
        scenario = tmp_path / "scenario.yaml"
        scenario.write_text(text, encoding="utf-8")
    else:
        scenario = ROOT / "examples" / request.module.SCENARIO
    env = getattr(request.module, "SERVER_ENV", {})
    srv = await start_server(make_settings(database_url, STEPBOT_SCENARIO=str(scenario), **env))
    try:
        yield SandboxDriver(str(srv.make_url("")), http), srv.app[SERVICES]
    finally:
        await srv.close()


@pytest.fixture
async def live_line_server(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> AsyncIterator[SandboxDriver]:
    """A server of the module's SCENARIO_TEXT set up for LINE itself (an access token), so no
    sandbox secret stands in for an integration secret that is not set."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(request.module.SCENARIO_TEXT, encoding="utf-8")
    settings = make_settings(
        database_url,
        STEPBOT_SCENARIO=str(scenario),
        LINE_CHANNEL_ACCESS_TOKEN="token",
        LINE_CHANNEL_SECRET="secret",
        LINE_API_BASE_URL="http://127.0.0.1:9",
    )
    server = await start_server(settings)
    try:
        yield SandboxDriver(str(server.make_url("")), http)
    finally:
        await server.close()
