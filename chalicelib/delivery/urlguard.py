"""Vetting webhook URLs, which are hostile input (SSRF).

Two steps, both run when a URL is stored and again before every request is sent:
``parse`` checks the URL's shape; ``vet`` resolves its host and refuses it unless every
address is global (or inside ``WEBHOOKS_ALLOWED_NETWORKS``). The sender then connects to
the vetted address itself, so DNS cannot hand it another one in between (rebinding).
"""
from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.errors import Unprocessable

MAX_URL_LENGTH = 2048

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class UrlNotAllowed(Unprocessable):
    """The URL is malformed or points somewhere the service must not send to."""

    type = "UrlNotAllowed"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, path="url", details={"reason": reason})
        self.reason = reason


def _nets(*cidrs: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Named blocks, checked before the catch-all ``is_global`` so that refusals say why, and
# so that Python versions whose ``is_global`` misses a block still refuse it.
BLOCKED: tuple[tuple[str, tuple[Network, ...]], ...] = (
    ("unspecified", _nets("0.0.0.0/8", "::/128")),
    ("loopback", _nets("127.0.0.0/8", "::1/128")),
    ("private", _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    ("carrier-grade NAT", _nets("100.64.0.0/10")),
    ("link-local", _nets("169.254.0.0/16", "fe80::/10")),
    ("multicast", _nets("224.0.0.0/4", "ff00::/8")),
    ("reserved", _nets("240.0.0.0/4", "192.0.0.0/24", "198.18.0.0/15", "100::/64",
                       "2001:10::/28", "2001:20::/28", "fec0::/10")),
    ("documentation", _nets("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                            "2001:db8::/32", "3fff::/20")),
    ("unique-local", _nets("fc00::/7")),
    ("IPv4-mapped", _nets("::ffff:0:0/96")),
    ("IPv4-compatible", _nets("::/96")),
    ("IPv4-translated", _nets("::ffff:0:0:0/96")),
    ("NAT64", _nets("64:ff9b::/96", "64:ff9b:1::/48")),
    ("6to4", _nets("2002::/16", "192.88.99.0/24")),
    ("Teredo", _nets("2001::/32")),
)

_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class ParsedUrl:
    """A URL whose shape is acceptable; its host is not yet resolved."""

    url: str
    scheme: str
    host: str  # lower-case ASCII (IDNA) or an IP literal without brackets
    port: int
    target: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class VettedUrl:
    """A URL together with the addresses the request may connect to (all vetted; the
    first is tried first)."""

    parsed: ParsedUrl
    address: str
    others: tuple[str, ...] = ()

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.address, *self.others)


def parse(url: object, *, allow_http: bool) -> ParsedUrl:
    """Check a webhook URL's shape, or raise ``UrlNotAllowed`` saying what is wrong."""
    if not isinstance(url, str):
        raise UrlNotAllowed("url must be a string", "not_a_string")
    if not url or len(url) > MAX_URL_LENGTH:
        raise UrlNotAllowed(f"url must have 1 to {MAX_URL_LENGTH} characters", "length")
    if any(c.isspace() or not c.isprintable() or ord(c) > 127 for c in url):
        raise UrlNotAllowed(
            "url must not contain whitespace, control or non-ASCII characters "
            "(percent-encode them; use punycode for international domains)", "characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlNotAllowed("url has an invalid port or host", "invalid") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlNotAllowed("url must be an absolute http or https URL", "scheme")
    if scheme == "http" and not allow_http:
        raise UrlNotAllowed("url must use https", "https_required")
    if "@" in parts.netloc:
        raise UrlNotAllowed("url must not contain a user name or password", "userinfo")
    if port == 0:
        raise UrlNotAllowed("url has an invalid port", "port")
    host = _check_host(parts.hostname or "", bracketed=parts.netloc.startswith("["))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return ParsedUrl(url, scheme, host, port or (443 if scheme == "https" else 80), target)


def _check_host(host: str, *, bracketed: bool) -> str:
    if not host:
        raise UrlNotAllowed("url has no host", "host")
    if bracketed:
        if "%" in host:
            raise UrlNotAllowed("url must not carry an IPv6 zone id", "host")
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise UrlNotAllowed("url has an invalid IPv6 address", "host") from None
    host = host[:-1] if host.endswith(".") else host
    labels = host.split(".")
    # A host whose last label is a number is an IPv4 address to every URL parser; only
    # its canonical dotted-quad form is accepted (no 2130706433, 0x7f.1, 0177.0.0.1).
    if _NUMERIC_LABEL.match(labels[-1]):
        try:
            if len(labels) != 4:
                raise ValueError(host)
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise UrlNotAllowed(
                "url has an IPv4 address in a non-canonical form; write it as a.b.c.d",
                "ipv4_form") from None
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise UrlNotAllowed("url has an invalid host name", "host")
    return host


def address_class(address: Address, allowed: Iterable[Network] = ()) -> str | None:
    """Why ``address`` must not be sent to, or None when it may."""
    if any(address.version == net.version and address in net for net in allowed):
        return None
    for label, networks in BLOCKED:
        if any(address.version == net.version and address in net for net in networks):
            return label
    if not address.is_global:
        return "non-global"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to, through the system's resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def vet(parsed: ParsedUrl, allowed: Iterable[Network] = (),
        resolver: Resolver = system_resolver) -> VettedUrl:
    """Resolve the host and accept it only if every address it has may be sent to."""
    allowed = tuple(allowed)
    try:
        literal: Address | None = ipaddress.ip_address(parsed.host)
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [str(literal)]
    else:
        try:
            candidates = resolver(parsed.host, parsed.port)
        except (OSError, UnicodeError):
            raise UrlNotAllowed(f"the host {parsed.host} does not resolve", "unresolvable") \
                from None
        if not candidates:
            raise UrlNotAllowed(f"the host {parsed.host} does not resolve", "unresolvable")
    for candidate in candidates:
        address = ipaddress.ip_address(candidate.split("%")[0])
        problem = address_class(address, allowed)
        if problem is not None:
            raise UrlNotAllowed(
                f"the host {parsed.host} resolves to a {problem} address, "
                "which webhooks must not be sent to", problem.replace(" ", "_").lower())
    unique = list(dict.fromkeys(candidates))
    return VettedUrl(parsed, unique[0], tuple(unique[1:]))


def check(url: object, *, allow_http: bool, allowed: Iterable[Network] = (),
          resolver: Resolver = system_resolver) -> VettedUrl:
    """``parse`` and ``vet`` in one step."""
    return vet(parse(url, allow_http=allow_http), allowed, resolver)
