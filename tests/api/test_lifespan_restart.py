"""An app whose lifespan ends and starts again (a test harness, an embedding server) works on
its new pool: nothing made during the first lifespan keeps the first, closed pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from app.config import Settings
from app.main import create_app
from tests.builders import availability, build_practice
from tests.support import make_partner, running


async def test_a_restarted_app_serves_partner_calls_and_availability(settings: Settings) -> None:
    app = create_app(settings)
    start = datetime.now(UTC) + timedelta(days=2)
    for _ in range(2):
        async with running(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                partner = await make_partner(c, app.state.pool)
                practice = await build_practice(partner)
                first = await availability(practice, start, start + timedelta(days=7))
                again = await availability(practice, start, start + timedelta(days=7))
        assert first.status_code == 200, first.text
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
