"""The widget caller's address, as the rate limits decide it (trusted-proxy rules)."""

from __future__ import annotations

import ipaddress

from litestar.connection import ASGIConnection

from app.core.ratelimit_middleware import client_address


def client_ip(connection: ASGIConnection) -> str:
    proxies = connection.app.state.settings.trusted_proxies
    trusted = tuple(ipaddress.ip_network(n, strict=False) for n in proxies)
    forwarded = connection.headers.getall("x-forwarded-for", []) if trusted else []
    client = connection.client
    return client_address(client.host if client else None, forwarded, trusted)
