"""Request and response bodies for webhook endpoints and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from app.core.schema import NO_NUL, Schema

EventName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_NUL)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=NO_NUL)]


class WebhookEndpointIn(Schema):
    url: Url
    events: Annotated[list[EventName], msgspec.Meta(max_length=50)]


class WebhookEndpoint(Schema):
    id: int
    url: str
    events: list[str]
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpoint):
    """The create response: the only time `secret` is shown."""

    secret: str


class WebhookEndpointPage(Schema):
    webhook_endpoints: list[WebhookEndpoint]
    next_cursor: str | None


class WebhookDelivery(Schema):
    id: int
    event_id: int
    event_type: str
    status: Literal["PENDING", "DELIVERED", "FAILED"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None


class WebhookDeliveryPage(Schema):
    deliveries: list[WebhookDelivery]
    next_cursor: str | None
