"""URL vetting: shapes, every refused address class, odd IPv4 spellings, allow-lists."""
from __future__ import annotations

import ipaddress

import pytest

from chalicelib.delivery import urlguard
from chalicelib.delivery.urlguard import UrlNotAllowed


def resolver_to(*addresses: str) -> urlguard.Resolver:
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)
    return resolve


GLOBAL = resolver_to("93.184.216.34")


def refused_reason(url: object, *, allow_http: bool = True, allowed=(),
                   resolver=GLOBAL) -> str:
    with pytest.raises(UrlNotAllowed) as caught:
        urlguard.check(url, allow_http=allow_http, allowed=allowed, resolver=resolver)
    assert caught.value.path == "url"
    assert caught.value.status == 422
    return caught.value.reason


def test_accepts_https_url_with_global_address() -> None:
    vetted = urlguard.check("https://Hooks.Example.com/in?a=1", allow_http=False,
                            resolver=resolver_to("93.184.216.34"))
    assert vetted.address == "93.184.216.34"
    assert vetted.parsed.host == "hooks.example.com"
    assert vetted.parsed.port == 443
    assert vetted.parsed.target == "/in?a=1"
    assert vetted.parsed.host_header == "hooks.example.com"


def test_host_header_keeps_a_non_default_port_and_brackets_ipv6() -> None:
    parsed = urlguard.parse("http://[2606:4700::1111]:8080/x", allow_http=True)
    assert parsed.host == "2606:4700::1111"
    assert parsed.host_header == "[2606:4700::1111]:8080"


@pytest.mark.parametrize(("url", "reason"), [
    (42, "not_a_string"),
    ("", "length"),
    ("https://example.com/" + "a" * 2048, "length"),
    ("ftp://example.com/", "scheme"),
    ("//example.com/x", "scheme"),
    ("example.com/x", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("https://user:pw@example.com/", "userinfo"),
    ("https://user@example.com/", "userinfo"),
    ("https://example.com@evil.com/", "userinfo"),
    ("https://example.com:0/", "port"),
    ("https://example.com:70000/", "invalid"),
    ("https://example.com:abc/", "invalid"),
    ("https:///path", "host"),
    ("https://exa mple.com/", "characters"),
    ("https://example.com/\n", "characters"),
    ("https://bücher.de/", "characters"),
    ("https://under_score.example.com/", "host"),
    ("https://-leading.example.com/", "host"),
    ("https://[fe80::1%25eth0]/", "host"),
    ("https://[not-v6]/", "invalid"),
])
def test_refuses_malformed_urls(url: object, reason: str) -> None:
    assert refused_reason(url) == reason


def test_http_needs_the_stage_to_allow_it() -> None:
    assert refused_reason("http://example.com/", allow_http=False) == "https_required"
    assert urlguard.check("http://example.com/", allow_http=True,
                          resolver=resolver_to("93.184.216.34")).parsed.port == 80


@pytest.mark.parametrize("host", [
    "2130706433",          # decimal 127.0.0.1
    "0x7f000001",          # hex
    "0x7f.0.0.1",          # hex octet
    "0177.0.0.1",          # octal octet
    "017700000001",        # octal
    "127.1",               # short form
    "127.0.1",
    "10.1",
    "1.2.3.4.5",
    "01.02.03.04",
    "example.0x10",        # the last label makes it an IPv4 address to URL parsers
])
def test_refuses_odd_ipv4_spellings(host: str) -> None:
    assert refused_reason(f"http://{host}/") == "ipv4_form"


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "carrier-grade_nat"),
    ("169.254.169.254", "link-local"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.0.8", "reserved"),
    ("198.18.0.1", "reserved"),
    ("192.0.2.1", "documentation"),
    ("203.0.113.9", "documentation"),
    ("192.88.99.1", "6to4"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "ipv4-mapped"),
    ("::ffff:8.8.8.8", "ipv4-mapped"),
    ("::127.0.0.1", "ipv4-compatible"),
    ("64:ff9b::a9fe:a9fe", "nat64"),
    ("64:ff9b:1::1", "nat64"),
    ("2002:a9fe:a9fe::1", "6to4"),
    ("2001::1", "teredo"),
    ("2001:db8::1", "documentation"),
    ("fec0::1", "reserved"),
])
def test_refuses_every_non_global_address_class(address: str, reason: str) -> None:
    # once as what the host resolves to ...
    assert refused_reason("https://hooks.example.com/", resolver=resolver_to(address)) == reason
    # ... and once as a literal in the URL
    literal = f"[{address}]" if ":" in address else address
    assert refused_reason(f"https://{literal}/") == reason


def test_refuses_when_any_resolved_address_is_not_global() -> None:
    mixed = resolver_to("93.184.216.34", "10.0.0.1")
    assert refused_reason("https://hooks.example.com/", resolver=mixed) == "private"


def test_refuses_unresolvable_hosts() -> None:
    def fails(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")
    assert refused_reason("https://nowhere.invalid/", resolver=fails) == "unresolvable"
    assert refused_reason("https://nowhere.invalid/", resolver=resolver_to()) == "unresolvable"


def test_the_real_resolver_refuses_localhost() -> None:
    assert refused_reason("http://localhost:8080/", resolver=urlguard.system_resolver) \
        == "loopback"


def test_allowed_networks_open_exactly_their_range() -> None:
    loopback = (ipaddress.ip_network("127.0.0.0/8"),)
    vetted = urlguard.check("http://127.0.0.1:9000/hook", allow_http=True, allowed=loopback)
    assert vetted.address == "127.0.0.1"
    assert refused_reason("http://10.0.0.1/", allowed=loopback) == "private"
    assert refused_reason("http://[::1]/", allowed=loopback) == "loopback"
    assert refused_reason("http://[::ffff:127.0.0.1]/", allowed=loopback) == "ipv4-mapped"


def test_global_ipv6_is_accepted() -> None:
    vetted = urlguard.check("https://[2606:4700:4700::1111]/", allow_http=False)
    assert vetted.address == "2606:4700:4700::1111"


def test_address_class_names_the_block() -> None:
    assert urlguard.address_class(ipaddress.ip_address("8.8.8.8")) is None
    assert urlguard.address_class(ipaddress.ip_address("10.0.0.1")) == "private"
