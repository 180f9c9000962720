"""Security headers and CORS for every response, as one pure ASGI wrapper around the whole app.

Litestar runs app middleware for matched routes only, so this wraps `app.asgi_handler` (the
router inside its exception handling): unknown paths, wrong methods and every error answered by
the exception handlers get the same headers as a 200. Installed by `secure_app` in
`create_app`.

Headers, each added only when the response did not set it already:

* `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`.
* `Content-Security-Policy`: responses that bring their own (the widget frame with its
  `frame-ancestors` list, the demo page) are left alone. Anything else gets
  `default-src 'none'; frame-ancestors 'none'` (JSON is never a document to render or frame),
  plus `X-Frame-Options: DENY` for old browsers; the OpenAPI pages under `/schema` load their
  UI (served by the app, `app/core/openapi_ui.py`) with an inline start script, so they get
  only the anti-framing part.
* `Strict-Transport-Security` in production only (TLS ends at the load balancer; the public
  URL is https:// there).
* `Cache-Control: no-store` on everything under `/partner/v2/`, `/fhir/r4/` and `/widget/v1/`
  (patient records, contact details, tokens) and on `/oauth2/token` (RFC 6749) -- replacing
  whatever a handler said, so PHI is never stored by a browser or a shared cache. The widget's
  static files, `loader.js` and the frame page carry no PHI and keep their own caching.

CORS: none by default. The widget's frame is served from this origin and calls the API
same-origin; the host page never calls the API. Only origins listed in SLOTPROOF_CORS_ORIGINS
(exact `scheme://host[:port]` matches) get `Access-Control-Allow-Origin` on responses, and
their preflights are answered here (204). Credentials (cookies) are never allowed: the APIs
authenticate with headers. Any other origin gets no CORS header at all, preflight included, so
the browser refuses. (`loader.js` sends `Access-Control-Allow-Origin: *` itself: a public
script, no data.)
"""

from __future__ import annotations

from collections.abc import Iterable

from litestar import Litestar
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils import normalize_path

from app.config import Settings

API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = b"frame-ancestors 'none'; object-src 'none'; base-uri 'none'"

PHI_PREFIXES = ("/partner/v2/", "/widget/v1/", "/oauth2/token", "/fhir/r4/")
# the widget's public files: no PHI, and they set the caching they need themselves
OWN_CACHING = ("/widget/v1/static/", "/widget/v1/loader.js", "/widget/v1/frame")

CORS_METHODS = b"GET, POST, PUT, DELETE"
CORS_REQUEST_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "idempotency-key",
        "x-identity-token",
        "x-request-id",
        "x-widget-key",
    }
)
CORS_EXPOSE_HEADERS = (
    b"X-Request-Id, Retry-After, Location, Idempotent-Replayed, "
    b"RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, RateLimit"
)
CORS_MAX_AGE = b"600"


def _has(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bool:
    return any(key.lower() == name for key, _ in headers)


def _get(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


def is_phi_path(path: str) -> bool:
    path = normalize_path(path)  # the router matches `//partner/...` too: so must this
    return path.startswith(PHI_PREFIXES) and not path.startswith(OWN_CACHING)


class SecurityHeaders:
    """The ASGI wrapper; `app` is the application's handler (everything but lifespan)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.cors_origins = frozenset(o.encode() for o in settings.cors_origins)
        self.hsts = (
            f"max-age={settings.hsts_max_age_seconds}; includeSubDomains".encode()
            if settings.is_production
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = _get(scope, b"origin")
        allowed = origin if origin is not None and origin in self.cors_origins else None
        if (
            allowed is not None
            and scope["method"] == "OPTIONS"
            and _get(scope, b"access-control-request-method") is not None
        ):
            await self._preflight(scope, send, allowed)
            return
        path: str = scope["path"]

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._secure(list(message.get("headers", [])), path, allowed)
            await send(message)

        await self.app(scope, receive, send_secured)

    def _secure(
        self, headers: list[tuple[bytes, bytes]], path: str, allowed: bytes | None
    ) -> list[tuple[bytes, bytes]]:
        def add(name: bytes, value: bytes) -> None:
            if not _has(headers, name):
                headers.append((name, value))

        add(b"x-content-type-options", b"nosniff")
        add(b"referrer-policy", b"no-referrer")
        if not _has(headers, b"content-security-policy"):
            docs = path == "/schema" or path.startswith("/schema/")
            content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if docs and content_type.startswith(b"text/html"):
                headers.append((b"content-security-policy", DOCS_CSP))
            else:
                headers.append((b"content-security-policy", API_CSP))
            add(b"x-frame-options", b"DENY")
        if self.hsts is not None:
            add(b"strict-transport-security", self.hsts)
        if is_phi_path(path):
            headers = [
                (k, v) for k, v in headers if k.lower() not in (b"cache-control", b"expires")
            ]
            headers.append((b"cache-control", b"no-store"))
        if allowed is not None and not _has(headers, b"access-control-allow-origin"):
            headers.append((b"access-control-allow-origin", allowed))
            headers.append((b"access-control-expose-headers", CORS_EXPOSE_HEADERS))
        if self.cors_origins:  # the answer depends on Origin: caches must keep them apart
            headers.append((b"vary", b"Origin"))
        return headers

    async def _preflight(self, scope: Scope, send: Send, origin: bytes) -> None:
        requested = (_get(scope, b"access-control-request-headers") or b"").decode("latin-1")
        names = [n.strip().lower() for n in requested.split(",") if n.strip()]
        granted = ", ".join(n for n in names if n in CORS_REQUEST_HEADERS).encode()
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", CORS_METHODS),
            (b"access-control-max-age", CORS_MAX_AGE),
            (b"content-length", b"0"),
        ]
        if granted:
            headers.append((b"access-control-allow-headers", granted))
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": self._secure(headers, scope["path"], None),
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def secure_app(app: Litestar, settings: Settings) -> Litestar:
    """Wrap the app's handler (not its lifespan) in `SecurityHeaders`; returns the app."""
    app.asgi_handler = SecurityHeaders(app.asgi_handler, settings)
    return app
