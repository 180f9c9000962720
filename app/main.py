"""create_app(): wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components

from app.analytics.api import AnalyticsController
from app.appointments.api import AppointmentController
from app.attempts.api import AttemptController
from app.audit.api import AuditLogController
from app.audit.middleware import audit_middleware
from app.authentication import authentication_middleware
from app.availability.api import get_availability
from app.availability.cache import AnswerCache
from app.config import Settings, load_settings
from app.core import openapi_ui
from app.core.claims import ClaimLocks
from app.core.contract import ContractJsonPlugin, ContractSwaggerPlugin, operation_id
from app.core.db import create_pool
from app.core.errors import EXCEPTION_HANDLERS
from app.core.health import healthz, readyz
from app.core.http import check_request
from app.core.idempotency import idempotency_middleware
from app.core.lobbie import adopt_lobbie_operations, lobbie_statuses_middleware
from app.core.logs import access_log_middleware
from app.core.openapi import (
    PARTNER_PROBLEMS,
    SECURITY_SCHEMES,
    WIDGET_PROBLEMS,
    document_problems,
)
from app.core.openapi_ui import openapi_ui_asset
from app.core.ratelimit_middleware import build_rate_limits, rate_limit_middleware
from app.core.requestid import request_id_middleware
from app.core.security import secure_app
from app.embed.api import ManageController, WidgetController
from app.embed.assets import asset_routes
from app.fhir.api import fhir_routers
from app.fhir.outcome import fhir_outcomes
from app.identity.api import IdentityProofController
from app.notifications.callbacks import sendgrid_events, twilio_status
from app.partners.api import issue_token, issue_token_lobbie_path
from app.partners.guard import answered_ahead_middleware, partner_checks
from app.patients.api import PatientController
from app.practice.api import AppointmentTypeController, LocationController, PractitionerController
from app.reminders.api import ReminderLinksController, ReminderStatsController, twilio_inbound
from app.selfscheduling.api import SchedulerConfigController, SettingController
from app.waitlist.api import (
    EarlierController,
    OfferController,
    WaitlistController,
    WidgetWaitlistController,
)
from app.webhooks.api import WebhookEndpointController

PARTNER_BASE = "/partner/v2/account/{account_id:int}"


def _provide_pool(state: State):
    return state.pool


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        dsn = settings.database_url
        if dsn is None:
            from app.core.embedded import start_embedded

            dsn = start_embedded(settings.data_dir)
        app.state.pool = await create_pool(
            dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            connect_timeout=settings.db_connect_timeout_seconds,
            acquire_timeout=settings.db_acquire_timeout_seconds,
        )
        app.state.claim_locks = ClaimLocks(dsn, settings.db_connect_timeout_seconds)
        background = {}
        if settings.in_process_worker:
            from app.background import loops

            background = loops(app.state.pool, settings)
            for loop in background.values():
                loop.start()
        app.state.notification_worker = background.get("notifications")
        try:
            yield
        finally:
            for loop in background.values():
                await loop.stop()
            await app.state.claim_locks.aclose()
            await app.state.pool.close()
            if app.state.rate_limits is not None:
                await app.state.rate_limits.aclose()

    partner = Router(
        path=PARTNER_BASE,
        before_request=partner_checks,
        security=[{"PartnerOAuth": []}],
        route_handlers=[
            LocationController,
            PractitionerController,
            AppointmentTypeController,
            SettingController,
            SchedulerConfigController,
            IdentityProofController,
            get_availability,
            WebhookEndpointController,
            AttemptController,
            AppointmentController,
            PatientController,
            AnalyticsController,
            ReminderStatsController,
            AuditLogController,
            WaitlistController,
        ],
    )
    document_problems(partner, PARTNER_PROBLEMS)
    adopt_lobbie_operations(partner, PARTNER_BASE)
    widget = document_problems(
        Router(
            path="/",
            route_handlers=[
                WidgetController,
                ManageController,
                ReminderLinksController,
                EarlierController,
                WidgetWaitlistController,
                OfferController,
            ],
        ),
        WIDGET_PROBLEMS,
    )
    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            issue_token,
            issue_token_lobbie_path,
            twilio_status,
            twilio_inbound,
            sendgrid_events,
            partner,
            widget,
            *fhir_routers(),
            *asset_routes(demo=not settings.is_production),
            openapi_ui_asset,
        ],
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "rate_limits": build_rate_limits(settings),
                "availability_cache": (
                    AnswerCache(settings.availability_cache_mb * 2**20)
                    if settings.availability_cache_mb
                    else None
                ),
            }
        ),
        dependencies={"pool": Provide(_provide_pool, sync_to_thread=False)},
        before_request=check_request,
        exception_handlers=EXCEPTION_HANDLERS,
        # order matters: request ids outermost, so rate-limit and idempotency problems carry
        # one; the principal is resolved once, before everything that reads it; rate limits
        # before idempotency, so a refused request claims no key
        middleware=[
            request_id_middleware,
            access_log_middleware,
            authentication_middleware,
            rate_limit_middleware,
            audit_middleware,  # outside idempotency: replays of PHI responses are audited too
            lobbie_statuses_middleware,  # Lobbie's operations answer 400 where we say 422
            idempotency_middleware,
            answered_ahead_middleware,  # innermost: after every check above
        ],
        openapi_config=OpenAPIConfig(
            title="slotproof",
            version="0.1.0",
            description="Patient self-scheduling with identity proofing.",
            path="/schema",
            components=Components(security_schemes=SECURITY_SCHEMES),
            # Swagger UI from the app itself (offline), serving the finished document
            render_plugins=[openapi_ui.render_plugin(ContractSwaggerPlugin), ContractJsonPlugin()],
            operation_id_creator=operation_id,
        ),
        logging_config=None,
        debug=False,
    )
    # security headers + CORS around everything, unknown routes and errors included
    # FHIR paths answer errors as OperationOutcomes; headers are added around both
    return secure_app(fhir_outcomes(app, settings.public_url), settings)


def create_served_app() -> Litestar:
    """Factory for `slotproof serve` (each server process configures its own logging)."""
    from app.core.logs import configure_logging

    configure_logging()
    return create_app()
