"""Raw bytes to the real server: broken frames, invalid JSON-RPC and odd URIs all get the answer the specs name.

One server for the module; each check uses its own ids and document URIs.
"""

from __future__ import annotations

import itertools
import json

import pytest

from .raw import RawServer, frame, initialize, notification, request

_ids = itertools.count(1000)


@pytest.fixture(scope="module")
def server():
    raw = RawServer()
    raw.send(initialize(0), notification("initialized", {}))
    assert "capabilities" in raw.reply(0)["result"]
    yield raw
    raw.stop()


def probe(server: RawServer) -> None:
    """The server still answers (a hover on a document never opened is answered null); earlier replies are taken."""
    msg_id = next(_ids)
    server.send(request(msg_id, "textDocument/hover", {"textDocument": {"uri": "file:///never-opened.tex"},
                                                       "position": {"line": 0, "character": 0}}))
    assert server.reply(msg_id) == {"jsonrpc": "2.0", "id": msg_id, "result": None}
    server.settle()  # errors for what came before were sent before this answer


def body_of(message: dict) -> bytes:
    return json.dumps(message).encode()


# -- framing -------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [b"content-length: %d\r\n\r\n", b"Content-Length:%d\r\n\r\n", b"Content-Length: %d\n\n",
     b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nCONTENT-LENGTH: %d\r\n\r\n"],
    ids=["lower-case", "no-space", "lf-only", "content-type-first"],
)
def test_headers_are_read_as_clients_write_them(server, header):
    msg_id = next(_ids)
    body = body_of(request(msg_id, "textDocument/hover", {"textDocument": {"uri": "file:///never-opened.tex"},
                                                          "position": {"line": 0, "character": 0}}))
    server.send(header % len(body) + body)
    assert server.reply(msg_id)["result"] is None


@pytest.mark.parametrize(
    "broken",
    [b"garbage without a newline", b"\r\n\r\n", b"Content-Type: text/plain\r\n\r\n{}",
     b"Content-Length: 99999\r\n\r\n{\"jsonrpc\": \"2.0\"}",  # too long: ends at the next header
     b"Content-Length: 100000000000000\r\n\r\n{\"jsonrpc\": \"2.0\"}"],  # over the size limit
    ids=["garbage", "blank-lines", "no-length", "length-too-long", "length-huge"],
)
def test_a_broken_frame_never_leaves_the_server_deaf(server, broken):
    server.send(broken)
    probe(server)


def test_a_length_too_short_is_a_parse_error_and_the_next_frame_is_read(server):
    probe(server)
    server.send(b"Content-Length: 5\r\n\r\n" + body_of(request(next(_ids), "shutdown")))
    error = server.reply(None)
    assert error["error"]["code"] == -32700
    probe(server)


def test_skipped_bytes_are_logged_on_stderr(server):
    server.send(b"some stray bytes", b"Content-Length: 100000000000000\r\n\r\n")
    probe(server)
    log = server.log()
    assert "skipped" in log and "over the 67108864-byte limit" in log


# -- JSON-RPC --------------------------------------------------------------------


def test_a_body_that_is_not_json_gets_a_parse_error_with_id_null(server):
    probe(server)
    server.send(frame(b"{this is not json"))
    assert server.reply(None) == {"jsonrpc": "2.0", "id": None,
                                  "error": {"code": -32700, "message": server.seen[-1]["error"]["message"]}}
    server.send(frame(b"\xff\xfe not utf-8"))
    assert server.reply(None)["error"]["code"] == -32700


def test_json_nested_ten_thousand_deep_is_answered(server):
    probe(server)
    server.send(frame(b"[" * 10_000 + b"]" * 10_000))
    assert server.reply(None)["error"]["code"] == -32700
    msg_id = next(_ids)
    deep = b'{"jsonrpc": "2.0", "id": %d, "method": "textDocument/hover", "params": ' % msg_id
    server.send(frame(deep + b"{\"a\": " * 10_000 + b"1" + b"}" * 10_001))
    assert server.reply(None)["error"]["code"] == -32700
    probe(server)


def test_a_batch_gets_invalid_request_for_each_request_in_it(server):
    probe(server)
    a, b = next(_ids), next(_ids)
    server.send([request(a, "shutdown"), notification("initialized", {}), request(b, "textDocument/hover", {})])
    for msg_id in (a, b):
        assert server.reply(msg_id)["error"]["code"] == -32600
    server.send([])
    assert server.reply(None)["error"]["code"] == -32600
    probe(server)  # the shutdown inside the batch was not run


@pytest.mark.parametrize(
    "message,answer_id",
    [
        ({"id": "no-version", "method": "textDocument/hover", "params": {}}, "no-version"),
        ({"jsonrpc": "1.0", "id": "old-version", "method": "textDocument/hover", "params": {}}, "old-version"),
        ({"jsonrpc": "2.0", "id": "number-method", "method": 5}, "number-method"),
        ({"jsonrpc": "2.0", "id": {"an": "object"}, "method": "textDocument/hover"}, None),
        ({"jsonrpc": "2.0", "id": [1, 2], "method": "textDocument/hover"}, None),
        ({"jsonrpc": "2.0", "id": "scalar-params", "method": "textDocument/hover", "params": 3}, "scalar-params"),
        (42, None),
    ],
    ids=["no-jsonrpc", "jsonrpc-1.0", "method-not-string", "object-id", "array-id", "scalar-params", "not-an-object"],
)
def test_invalid_requests_are_answered_with_their_id(server, message, answer_id):
    probe(server)
    server.send(frame(json.dumps(message).encode()))
    error = server.reply(answer_id)["error"]
    assert error["code"] == -32600 and error["message"].startswith("Invalid request: ")
    probe(server)


