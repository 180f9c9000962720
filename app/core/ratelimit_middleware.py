"""Layered rate limits, as pure ASGI middleware (after authentication, before idempotency).

Every request (but the health probes) counts against the buckets that apply to its principal
(app/core/principal.py), all checked at once (see `app.core.ratelimit`):

* its client IP (IPv6 grouped by /64), for every path;
* `POST /oauth2/token`: its client IP again, against the stricter token limit;
* `/widget/v1/*` with an `X-Widget-Key` that looks like one (`pk_...`): that key together
  with the client IP, so one visitor's (or attacker's) traffic never uses up another's; and
  for the costly calls (`COSTLY_WIDGET_CALLS`: starting an attempt, sending a code) the key
  alone as well, with a budget far above one IP's, against a spread-out drain;
* `/partner/*` and `/fhir/*` with a bearer token that verifies: the partner client id in it (a
  token that does not verify counts under the IP alone; the guard answers 401 as usual).
* a provider callback whose signature verified (Twilio's, SendGrid's; checked once by the
  authentication step): its callback route's provider budget, **instead of** its client IP's.
  The providers post from a few shared addresses, and a practice's reminders going out (08:00,
  the end of quiet hours) bring a burst of delivery statuses and replies that one IP's budget
  would refuse, losing them. Status callbacks, inbound replies and SendGrid's events each have
  their own budget: anyone who texts the number causes replies, only our own sends cause
  statuses. An unsigned or badly signed request to a callback path is anonymous and counts
  under its IP like any other.

Per-contact limits on codes sent and tried live in app/identity (database-backed).

The client IP is the principal's (the trusted-proxy rules are in app/core/principal.py).

Over a limit: 429 problem+json `rate_limited` with `Retry-After`, `retryAfterSeconds` and
`RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` (IETF draft, delta seconds);
other responses carry the RateLimit-* headers of the bucket with the fewest hits left.
When the counting backend is unavailable (Redis down) the request is served unlimited.

Bucket keys are keyed hashes: no IP address or credential reaches Redis.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.core.errors import send_problem
from app.core.principal import PARTNER_PATHS, Principal, principal_of
from app.core.ratelimit import Backend, Decision, MemoryBackend, RedisBackend, Rule, whole_seconds
from app.core.secrets import keyed_hash

WINDOW = 60.0  # every configured limit is per minute
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})  # probes must never see a 429
# cacheable widget assets: patients behind one clinic NAT share an IP, and these carry no data
EXEMPT_ASSETS = ("/widget/v1/static/", "/widget/v1/loader.js", "/widget/v1/frame", "/demo")
# the token endpoint and its Lobbie-compatible alias
TOKEN_PATHS = ("/oauth2/token", "/oauth/token")
WIDGET_PREFIX = "/widget/v1/"
COSTLY_WIDGET_CALLS = frozenset({"/widget/v1/attempt", "/widget/v1/attempt/send-code"})


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
        self.widget_costly_limit = settings.rate_limit_widget_key_costly_per_minute
        self.partner_limit = settings.rate_limit_partner_client_per_minute
        self.provider_limit = settings.rate_limit_provider_per_minute
        self.token_limit = settings.token_rate_limit_per_minute
        self.secret_key = settings.secret_key
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

    def rules(self, method: str, path: str, principal: Principal) -> list[Rule]:
        is_token = self.token and path.rstrip("/") in TOKEN_PATHS
        if path in EXEMPT_PATHS or path.startswith(EXEMPT_ASSETS):
            return []
        if not (self.layered or is_token):
            return []
        if self.layered and principal.callback is not None:
            route = principal.callback.route
            identity = f"{route.provider}\x00{route.path}"
            return [self._bucket("provider", identity, self.provider_limit)]
        rules = []
        if self.layered:
            rules.append(self._bucket("ip", principal.ip, self.ip_limit))
        if is_token:
            rules.append(self._bucket("token", principal.ip, self.token_limit))
        if not self.layered:
            return rules
        if path.startswith(WIDGET_PREFIX) and principal.widget_key is not None:
            visitor = f"{principal.widget_key}\x00{principal.ip}"
            rules.append(self._bucket("widget", visitor, self.widget_limit))
            if method == "POST" and path.rstrip("/") in COSTLY_WIDGET_CALLS:
                key = principal.widget_key
                rules.append(self._bucket("widget-costly", key, self.widget_costly_limit))
        elif path.startswith(PARTNER_PATHS) and principal.partner is not None:
            rules.append(self._bucket("partner", principal.partner.client_id, self.partner_limit))
        return rules

    async def check(self, scope: Scope) -> Decision | None:
        rules = self.rules(scope["method"], scope["path"], principal_of(scope))
        return await self.backend.hit(rules) if rules else None

    async def aclose(self) -> None:
        await self.backend.aclose()


def build_rate_limits(settings: Settings) -> RateLimits | None:
    """None when no limit is enforced at all (`SLOTPROOF_RATE_LIMITS=off`)."""
    return None if settings.rate_limits == "off" else RateLimits(settings)


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
    await send_problem(
        send,
        429,
        "rate_limited",
        "Too many requests; try again later.",
        ((b"retry-after", str(retry).encode()), *_limit_headers(decision)),
        retryAfterSeconds=retry,
    )


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
