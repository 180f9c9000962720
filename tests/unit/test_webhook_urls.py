"""The endpoint URL rules and the production address classifier (app.webhooks.urls), and how a
delivery pins its connection to a checked address."""

from __future__ import annotations

import ipaddress

import pytest

from app.webhooks import urls
from app.webhooks.dispatcher import _pinned

ip = ipaddress.ip_address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 - an address to classify
        ("::", "an unspecified address"),
        ("224.0.0.251", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("255.255.255.255", "a private address"),
        ("240.0.0.1", "a private address"),
        ("192.0.2.1", "a private address"),  # documentation range
        ("198.18.0.1", "a private address"),  # benchmarking range
        ("100.64.0.1", "a non-public address"),  # carrier-grade NAT
        ("fec0::1", "a site-local address"),
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
        ("::ffff:192.168.0.1", "a private address"),
        ("2002:7f00:1::", "a loopback address"),  # 6to4 around 127.0.0.1
        ("2002:a00:1::", "a private address"),  # 6to4 around 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo tunnel address"),
        ("8.8.8.8", None),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_the_address_classifier(address, reason):
    assert urls.refusal(ip(address)) == reason


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "host_header"),
    [
        ("https://hooks.example.com/in", "https", "hooks.example.com", 443, "hooks.example.com"),
        ("HTTPS://Hooks.Example.COM./in", "https", "hooks.example.com", 443, "hooks.example.com"),
        (
            "http://hooks.example.com:8080",
            "http",
            "hooks.example.com",
            8080,
            "hooks.example.com:8080",
        ),
        ("http://127.0.0.1/in?x=1", "http", "127.0.0.1", 80, "127.0.0.1"),
        ("https://[2606:4700::1]:8443/x", "https", "2606:4700::1", 8443, "[2606:4700::1]:8443"),
    ],
)
def test_parse_accepts_http_and_https(url, scheme, host, port, host_header):
    target = urls.parse(url)
    assert (target.url, target.scheme, target.host, target.port) == (url, scheme, host, port)
    assert target.host_header == host_header


@pytest.mark.parametrize(
    "url",
    [
        "",
        "hooks.example.com/in",
        "ftp://hooks.example.com/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
        "https://:443/x",
        "https://user@hooks.example.com/",
        "https://user:pass@hooks.example.com/",
        "https://hooks.example.com/#x",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/\nx",
        "https://hooks.example.com:0/",
        "https://hooks.example.com:70000/",
        "https://[::1/x",
        "https://hooks.example.com/" + "a" * 2000,
    ],
)
def test_parse_refuses_malformed_urls(url):
    with pytest.raises(urls.UrlRejected) as caught:
        urls.parse(url)
    assert caught.value.code == "validation_failed"
    assert url not in caught.value.message or url == ""


def _resolver(table):
    async def resolve(host: str, port: int):
        if host not in table:
            raise OSError("no such host")
        return [ip(a) for a in table[host]]

    return resolve


async def test_resolve_allowed_applies_the_policy_to_every_answer():
    resolve = _resolver(
        {
            "public.example": ["93.184.216.34", "2606:2800:220:1::1"],
            "mixed.example": ["93.184.216.34", "127.0.0.1"],
            "empty.example": [],
        }
    )
    target = urls.parse("https://public.example/x")
    assert await urls.resolve_allowed(target, production=True, resolve=resolve) == [
        ip("93.184.216.34"),
        ip("2606:2800:220:1::1"),
    ]
    mixed = urls.parse("https://mixed.example/x")
    with pytest.raises(urls.UrlRejected) as caught:
        await urls.resolve_allowed(mixed, production=True, resolve=resolve)
    assert (caught.value.code, caught.value.message) == (
        "url_not_allowed",
        "the host resolves to a loopback address",
    )
    # development: anything that resolves
    assert await urls.resolve_allowed(mixed, production=False, resolve=resolve) == [
        ip("93.184.216.34"),
        ip("127.0.0.1"),
    ]
    for host in ("empty.example", "missing.example"):
        with pytest.raises(urls.UrlRejected) as caught:
            await urls.resolve_allowed(
                urls.parse(f"https://{host}/"), production=False, resolve=resolve
            )
        assert caught.value.message == "the host does not resolve"


async def test_check_endpoint_url_resolves_only_in_production():
    calls = []

    async def resolve(host: str, port: int):
        calls.append((host, port))
        return [ip("10.0.0.1")]

    target = await urls.check_endpoint_url(
        "https://intranet.example:8443/x", production=False, resolve=resolve
    )
    assert target.host == "intranet.example"
    assert calls == []
    with pytest.raises(urls.UrlRejected):
        await urls.check_endpoint_url(
            "https://intranet.example:8443/x", production=True, resolve=resolve
        )
    assert calls == [("intranet.example", 8443)]


async def test_the_system_resolver_handles_literals_and_localhost():
    assert await urls.system_resolve("93.184.216.34", 443) == [ip("93.184.216.34")]
    assert await urls.system_resolve("::1", 443) == [ip("::1")]
    found = await urls.system_resolve("localhost", 80)
    assert found and all(a.is_loopback for a in found)


def test_a_pinned_request_keeps_the_original_host_for_http_and_tls():
    target = urls.parse("https://hooks.example.com:8443/in?x=1")
    url, headers, extensions = _pinned(target, ip("93.184.216.34"))
    assert url == "https://93.184.216.34:8443/in?x=1"
    assert headers == {"Host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}

    url, headers, extensions = _pinned(urls.parse("http://hooks.example.com/in"), ip("2606::1"))
    assert url == "http://[2606::1]/in"
    assert headers == {"Host": "hooks.example.com"}
    assert extensions == {}