def test_unreadable_params_are_invalid_params_naming_the_fields(server):
    msg_id = next(_ids)
    server.send(request(msg_id, "textDocument/hover", {"bogus": 1}))
    error = server.reply(msg_id)["error"]
    assert error["code"] == -32602 and "textDocument" in error["message"] and "position" in error["message"]
    assert "data" not in error


@pytest.mark.parametrize(
    "arguments",
    [[{"uri": "file:///x.tex", "range": "x"}], [{"uri": "file:///x.tex", "range": None, "mode": [1]}], [None],
     None, [1, 2, 3]],
)
def test_commands_with_wrong_arguments_answer_an_error_without_a_traceback(server, arguments):
    msg_id = next(_ids)
    params = {"command": "galactica.explainFormula"}
    if arguments is not None:
        params["arguments"] = arguments
    server.send(request(msg_id, "workspace/executeCommand", params))
    error = server.reply(msg_id)["error"]
    assert error["message"] and "Traceback" not in json.dumps(error)
    assert "traceback" not in (error.get("data") or {})


def test_an_unknown_method_is_method_not_found(server):
    msg_id = next(_ids)
    server.send(request(msg_id, "no/such/method", {}))
    assert server.reply(msg_id)["error"]["code"] == -32601


# -- documents under any spelling of their URI -----------------------------------------

EXPLAIN = "galactica.explainFormula"
FORMULA = "We have $x^2 + y^2 = z^2$ here.\n"


def code_actions(server: RawServer, uri: str, line: int = 0, character: int = 12) -> list:
    msg_id = next(_ids)
    at = {"line": line, "character": character}
    server.send(request(msg_id, "textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": at, "end": at},
        "context": {"diagnostics": [], "triggerKind": 1}}))
    return server.reply(msg_id)["result"] or []


def command_uris(actions: list, command: str | None = None) -> set[str]:
    """The document each action's command names (only ``command``'s when given)."""
    return {a["command"]["arguments"][0]["uri"] for a in actions if command in (None, a["command"]["command"])}


@pytest.mark.parametrize(
    "opened,asked,changed,closed",
    [
        # VS Code percent-encodes; Neovim and others may send the path as it is.
        ("file:///tmp/proto-a/my%20paper.tex", "file:///tmp/proto-a/my paper.tex", "file:///tmp/proto-a/my%20paper.tex",
         "file:///tmp/proto-a/my paper.tex"),
        ("file:///tmp/proto-b/my paper.tex", "file:///tmp/proto-b/my%20paper.tex", "file:///tmp/proto-b/my%20paper.tex",
         "file:///tmp/proto-b/my%20paper.tex"),
        ("file:///tmp/proto-c/th%C3%A8se.tex", "file:///tmp/proto-c/thèse.tex", "file:///tmp/proto-c/th%c3%a8se.tex",
         "file:///tmp/proto-c/thèse.tex"),
        ("file:///c%3A/Users/ann/proto-d.tex", "file:///C:/Users/ann/proto-d.tex", "file:///c:/Users/ann/proto-d.tex",
         "file:///C%3a/Users/ann/proto-d.tex"),
    ],
    ids=["vscode-space", "neovim-space", "non-ascii", "drive-letter"],
)
def test_a_document_is_served_under_every_spelling_of_its_uri(server, opened, asked, changed, closed):
    server.send(notification("textDocument/didOpen", {"textDocument": {
        "uri": opened, "languageId": "latex", "version": 1, "text": "Plain words.\n"}}))
    # Open: prose actions (citations, continue paragraph) that name the document as the client opened it.
    before = code_actions(server, asked)
    assert before and command_uris(before) == {opened} and not command_uris(before, EXPLAIN)
    server.send(notification("textDocument/didChange", {
        "textDocument": {"uri": changed, "version": 2},
        "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 12}},
                            "text": FORMULA.rstrip("\n")}]}))
    assert command_uris(code_actions(server, asked), EXPLAIN) == {opened}
    assert command_uris(code_actions(server, opened), EXPLAIN) == {opened}
    server.send(notification("textDocument/didClose", {"textDocument": {"uri": closed}}))
    assert code_actions(server, opened) == [] and code_actions(server, asked) == []


def test_hover_and_ghost_text_work_for_a_path_with_a_space(server):
    server.wait_ready()
    opened, asked = "file:///tmp/proto-hover/my%20notes.md", "file:///tmp/proto-hover/my notes.md"
    server.send(notification("textDocument/didOpen", {"textDocument": {
        "uri": opened, "languageId": "markdown", "version": 1, "text": "The energy is $E = mc^2$ and the"}}))
    msg_id = next(_ids)
    server.send(request(msg_id, "textDocument/hover", {"textDocument": {"uri": asked},
                                                       "position": {"line": 0, "character": 17}}))
    hover = server.reply(msg_id)["result"]
    assert hover is not None and hover["range"] == {"start": {"line": 0, "character": 14}, "end": {"line": 0, "character": 24}}
    msg_id = next(_ids)
    server.send(request(msg_id, "textDocument/inlineCompletion", {
        "textDocument": {"uri": asked}, "position": {"line": 0, "character": 32}, "context": {"triggerKind": 2}}))
    assert "items" in server.reply(msg_id)["result"]
