"""Which URLs an endpoint may have, and which addresses a delivery may connect to.

Syntax (both environments): http or https, a host, no credentials, no fragment, at most 2000
characters. In production the host must resolve only to public unicast addresses: loopback,
private, link-local, multicast, reserved, unspecified and other non-global ranges are refused
(`url_not_allowed`), at creation and again before every delivery, where the connection is then
made to the very address that was checked (so a DNS answer that changes in between, "DNS
rebinding", cannot redirect it). In development every address is allowed, so tests can receive
on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL = 2000
SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class UrlRejected(ValueError):
    """The URL is malformed (`code` validation_failed) or points somewhere not allowed
    (`code` url_not_allowed). The message never repeats the URL."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    """A parsed endpoint URL."""

    url: str
    scheme: str
    host: str  # without brackets for IPv6
    port: int

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse(url: str) -> Target:
    """The syntax checks; raises UrlRejected(validation_failed, ...)."""
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL:
        raise UrlRejected("validation_failed", f"must be a URL of at most {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UrlRejected("validation_failed", "must not contain spaces or control characters")
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRejected("validation_failed", "is not a valid URL") from None
    if parts.scheme.lower() not in SCHEMES:
        raise UrlRejected("validation_failed", "must start with https:// or http://")
    if not parts.hostname:
        raise UrlRejected("validation_failed", "must name a host")
    if parts.username is not None or parts.password is not None:
        raise UrlRejected("validation_failed", "must not contain credentials")
    if parts.fragment or url.endswith("#"):
        raise UrlRejected("validation_failed", "must not contain a fragment")
    scheme = parts.scheme.lower()
    if port == 0:
        raise UrlRejected("validation_failed", "has an invalid port")
    return Target(
        url=url,
        scheme=scheme,
        host=parts.hostname.lower().rstrip("."),
        port=port or (443 if scheme == "https" else 80),
    )


def refusal(address: IPAddress) -> str | None:
    """Why a delivery may not connect to `address` in production, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return refusal(embedded)
        if address.teredo is not None:
            return "a Teredo tunnel address"
    for test, reason in (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
        ("is_site_local", "a site-local address"),
    ):
        if getattr(address, test, False):
            return reason
    if not address.is_global:
        return "a non-public address"
    return None


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def resolve_allowed(
    target: Target, *, production: bool, resolve: Resolver = system_resolve
) -> list[IPAddress]:
    """The addresses a request to `target` may use, checked against the production policy.

    Raises UrlRejected(url_not_allowed) when the host does not resolve or (in production) any
    of its addresses is not public: one bad answer refuses the whole host."""
    try:
        addresses = await resolve(target.host, target.port)
    except (OSError, UnicodeError, ValueError):
        raise UrlRejected("url_not_allowed", "the host does not resolve") from None
    if not addresses:
        raise UrlRejected("url_not_allowed", "the host does not resolve")
    if production:
        for address in addresses:
            if (reason := refusal(address)) is not None:
                raise UrlRejected("url_not_allowed", f"the host resolves to {reason}")
    return addresses


async def check_endpoint_url(
    url: str, *, production: bool, resolve: Resolver = system_resolve
) -> Target:
    """The creation-time check: syntax always; in production also the resolved addresses."""
    target = parse(url)
    if production:
        await resolve_allowed(target, production=True, resolve=resolve)
    return target
