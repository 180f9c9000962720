"""Test fixtures: a fresh PostgreSQL database per run (dropped afterwards), the app driven
over ASGI inside its own lifespan, everything on one session-scoped event loop."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.config import Settings
from app.core.migrate import migrate
from app.main import create_app
from tests.support import Partner, admin_dsn, make_partner, running, scratch_database

TEST_SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"


@pytest.fixture(scope="session")
async def admin_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return await admin_dsn(tmp_path_factory.mktemp("embedded-pg"))


@pytest.fixture(scope="session")
async def database_url(admin_database_url: str) -> AsyncIterator[str]:
    async with scratch_database(admin_database_url) as dsn:
        await migrate(dsn)
        yield dsn


@pytest.fixture(scope="session")
def outbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="session")
def settings(database_url: str, outbox_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        delivery="file",
        outbox_dir=outbox_dir,
        token_rate_limit_per_minute=10_000,
        db_pool_min=1,
        db_pool_max=20,
        in_process_worker=False,  # tests run the worker explicitly, deterministically
    )


@pytest.fixture(scope="session")
async def app(settings: Settings):
    application = create_app(settings)
    async with running(application):
        yield application


@pytest.fixture(scope="session")
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
def pool(app) -> asyncpg.Pool:
    return app.state.pool


@pytest.fixture
async def partner(client: httpx.AsyncClient, pool: asyncpg.Pool) -> Partner:
    """A fresh account with a client holding every scope, already holding a token."""
    return await make_partner(client, pool)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("TZ", "UTC")
