"""One HTTP GET with a timeout, every failure turned into a status; and the per-source pacing.

Owns: :func:`get` (standard library ``urllib``; returns a :class:`Response`
for any HTTP status or a :class:`Failure` for timeouts, refused connections
and other network errors, never raising), :func:`retry_after` (the
``Retry-After`` header, in seconds or as an HTTP date), and :class:`Pacer`:
the least interval between two requests to one source, and the time a source
said to wait after a 429, both kept across calls and threads. Clock and sleep
are injectable so tests never depend on wall-clock time.
"""

from __future__ import annotations

import email.utils
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

# The most bytes read from one answer (arXiv's 100-entry feed is about 230 kB).
MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str]  # lower-case names

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Failure:
    status: str  # "timeout", "refused" or "network" (records.FAILURES)
    message: str


def get(url: str, headers: dict[str, str], timeout: float) -> Response | Failure:
    """GET ``url``; redirects followed; any answer with a status is a Response, no answer a Failure."""
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read(MAX_BODY), _headers(answer.headers))
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(MAX_BODY)
        except Exception:
            body = b""
        return Response(exc.code, body, _headers(exc.headers))
    except urllib.error.URLError as exc:
        return _failure(exc.reason, timeout)
    except Exception as exc:  # timeouts while reading, resets, malformed status lines
        return _failure(exc, timeout)


def _headers(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()} if headers else {}


def _failure(reason, timeout: float) -> Failure:
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return Failure("timeout", f"timed out after {timeout:g} s")
    if isinstance(reason, ConnectionRefusedError):
        return Failure("refused", "connection refused")
    if isinstance(reason, socket.gaierror):
        return Failure("network", f"cannot resolve the host ({reason.strerror or reason})")
    text = str(reason) or type(reason).__name__
    return Failure("network", text)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (``120`` or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Pacer:
    """Spacing of the requests to one source: at least ``interval`` seconds apart, and none before a 429's wait ends."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = interval
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = 0.0  # earliest time of the next request
        self._blocked_until = 0.0  # a Retry-After still running

    def blocked_for(self) -> float:
        """Seconds left of a wait a 429 asked for (0 when none)."""
        with self._lock:
            return max(0.0, self._blocked_until - self._clock())

    def block(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def wait_turn(self, most: float) -> bool:
        """Wait for this request's turn; False (and no wait) when that would take longer than ``most`` seconds."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            if start - now > most:
                return False
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)
        return True
