"""POST /oauth2/token (and Lobbie's `/oauth/token`): OAuth2 client-credentials (form body or
HTTP Basic).

Lobbie clients send `scope=<environment>/partner-api` (`prod-lobbie-api/partner-api`): that
means every scope the client holds, and is echoed back as sent. With
`SLOTPROOF_REQUIRE_API_KEY` the `x-api-key` header must be the client's key too.

Rate limited per client IP (`SLOTPROOF_TOKEN_RATE_LIMIT` a minute) before the body is read, by
app/core/ratelimit_middleware.py, so the limit is shared by every instance when Redis is set."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_plus

import msgspec
from litestar import Request, Response, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import URLEncodedBody

from app.core.openapi import problem_responses
from app.core.secrets import hash_secret, verify_secret
from app.partners import store, tokens
from app.partners.scopes import parse_scopes

# Checked when the client is unknown, so that every failure costs one scrypt: response time
# does not tell an unknown or deactivated client_id from a wrong secret.
_DUMMY_HASH = hash_secret("not-a-real-client-secret")


class TokenForm(msgspec.Struct):
    grant_type: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None


class TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthError(msgspec.Struct):
    error: str
    error_description: str | None = None


def _oauth_error(status: int, error: str, description: str, basic: bool = False) -> Response:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="slotproof"' if basic else "Bearer"
    return Response(OAuthError(error, description), status_code=status, headers=headers)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    client_id, _, secret = decoded.partition(":")
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding
    return unquote_plus(client_id), unquote_plus(secret)


# Lobbie's "all of this client's scopes" for one of its environments
_LOBBIE_SCOPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}/partner-api$")


@post(
    "/oauth2/token",
    tags=["partner auth"],
    summary="Exchange client credentials for an access token",
    status_code=200,
    responses={
        400: ResponseSpec(
            OAuthError,
            description="Malformed request, unsupported grant or scope",
            generate_examples=False,
        ),
        401: ResponseSpec(
            OAuthError, description="Client authentication failed", generate_examples=False
        ),
        **problem_responses(429, 503),
    },
)
async def issue_token(
    request: Request,
    data: URLEncodedBody[TokenForm],
) -> Response[TokenResponse]:
    return await _issue(request, data)


@post("/oauth/token", status_code=200, include_in_schema=False)
async def issue_token_lobbie_path(
    request: Request,
    data: URLEncodedBody[TokenForm],
) -> Response[TokenResponse]:
    """Lobbie's token path: the same endpoint (documented once, as /oauth2/token)."""
    return await _issue(request, data)


async def _issue(request: Request, data: TokenForm) -> Response[TokenResponse]:
    state = request.app.state
    basic = _basic_credentials(request.headers.get("authorization", ""))
    client_id, secret = basic if basic else (data.client_id or "", data.client_secret or "")
    if data.grant_type != "client_credentials":
        if not data.grant_type:
            return _oauth_error(400, "invalid_request", "grant_type is required")
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    if not client_id or not secret:
        return _oauth_error(401, "invalid_client", "client authentication failed", bool(basic))

    client = await store.find_client(state.pool, client_id)
    secret_ok = verify_secret(secret, client["secret_hash"] if client else _DUMMY_HASH)
    if client is None or not client["active"] or not secret_ok:
        return _oauth_error(401, "invalid_client", "client authentication failed", bool(basic))
    if state.settings.require_api_key and not store.api_key_matches(
        state.settings.secret_key, client["api_key_hash"], request.headers.get("x-api-key", "")
    ):
        return _oauth_error(401, "invalid_client", "client authentication failed", bool(basic))

    held = list(client["scopes"])
    echoed = None
    if data.scope and _LOBBIE_SCOPE.match(data.scope.strip()):
        granted, echoed = held, data.scope.strip()
    elif data.scope:
        try:
            requested = parse_scopes(data.scope)
        except ValueError:
            return _oauth_error(400, "invalid_scope", "unknown scope requested")
        if not set(requested) <= set(held):
            return _oauth_error(400, "invalid_scope", "scope exceeds what the client holds")
        granted = requested
    else:
        granted = held
    ttl = state.settings.access_token_ttl_seconds
    token = tokens.mint(
        state.settings.secret_key, state.settings.public_url, client_id, granted, ttl
    )
    return Response(
        TokenResponse(token, "Bearer", ttl, echoed or " ".join(granted)),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
