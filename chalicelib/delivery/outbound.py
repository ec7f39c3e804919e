"""Sending one HTTP POST to a vetted webhook URL.

Connects to the vetted address (never re-resolving the host), sends the original ``Host``
and, for https, the original TLS server name; never follows redirects; reads at most a few
KB of the answer; and reports failures in words that never contain the URL (which may carry
a secret in its query).
"""
from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.delivery.urlguard import VettedUrl

USER_AGENT = "Clockodo-Webhooks/1.0"

# urllib3 logs each request line at DEBUG, and a validation request's line carries the
# secret in its query: keep that logger quiet whatever the root level is.
logging.getLogger("urllib3.connectionpool").setLevel(logging.WARNING)
MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class Outcome:
    """What the endpoint did: its status (None when there was no answer) or an error."""

    status_code: int | None
    body: str
    duration_ms: int
    error: str | None = None
    retry_after: str | None = None  # the Retry-After header, as sent
    #: Why no answer came: timeout, connection, tls (or url_refused, inactive: not sent).
    error_class: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def failure_reason(self) -> str | None:
        """The failure's class for metrics and logs: 3xx, 4xx, 5xx, or ``error_class``."""
        if self.succeeded:
            return None
        if self.status_code is not None:
            return f"{self.status_code // 100}xx"
        return self.error_class or "other"


def _describe(exc: BaseException) -> tuple[str, str]:
    """A short, URL-free description of a failed request, and its class (timeout,
    connection, tls)."""
    from urllib3 import exceptions as e

    if isinstance(exc, e.SSLError):
        return "TLS handshake failed", "tls"
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: name the OS error first.
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None \
                and cause.errno in errno.errorcode:
            return f"connection failed: {os.strerror(cause.errno).lower()}", "connection"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, e.ConnectTimeoutError):
        return "connect timeout", "timeout"
    if isinstance(exc, (e.ReadTimeoutError, TimeoutError)):
        return "timeout waiting for the response", "timeout"
    if isinstance(exc, e.ProtocolError):
        return "connection closed before a complete response", "connection"
    return f"request failed ({type(exc).__name__})", "connection"


def post(vetted: VettedUrl, body: bytes, headers: Mapping[str, str], *,
         connect_timeout: float, total_timeout: float, target: str | None = None) -> Outcome:
    """POST ``body`` to the vetted URL; ``target`` overrides its path and query."""
    import urllib3

    parsed = vetted.parsed
    timeout = urllib3.Timeout(connect=connect_timeout, read=total_timeout, total=total_timeout)
    pool: urllib3.HTTPConnectionPool
    if parsed.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            vetted.address, parsed.port, timeout=timeout, retries=False, maxsize=1,
            server_hostname=parsed.host, assert_hostname=parsed.host, cert_reqs="CERT_REQUIRED",
        )
    else:
        pool = urllib3.HTTPConnectionPool(vetted.address, parsed.port, timeout=timeout,
                                          retries=False, maxsize=1)
    request_headers = {"Host": parsed.host_header, "User-Agent": USER_AGENT,
                       "Content-Type": "application/json", **headers}
    started = time.monotonic()
    try:
        response = pool.urlopen("POST", target or parsed.target, body=body,
                                headers=request_headers, redirect=False, retries=False,
                                preload_content=False, assert_same_host=False)
        try:
            answer = response.read(MAX_RESPONSE_BYTES)
        finally:
            response.close()
        return Outcome(response.status, answer.decode("utf-8", "replace"),
                       int((time.monotonic() - started) * 1000),
                       retry_after=response.headers.get("Retry-After"))
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome, not a crash
        error, error_class = _describe(exc)
        return Outcome(None, "", int((time.monotonic() - started) * 1000), error,
                       error_class=error_class)
    finally:
        pool.close()
