"""How a server session begins and ends: before initialize, after shutdown, exit, and a client that goes away.

Each test starts its own server (the session's end is what is tested). Waits are hang guards only.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from .raw import HANG_GUARD, RawServer, frame, initialize, notification, read_message, request

TEXT = "The energy is $E = mc^2$ where the constant is the speed of light, and the mass"


def started(*extra: str, count: int = 1) -> RawServer | list[RawServer]:
    """Servers past initialize (all started before any is waited for)."""
    servers = [RawServer(*extra) for _ in range(count)]
    for raw in servers:
        raw.send(initialize(0), notification("initialized", {}))
    for raw in servers:
        assert "capabilities" in raw.reply(0)["result"]
    return servers[0] if count == 1 else servers


def test_before_initialize_a_request_is_not_initialized_and_a_notification_is_dropped():
    raw = RawServer()
    try:
        raw.send(notification("textDocument/didOpen", {"textDocument": {
            "uri": "file:///tmp/early.tex", "languageId": "latex", "version": 1, "text": "x"}}))
        raw.send(request(1, "textDocument/hover", {"textDocument": {"uri": "file:///tmp/early.tex"},
                                                   "position": {"line": 0, "character": 0}}))
        assert raw.reply(1)["error"]["code"] == -32002
        raw.send(initialize(2))
        assert "capabilities" in raw.reply(2)["result"]
        raw.send(request(3, "textDocument/codeAction", {
            "textDocument": {"uri": "file:///tmp/early.tex"}, "range": {"start": {"line": 0, "character": 0},
                                                                         "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": []}}))
        assert raw.reply(3)["result"] == []  # the early didOpen was dropped
    finally:
        raw.stop()


def test_after_shutdown_requests_are_invalid_and_exit_ends_the_process_with_status_0():
    raw = started()
    try:
        raw.send(request(1, "shutdown"))
        assert raw.reply(1) == {"jsonrpc": "2.0", "id": 1, "result": None}
        raw.send(notification("textDocument/didOpen", {"textDocument": {
            "uri": "file:///tmp/late.tex", "languageId": "latex", "version": 1, "text": "$x$"}}))
        raw.send(request(2, "textDocument/hover", {"textDocument": {"uri": "file:///tmp/late.tex"},
                                                   "position": {"line": 0, "character": 1}}))
        error = raw.reply(2)["error"]
        assert error["code"] == -32600 and "shut down" in error["message"]
        raw.send(request(3, "shutdown"))
        assert raw.reply(3)["error"]["code"] == -32600
        raw.send(notification("exit"))
        assert raw.wait() == 0
        assert raw.next() is None  # nothing after the answers: the didOpen was ignored
        assert all(m.get("id") in (0, 1, 2, 3) or "method" in m for m in raw.seen)
    finally:
        raw.stop()


def test_exit_without_shutdown_ends_the_process_with_status_1():
    raw = started()
    try:
        raw.send(notification("exit"))
        assert raw.wait() == 1
    finally:
        raw.stop()


def test_closing_stdin_ends_the_process():
    raw = started()
    try:
        raw.close_stdin()
        assert raw.wait() == 0
    finally:
        raw.stop()


def test_closing_stdin_while_the_model_generates_exits_cleanly_every_time():
    """The engine's thread is stopped before the interpreter exits: never SIGABRT ('terminate called …')."""
    servers = started(count=5)
    try:
        for raw in servers:
            raw.wait_ready()
        for raw in servers:
            uri = f"file:///tmp/generating-{raw.process.pid}.md"
            raw.send(notification("textDocument/didOpen", {"textDocument": {
                "uri": uri, "languageId": "markdown", "version": 1, "text": TEXT}}))
            formula = {"start": {"line": 0, "character": 15}, "end": {"line": 0, "character": 23}}
            raw.send(
                request(1, "workspace/executeCommand", {"command": "galactica.explainFormula", "arguments": [
                    {"uri": uri, "range": formula, "mode": "work", "insert": False}]}),
                request(2, "textDocument/inlineCompletion", {
                    "textDocument": {"uri": uri}, "position": {"line": 0, "character": len(TEXT)},
                    "context": {"triggerKind": 2}}),
                request(3, "workspace/executeCommand", {"command": "galactica.explainFormula", "arguments": [
                    {"uri": uri, "range": formula, "mode": "explain", "insert": False}]}),
            )
            raw.close_stdin()
        for raw in servers:
            status = raw.wait()
            log = raw.log()
            assert status == 0, log[-3000:]
            assert "terminate called" not in log
    finally:
        for raw in servers:
            raw.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connect(port: int, raw: RawServer) -> socket.socket:
    deadline = time.monotonic() + HANG_GUARD
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        except OSError:
            assert raw.process.poll() is None, raw.log()[-3000:]
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.2)


def test_a_tcp_server_ends_when_its_client_disconnects():
    port = _free_port()
    raw = RawServer("--tcp", "--port", str(port))
    try:
        conn = _connect(port, raw)
        replies = conn.makefile("rb")
        conn.sendall(frame(initialize(1)))
        assert "capabilities" in read_message(replies)["result"]
        conn.sendall(b"content-length:%d\n\n" % len(b"{}") + b"{}")  # the stdio reader's rules hold here too
        assert read_message(replies)["error"]["code"] == -32600
        replies.close()
        conn.close()
        assert raw.wait() == 0
    finally:
        raw.stop()


def test_a_websocket_server_ends_when_its_client_disconnects():
    sync_client = pytest.importorskip("websockets.sync.client")
    port = _free_port()
    raw = RawServer("--ws", "--port", str(port))
    try:
        deadline = time.monotonic() + HANG_GUARD
        while True:
            try:
                ws = sync_client.connect(f"ws://127.0.0.1:{port}", open_timeout=HANG_GUARD)
                break
            except OSError:
                assert raw.process.poll() is None, raw.log()[-3000:]
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.2)
        with ws:
            ws.send(json.dumps(initialize(1)))
            assert "capabilities" in json.loads(ws.recv(timeout=HANG_GUARD))["result"]
            ws.send("not json")
            assert json.loads(ws.recv(timeout=HANG_GUARD))["error"]["code"] == -32700
        assert raw.wait() == 0
    finally:
        raw.stop()

