"""The remote engine's HTTP client against failures a real server rarely shows on demand.

Each test runs a small standard-library HTTP server on 127.0.0.1 that answers one way (an error
status, a broken body, silence, a 503 before a 200) and checks the error kind the client reports,
whether it retried, and that the API key goes in the header and nowhere else. The behaviour
against a real vLLM is in tests/remote.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from galactica_lsp.engine.remote import Aborted, Metrics, RemoteClient, RemoteError, completion_body


class Fake:
    """An HTTP server whose handler is ``reply(handler)``; it records each request's path and headers."""

    def __init__(self, reply):
        self.requests: list[tuple[str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                fake.requests.append((self.path, dict(self.headers)))
                reply(self)

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def send(handler, status: int, body: bytes, content_type: str = "application/json"):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def fake():
    made = []

    def make(reply):
        made.append(Fake(reply))
        return made[-1]

    yield make
    for server in made:
        server.close()


def client(url: str, **kwargs) -> RemoteClient:
    return RemoteClient(url, **{"retries": 2, "backoff": 0.01, "read_timeout": 2.0, **kwargs})


def test_a_refused_connection_is_retried_then_reported_as_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(RemoteError) as error:
        client(f"http://127.0.0.1:{port}").health()
    assert error.value.kind == "refused"
    assert "connection refused" in str(error.value)


def test_a_503_is_retried_with_backoff_and_the_later_200_wins(fake):
    answers = iter([503, 503, 200])
    models_page = b'{"object": "list", "data": [{"id": "m", "root": "/m", "max_model_len": 7}]}'
    server = fake(lambda h: send(h, next(answers), models_page))
    models = client(server.url).models()
    assert [m.id for m in models] == ["m"] and models[0].max_model_len == 7
    assert len(server.requests) == 3


def test_a_400_is_not_retried_and_carries_the_servers_message(fake):
    server = fake(lambda h: send(h, 400, b'{"error": {"message": "max_tokens is too large", "code": 400}}'))
    with pytest.raises(RemoteError) as error:
        client(server.url).complete(completion_body("m", [1, 2], 4, [2]))
    assert error.value.kind == "rejected" and error.value.status == 400
    assert "max_tokens is too large" in str(error.value)
    assert len(server.requests) == 1


def test_a_401_says_to_set_the_api_key(fake):
    server = fake(lambda h: send(h, 401, b'{"error": "Unauthorized"}'))
    with pytest.raises(RemoteError) as error:
        client(server.url).models()
    assert error.value.kind == "unauthorized"
    assert "GALACTICA_LSP_API_KEY" in str(error.value)


def test_a_500_that_stays_is_reported_as_a_server_error(fake):
    server = fake(lambda h: send(h, 500, b"Internal Server Error", "text/plain"))
    with pytest.raises(RemoteError) as error:
        client(server.url).models()
    assert error.value.kind == "server" and error.value.status == 500
    assert len(server.requests) == 1  # 500 is a bug, not a restart: no retry


def test_a_reply_that_is_not_json_is_malformed(fake):
    server = fake(lambda h: send(h, 200, b"<html>proxy login</html>", "text/html"))
    with pytest.raises(RemoteError) as error:
        client(server.url).models()
    assert error.value.kind == "malformed"


def test_a_streamed_chunk_that_is_not_json_is_malformed(fake):
    def reply(h):
        send(h, 200, b'data: {"choices": [{"index": 0, "text": "a"}]}\n\ndata: {broken\n\n', "text/event-stream")

    server = fake(reply)
    with pytest.raises(RemoteError) as error:
        client(server.url).complete(completion_body("m", [1, 2], 4, [2]))
    assert error.value.kind == "malformed"


def test_a_server_that_never_answers_times_out(fake):
    release = threading.Event()
    server = fake(lambda h: release.wait(10))
    try:
        with pytest.raises(RemoteError) as error:
            client(server.url, read_timeout=0.3).models()
        assert error.value.kind == "timeout"
    finally:
        release.set()


def test_a_stream_that_stops_sending_times_out(fake):
    release = threading.Event()

    def reply(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write(b'data: {"choices": [{"index": 0, "text": "a"}]}\n\n')
        h.wfile.flush()
        release.wait(10)

    server = fake(reply)
    try:
        with pytest.raises(RemoteError) as error:
            client(server.url, read_timeout=0.3).complete(completion_body("m", [1, 2], 4, [2]))
        assert error.value.kind == "timeout"
    finally:
        release.set()


def test_cancelling_a_stream_closes_its_connection(fake):
    closed = threading.Event()

    def reply(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        try:
            for i in range(1000):
                chunk = {"choices": [{"index": 0, "text": "x", "logprobs": {"tokens": [f"token_id:{i}"],
                                                                            "token_logprobs": [-0.5]}}]}
                h.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                h.wfile.flush()
                threading.Event().wait(0.01)
        except OSError:
            closed.set()  # the client went away: what vLLM sees as a disconnect

    server = fake(reply)
    seen = []

    def cancelled():
        seen.append(1)
        return len(seen) > 5

    with pytest.raises(Aborted):
        client(server.url).complete(completion_body("m", [1, 2], 1000, [2]), cancelled)
    assert closed.wait(5)


def test_the_api_key_goes_in_the_header_only(fake, caplog):
    caplog.set_level(logging.DEBUG)
    answers = iter([503, 200])
    server = fake(lambda h: send(h, next(answers), b'{"data": []}'))
    remote = client(server.url, api_key="sk-secret-777")
    assert remote.models() == []
    assert all(headers.get("Authorization") == "Bearer sk-secret-777" for _, headers in server.requests)
    assert "sk-secret-777" not in repr(remote)
    assert "sk-secret-777" not in caplog.text and "trying again" in caplog.text  # the retry was logged, the key not


def test_errors_never_show_the_api_key(fake):
    server = fake(lambda h: send(h, 403, b'{"error": {"message": "bad key"}}'))
    with pytest.raises(RemoteError) as error:
        client(server.url, api_key="sk-secret-777").models()
    assert "sk-secret-777" not in str(error.value) and error.value.kind == "unauthorized"


def test_a_redirect_is_not_followed(fake):
    def reply(h):
        h.send_response(307)
        h.send_header("Location", "http://elsewhere.example/v1/models")
        h.send_header("Content-Length", "0")
        h.end_headers()

    server = fake(reply)
    with pytest.raises(RemoteError) as error:
        client(server.url, api_key="k").models()
    assert error.value.kind == "rejected" and "redirect not followed" in str(error.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize("url", ["ftp://host", "localhost:8000", "http://user:pw@host:1"])
def test_endpoints_that_are_not_plain_http_urls_are_refused(url):
    with pytest.raises(ValueError):
        RemoteClient(url)


def test_an_api_root_url_is_accepted_with_or_without_v1(fake):
    server = fake(lambda h: send(h, 200, b'{"data": []}'))
    client(server.url + "/v1").models()
    client(server.url + "/").models()
    assert [path for path, _ in server.requests] == ["/v1/models", "/v1/models"]


def test_metrics_are_read_by_name_and_labels():
    page = "\n".join([
        "# HELP vllm:request_success_total Count of successfully processed requests.",
        'vllm:request_success_total{engine="0",finished_reason="abort",model_name="a b, c"} 2.0',
        'vllm:request_success_total{engine="0",finished_reason="stop",model_name="a b, c"} 3.0',
        "vllm:prefix_cache_hits_total 7",
    ])
    metrics = Metrics.parse(page)
    assert metrics.value("vllm:request_success_total") == 5.0
    assert metrics.value("vllm:request_success_total", finished_reason="abort") == 2.0
    assert metrics.value("vllm:prefix_cache_hits_total") == 7.0
    assert metrics.value("vllm:absent") == 0.0


def test_the_completion_request_asks_for_what_galactica_needs():
    body = completion_body("m", [2, 4], 48, [5, 2], n=3, beam_search=True)
    assert body["prompt"] == [2, 4] and body["stop_token_ids"] == [5, 2]
    assert body["skip_special_tokens"] is False and body["spaces_between_special_tokens"] is False
    assert body["return_tokens_as_token_ids"] is True and body["logprobs"] == 0
    assert body["use_beam_search"] is True and body["n"] == 3 and body["ignore_eos"] is True
