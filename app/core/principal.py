"""Who is calling: the one `Principal` of a request, resolved once by the authentication
middleware (app/authentication.py) and read by the rate limits, idempotency, the audit trail,
the partner guard and the widget handlers. Nothing else parses credentials.

A principal is at most one of: a partner client (a bearer access token that verifies, with its
standing read from the database for this request), a widget caller (the setting behind
`X-Widget-Key`, and the attempt behind its bearer token), a manage link (the appointment behind
the token in the path), a provider callback (a request to a callback route whose provider
signature verifies over the body it came with) — else anonymous. Every principal carries the
client IP as the trusted-proxy rules decide it.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Protocol

from litestar.types import Scope

from app.core.errors import Problem

STATE_KEY = "principal"
# a route's `opt` key for its read-ahead, and the request state key of what it read: a
# partner route may name a function (state, scope, account_id) -> (token, probes) | None whose
# freshness probes are answered in the same statement as the caller's standing; the state then
# holds (token, (snapshot, changes per probe)), and a token with `ready(changes)` returning
# (body, media type, state) is answered by app/partners/guard.py's innermost middleware
READ_AHEAD = "read_ahead"
PARTNER_PATHS = ("/partner/", "/fhir/")  # called with partner access tokens
# a route's `opt` key: the route is a provider callback, signed by that provider (a
# `CallbackRoute`); its body is bounded by the route's `request_max_body_size`
PROVIDER_CALLBACK = "provider_callback"


class Credential(enum.Enum):
    """What the request's bearer token (or manage token) turned out to be."""

    ABSENT = "absent"  # none was sent
    INVALID = "invalid"  # sent, but it does not verify or names nothing
    VALID = "valid"


@dataclass(frozen=True, slots=True)
class PartnerClient:
    """The client behind a verified access token, as the database has it right now."""

    client_id: str
    active: bool
    scopes: frozenset[str]  # the token's scopes the client still holds
    accounts: frozenset[int]  # accounts with an active grant


@dataclass(frozen=True, slots=True)
class CallbackRoute:
    """What the authentication step must know of a callback route to check its signature."""

    provider: str  # "twilio" or "sendgrid"
    path: str  # the path the provider signs (Twilio signs our public URL, path and query)


@dataclass(frozen=True, slots=True)
class ProviderCallback:
    """A callback whose provider signature verified: the route it was signed for, and what
    was signed, for the handler to act on without reading or checking anything again."""

    route: CallbackRoute
    body: bytes  # the request body as signed
    form: Mapping[str, str]  # the form fields of a form-encoded callback (Twilio's); else empty


class AttemptRef(Protocol):
    """What the cross-cutting layers read of an attempt (app.attempts.store.Attempt)."""

    id: int
    account_id: int
    setting_id: int
    identity_proof_id: int | None


@dataclass(frozen=True, slots=True)
class Principal:
    ip: str  # the client address (IPv6 as its /64), see client_address
    bearer: Credential = Credential.ABSENT
    partner: PartnerClient | None = None
    widget_key: str | None = None  # X-Widget-Key when it has the shape of one
    setting: Mapping[str, Any] | None = None  # the active-or-not setting behind widget_key
    attempt: AttemptRef | None = None  # behind the bearer attempt token, of that setting
    managed: Mapping[str, Any] | None = None  # the appointment behind a manage token
    callback: ProviderCallback | None = None  # a callback whose provider signature verified

    @property
    def account_id(self) -> int | None:
        """The account a widget or manage-link caller acts in (partners name it in the path)."""
        if self.managed is not None:
            return self.managed["account_id"]
        if self.attempt is not None:
            return self.attempt.account_id
        return self.setting["account_id"] if self.setting is not None else None

    def partner_denial(self, account_id: Any, needed_scope: str | None) -> Problem | None:
        """The contract's order: token valid (401) -> client active (401) -> active grant on
        the account (403) -> the route's scope (403); None when the call may proceed."""
        if self.bearer is Credential.ABSENT:
            return _unauthorized("A bearer access token is required.", _BARE_CHALLENGE)
        if self.partner is None:
            return _unauthorized("The access token is invalid or expired.")
        if not self.partner.active:
            return _unauthorized("The client is not active.")
        if account_id not in self.partner.accounts:
            return Problem(403, "forbidden", "This client has no access to the account.")
        if needed_scope and needed_scope not in self.partner.scopes:
            return Problem(403, "forbidden", f"This call needs the '{needed_scope}' scope.")
        return None


_CHALLENGE = 'Bearer realm="slotproof", error="invalid_token"'
# RFC 6750 3.1: no error code in the challenge when no credentials were sent at all
_BARE_CHALLENGE = 'Bearer realm="slotproof"'


def _unauthorized(detail: str, challenge: str = _CHALLENGE) -> Problem:
    return Problem(401, "invalid_token", detail, headers={"WWW-Authenticate": challenge})


def principal_of(scope: Scope) -> Principal:
    """The request's principal; the authentication middleware runs for every matched route."""
    return scope["state"][STATE_KEY]


# --- reading headers --------------------------------------------------------------------------


def header(scope: Scope, name: bytes) -> str:
    """The first value of a header (lower-case name), or ""."""
    return next((v for k, v in scope["headers"] if k == name), b"").decode("latin-1")


def bearer_token(scope: Scope) -> str | None:
    scheme, _, token = header(scope, b"authorization").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


# --- the client's address ---------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4096)  # every request parses its peer: the same few addresses, mostly
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


@cache
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """The client's address (IPv6 as its /64). The TCP peer, unless it is a trusted proxy:
    then X-Forwarded-For is read right to left, skipping trusted proxies, and the first address
    that is not one is the client (anything left of it was written by the client)."""
    address = parse_ip(peer) if peer else None
    if address is None:
        return peer or "unknown"

    def is_trusted(a: IPAddress) -> bool:
        return any(a in network for network in trusted)

    if trusted and is_trusted(address):
        hops = [hop for value in forwarded_for for hop in value.split(",")]
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


def scope_client_address(scope: Scope, proxies: tuple[str, ...]) -> str:
    trusted = trusted_networks(proxies)
    client = scope.get("client")
    forwarded = (
        [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
        if trusted
        else []
    )
    return client_address(client[0] if client else None, forwarded, trusted)
