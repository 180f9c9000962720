"""Layered rate limits, as pure ASGI middleware (after the request id, before idempotency).

Every request (but the health probes) counts against the buckets that apply to it, all checked
at once (see `app.core.ratelimit`):

* its client IP (IPv6 grouped by /64), for every path;
* `POST /oauth2/token`: its client IP again, against the stricter token limit;
* `/widget/v1/*` with an `X-Widget-Key` that looks like one (`pk_...`): that key;
* `/partner/*` and `/fhir/*` with a bearer token that verifies: the partner client id in it (a
  token that does not verify counts under the IP alone; the guard answers 401 as usual).

Per-contact limits on codes sent and tried live in app/identity (database-backed).

The client IP is the TCP peer. Only when the peer is one of `trusted_proxies` is
`X-Forwarded-For` read, right to left, skipping trusted proxies: the first address that is not
a trusted proxy is the client (anything left of it was written by the client and is ignored).

Over a limit: 429 problem+json `rate_limited` with `Retry-After`, `retryAfterSeconds` and
`RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` (IETF draft, delta seconds);
other responses carry the RateLimit-* headers of the bucket with the fewest hits left.
When the counting backend is unavailable (Redis down) the request is served unlimited.

Bucket keys are keyed hashes: no IP address or credential reaches Redis.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from http import HTTPStatus

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.core.errors import PROBLEM_JSON
from app.core.ratelimit import Backend, Decision, MemoryBackend, RedisBackend, Rule, whole_seconds
from app.core.requestid import HEADER as REQUEST_ID_HEADER
from app.core.requestid import accept_or_generate, current_request_id
from app.core.secrets import keyed_hash
from app.partners import tokens

WINDOW = 60.0  # every configured limit is per minute
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})  # probes must never see a 429
# cacheable widget assets: patients behind one clinic NAT share an IP, and these carry no data
EXEMPT_ASSETS = ("/widget/v1/static/", "/widget/v1/loader.js", "/widget/v1/frame", "/demo")
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
WIDGET_PREFIX = "/widget/v1/"
PARTNER_PREFIX = ("/partner/", "/fhir/")  # partner bearer tokens

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# --- the client's address --------------------------------------------------------------------


def parse_ip(raw: str) -> IPAddress | None:
    """An address from a peer or X-Forwarded-For entry ("1.2.3.4", "1.2.3.4:80", "[::1]:80"),
    IPv4-mapped IPv6 unwrapped; None when it is not one."""
    value = raw.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """The address to count a request under (IPv6 as its /64)."""
    address = parse_ip(peer) if peer else None
    if address is None:
        return peer or "unknown"

    def is_trusted(a: IPAddress) -> bool:
        return any(a in network for network in trusted)

    if trusted and is_trusted(address):
        hops = [hop for header in forwarded_for for hop in header.split(",")]
        for raw in reversed(hops):
            hop = parse_ip(raw)
            if hop is None:  # malformed: written by the client, so nothing left of it counts
                break
            address = hop
            if not is_trusted(hop):
                break
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


# --- which buckets apply -----------------------------------------------------------------------


class RateLimits:
    """The policy (which buckets a request counts against) plus the counting backend."""

    def __init__(self, settings: Settings, backend: Backend | None = None) -> None:
        self.layered = settings.rate_limits == "on" or (
            settings.rate_limits == "auto" and settings.is_production
        )
        self.token = settings.rate_limits != "off"
        self.ip_limit = settings.rate_limit_ip_per_minute
        self.widget_limit = settings.rate_limit_widget_key_per_minute
        self.partner_limit = settings.rate_limit_partner_client_per_minute
        self.token_limit = settings.token_rate_limit_per_minute
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies
        )
        self.secret_key = settings.secret_key
        self.issuer = settings.public_url
        if backend is None:
            backend = (
                RedisBackend(settings.redis_url, settings.rate_limit_redis_prefix)
                if settings.redis_url
                else MemoryBackend()
            )
        self.backend = backend

    def _bucket(self, layer: str, identity: str, limit: int) -> Rule:
        digest = keyed_hash(self.secret_key, "rate-limit", f"{layer}\x00{identity}")[:32]
        return Rule(f"{layer}:{digest}", limit, WINDOW)

    def rules(self, scope: Scope) -> list[Rule]:
        path: str = scope["path"]
        is_token = self.token and path.rstrip("/") == TOKEN_PATH
        if path in EXEMPT_PATHS or path.startswith(EXEMPT_ASSETS):
            return []
        if not (self.layered or is_token):
            return []
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        client = scope.get("client")
        peer = client[0] if client else None
        forwarded = (
            [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
            if self.trusted
            else []
        )
        ip = client_address(peer, forwarded, self.trusted)
        rules = []
        if self.layered:
            rules.append(self._bucket("ip", ip, self.ip_limit))
        if is_token:
            rules.append(self._bucket("token", ip, self.token_limit))
        if not self.layered:
            return rules
        if path.startswith(WIDGET_PREFIX):
            key = _header(headers, b"x-widget-key").strip()
            if key.startswith("pk_") and len(key) <= 100:
                rules.append(self._bucket("widget", key, self.widget_limit))
        elif path.startswith(PARTNER_PREFIX):
            scheme, _, token = _header(headers, b"authorization").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                try:
                    claims = tokens.verify(self.secret_key, self.issuer, token.strip())
                except tokens.InvalidToken:
                    pass  # counted under the IP only; the guard answers 401
                else:
                    rules.append(self._bucket("partner", claims.client_id, self.partner_limit))
        return rules

    async def check(self, scope: Scope) -> Decision | None:
        rules = self.rules(scope)
        return await self.backend.hit(rules) if rules else None

    async def aclose(self) -> None:
        await self.backend.aclose()


def build_rate_limits(settings: Settings) -> RateLimits | None:
    """None when no limit is enforced at all (`SLOTPROOF_RATE_LIMITS=off`)."""
    return None if settings.rate_limits == "off" else RateLimits(settings)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((v for k, v in headers if k == name), b"").decode("latin-1")


# --- the middleware ----------------------------------------------------------------------------


def _limit_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    usage = decision.tightest()
    reset = decision.retry_after if not decision.allowed else whole_seconds(usage.reset)
    return [
        (b"ratelimit-limit", str(usage.rule.limit).encode()),
        (b"ratelimit-remaining", str(usage.remaining).encode()),
        (b"ratelimit-reset", str(reset).encode()),
    ]


async def _refuse(send: Send, decision: Decision) -> None:
    retry = decision.retry_after
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"retry-after", str(retry).encode()),
        *_limit_headers(decision),
    ]
    request_id = current_request_id()
    if request_id is None:  # not behind the request-id middleware
        request_id = accept_or_generate(None)
        headers.append((REQUEST_ID_HEADER, request_id.encode()))
    body = msgspec.json.encode(
        {
            "type": "about:blank",
            "title": HTTPStatus.TOO_MANY_REQUESTS.phrase,
            "status": 429,
            "detail": "Too many requests; try again later.",
            "code": "rate_limited",
            "requestId": request_id,
            "retryAfterSeconds": retry,
        }
    )
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        limits: RateLimits | None = (
            scope["app"].state.get("rate_limits") if scope["type"] == "http" else None
        )
        decision = await limits.check(scope) if limits is not None else None
        if decision is None:  # nothing applies, or the backend is unavailable: fail open
            await app(scope, receive, send)
            return
        if not decision.allowed:
            await _refuse(send, decision)
            return
        extra = _limit_headers(decision)

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await app(scope, receive, send_with_limits)

    return middleware
