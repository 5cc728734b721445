"""A local HTTP server on 127.0.0.1 that serves the recorded real answers, and the error cases.

Routes are set per test: a path maps to an answer (status, body, headers, and
a delay for the timeout case). Every request is recorded (path, query,
headers) so tests can assert what was sent, and how many times.
"""

from __future__ import annotations

import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from galactica_lsp.verify import Verifier
from galactica_lsp.verify.cache import Cache

RECORDED = Path(__file__).parent / "recorded"
NO_PACING = {"crossref": 0.0, "dblp": 0.0, "arxiv": 0.0, "semanticscholar": 0.0}


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (longer than the client's timeout: a timeout)


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class LocalServer:
    def __init__(self):
        self.routes: dict[str, Answer] = {}
        self.requests: list[Seen] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = urllib.parse.urlsplit(self.path)
                outer.requests.append(Seen(parts.path, urllib.parse.parse_qs(parts.query),
                                           {k.lower(): v for k, v in self.headers.items()}))
                answer = outer.routes.get(parts.path, Answer(404, b'{"message": "no route in the test server"}'))
                if answer.delay:
                    outer.release.wait(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout case)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def serve(self, path: str, body: bytes = b"", status: int = 200, headers: dict[str, str] | None = None,
              delay: float = 0.0, content_type: str = "application/json") -> None:
        self.routes[path] = Answer(status, body, {"Content-Type": content_type, **(headers or {})}, delay)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def cache(tmp_path) -> Cache:
    return Cache(tmp_path / "cache")


@pytest.fixture
def make_verifier(server, cache):
    """A Verifier whose every source is the local server (no pacing, a fresh cache), with overrides."""

    def make(**options) -> Verifier:
        options.setdefault("endpoints", {name: server.url for name in NO_PACING})
        options.setdefault("intervals", NO_PACING)
        options.setdefault("cache", cache)
        options.setdefault("timeout", 5.0)
        return Verifier(**options)

    return make
