"""Sending one HTTP POST to a vetted webhook URL.

Connects to a vetted address (never re-resolving the host), sends the original ``Host``
and, for https, the original TLS server name; never follows redirects; reads at most a few
KB of the answer; and reports failures in words that never contain the URL (which may carry
a secret in its query).
"""
from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from chalicelib.delivery.urlguard import VettedUrl

USER_AGENT = "Clockodo-Webhooks/1.0"
T = TypeVar("T")

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


class _Watchdog:
    """Ends a request at its wall-clock deadline, whatever phase it is in.

    urllib3's timeouts bound each connect and each read, not the request: a peer that
    trickles one byte at a time would hold a worker for ever. Every socket the request
    opens is attached here (as a duplicate, so that TLS wrapping, which detaches the
    original, changes nothing and its descriptor cannot be reused meanwhile); at the
    deadline all of them are shut down, which ends any blocked connect, handshake, send
    or read at once.
    """

    def __init__(self, deadline: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.fired = False
        self._done = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def attach(self, sock: socket.socket) -> None:
        duplicate = sock.dup()
        with self._lock:
            self._sockets.append(duplicate)
            if self.fired:
                _shut(duplicate)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for sock in self._sockets:
                _shut(sock)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@functools.cache
def _connection_classes() -> tuple[type[Any], type[Any]]:
    """urllib3's connections, with every new socket attached to the request's watchdog
    (urllib3 is imported on first use, not at cold start)."""
    from urllib3.connection import HTTPConnection, HTTPSConnection

    def watched(base: type[HTTPConnection]) -> type[Any]:
        class Watched(base):  # type: ignore[misc,valid-type]
            def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.watchdog = watchdog

            def _new_conn(self) -> socket.socket:
                sock: socket.socket = super()._new_conn()
                self.watchdog.attach(sock)
                return sock

        return Watched

    return watched(HTTPConnection), watched(HTTPSConnection)


def within(seconds: float, function: Callable[[], T]) -> T:
    """``function()``, or ``TimeoutError`` when it has not returned after ``seconds`` (it
    goes on in a daemon thread: the system resolver cannot be interrupted)."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(function())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            error.append(exc)

    thread = threading.Thread(target=run, name="within", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if error:
        raise error[0]
    if not result:
        raise TimeoutError(f"no answer within {seconds:.1f} s")
    return result[0]


def timed_out(duration_ms: int, what: str = "complete answer") -> Outcome:
    """The outcome of a request its deadline ended."""
    return Outcome(None, "", duration_ms, f"timeout: no {what} within the deadline",
                   error_class="timeout")


def post(vetted: VettedUrl, body: bytes, headers: Mapping[str, str], *,
         connect_timeout: float, total_timeout: float, target: str | None = None,
         deadline: float | None = None) -> Outcome:
    """POST ``body`` to the vetted URL; ``target`` overrides its path and query.

    The request ends at ``deadline`` (``time.monotonic()``), by default ``total_timeout``
    from now, however the peer behaves: connect, TLS, sending and reading all count. When
    an address refuses the connection, the next vetted address is tried, within the same
    deadline.
    """
    import urllib3
    from urllib3 import exceptions

    started = time.monotonic()
    deadline = started + total_timeout if deadline is None else deadline
    parsed = vetted.parsed
    http, https = _connection_classes()
    request_headers = {"Host": parsed.host_header, "User-Agent": USER_AGENT,
                       "Content-Type": "application/json", **headers}
    watchdog = _Watchdog(deadline)

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        addresses = vetted.addresses
        for index, address in enumerate(addresses):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return timed_out(elapsed(), "connection")
            timeout = urllib3.Timeout(connect=min(connect_timeout, remaining), read=remaining)
            pool: urllib3.HTTPConnectionPool
            if parsed.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    address, parsed.port, timeout=timeout, retries=False, maxsize=1,
                    server_hostname=parsed.host, assert_hostname=parsed.host,
                    cert_reqs="CERT_REQUIRED", watchdog=watchdog)
                pool.ConnectionCls = https
            else:
                pool = urllib3.HTTPConnectionPool(address, parsed.port, timeout=timeout,
                                                  retries=False, maxsize=1, watchdog=watchdog)
                pool.ConnectionCls = http
            try:
                response = pool.urlopen("POST", target or parsed.target, body=body,
                                        headers=request_headers, redirect=False,
                                        retries=False, preload_content=False,
                                        assert_same_host=False)
                try:
                    answer = response.read(MAX_RESPONSE_BYTES)
                finally:
                    response.close()
                if watchdog.fired:
                    return timed_out(elapsed())
                return Outcome(response.status, answer.decode("utf-8", "replace"), elapsed(),
                               retry_after=response.headers.get("Retry-After"))
            except exceptions.NewConnectionError:
                # refused or unreachable: the next address, if any, within the deadline
                if index == len(addresses) - 1 or watchdog.fired:
                    raise
            finally:
                pool.close()
        raise AssertionError("unreachable")  # the loop returns or raises
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome, not a crash
        if watchdog.fired:
            return timed_out(elapsed())
        error, error_class = _describe(exc)
        return Outcome(None, "", elapsed(), error, error_class=error_class)
    finally:
        watchdog.finish()
