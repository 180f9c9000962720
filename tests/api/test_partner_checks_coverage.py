"""Every partner and FHIR route runs the partner checks (`partner_checks`, the routers'
`before_request`). Litestar uses the closest layer's `before_request`, so a controller or route
that set its own would silently drop the guard: that fails here."""

from litestar.routes import HTTPRoute

from app.config import Settings
from app.fhir.api import BASE as FHIR_BASE
from app.main import PARTNER_BASE, create_app
from app.partners.guard import partner_checks

PUBLIC = {f"{FHIR_BASE}/metadata"}  # the CapabilityStatement needs no token


def test_every_partner_and_fhir_route_runs_the_partner_checks():
    app = create_app(Settings(database_url="postgresql://unused/none", secret_key="k" * 40))
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith((PARTNER_BASE, FHIR_BASE)):
            continue
        for handler in route.route_handlers:
            if route.path in PUBLIC or handler.http_methods == {"OPTIONS"}:
                continue
            assert handler.resolve_before_request() is partner_checks, (route.path, handler)
            checked += 1
    assert checked > 60  # the partner API and the FHIR facade, not an empty loop
