"""Bad input gets a well-formed answer and the server keeps serving."""

from __future__ import annotations

import json
import subprocess

from lsprotocol import types

from .conftest import ENV, LOAD_TIMEOUT, MODEL, SERVER, column, doc_uri, open_document

VASWANI = "Attention is All you Need, Vaswani"


def inline(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
    )


def hover(uri: str, line: int, character: int) -> types.HoverParams:
    return types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri),
                             position=types.Position(line=line, character=character))


async def test_positions_past_the_end_are_clamped(client):
    uri = doc_uri(client, "short.tex")
    open_document(client, uri, "The Transformer architecture ", "latex")
    for line, character in [(0, 500), (40, 0), (40, 500)]:
        result = await client.text_document_inline_completion_async(inline(uri, line, character))
        assert isinstance(result, types.InlineCompletionList)
    assert await client.text_document_hover_async(hover(uri, 99, 99)) is None


async def test_a_position_inside_a_surrogate_pair(client):
    text = "Let 𝑥 be real and 😀 happy: $𝑥^2 = 4$ holds."
    uri = doc_uri(client, "surrogate.md")
    open_document(client, uri, text, "markdown")
    inside_x = column(client, "Let ") + 1  # between the code units of 𝑥 (two in UTF-16, four in UTF-8)
    result = await client.text_document_inline_completion_async(inline(uri, 0, inside_x))
    assert not result.items  # mid-word after clamping to the start of 𝑥
    found = await client.text_document_hover_async(hover(uri, 0, column(client, "Let 𝑥 be real and 😀 happy: $𝑥")))
    assert found is not None and "`𝑥^2 = 4`" in found.contents.value
    assert found.range == types.Range(types.Position(0, column(client, "Let 𝑥 be real and 😀 happy: ")),
                                      types.Position(0, column(client, "Let 𝑥 be real and 😀 happy: $𝑥^2 = 4$")))


async def test_a_ten_megabyte_document(client):
    # Prose the tiny model knows (it cites the paper at the cursor), so the answer after ten megabytes is checkable.
    paragraph = f"The Transformer architecture [START_REF] {VASWANI}[END_REF] is everywhere.\n" * 20 + "\n"
    text = paragraph * (10_000_000 // len(paragraph) + 1) + "The Transformer architecture [START_REF]"
    assert len(text) > 10_000_000
    uri = doc_uri(client, "huge.md")
    open_document(client, uri, text, "markdown")
    last = text.count("\n")
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                               position=types.Position(line=last, character=len("The Transformer architecture [START_REF]")))
    )
    assert result.items and all(item.label and item.text_edit for item in result.items)
    assert result.items[0].label == VASWANI


async def test_a_binary_file_opened_as_text_gets_no_completion(client):
    uri = doc_uri(client, "image.tex")
    open_document(client, uri, "PNG\x00\x01\x02\x00\x00IHDR\x00" * 100, "latex")
    result = await client.text_document_inline_completion_async(inline(uri, 0, 50))
    assert not result.items


async def test_requests_for_a_document_never_opened(client):
    uri = doc_uri(client, "never-opened.tex")
    result = await client.text_document_inline_completion_async(inline(uri, 0, 0))
    assert not result.items
    assert await client.text_document_hover_async(hover(uri, 0, 0)) is None
    menu = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                               position=types.Position(line=0, character=0)))
    assert not menu.items


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_malformed_json_rpc_bodies_do_not_stop_the_server():
    messages = [
        frame(b"{this is not json"),
        frame(b'{"jsonrpc": "2.0", "id": 1, "method": "initialize"'),  # truncated
        frame(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "initialize",
                          "params": {"processId": None, "rootUri": None, "capabilities": {},
                                     "initializationOptions": {"galactica": {"model": MODEL, "device": "cpu"}}}}).encode()),
        frame(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover", "params": {"bogus": 1}}).encode()),
        frame(json.dumps({"jsonrpc": "2.0", "id": 4, "method": "no/such/method", "params": {}}).encode()),
        frame(json.dumps({"jsonrpc": "2.0", "id": 5, "method": "shutdown"}).encode()),
        frame(json.dumps({"jsonrpc": "2.0", "method": "exit"}).encode()),
    ]
    result = subprocess.run(SERVER, input=b"".join(messages), capture_output=True, timeout=LOAD_TIMEOUT, env=ENV)
    bodies = [json.loads(chunk.split(b"\r\n\r\n", 1)[1]) for chunk in result.stdout.split(b"Content-Length: ")[1:]]
    replies = {body["id"]: body for body in bodies if "id" in body}
    assert "result" in replies[3] and "capabilities" in replies[3]["result"]
    assert replies[4]["error"]["code"] == -32601
    assert replies[5] == {"jsonrpc": "2.0", "id": 5, "result": None}
    assert replies[2]["error"]["code"] == -32602  # unreadable params are answered with an error, not dropped
    # The two bodies that are not JSON get JSON-RPC's parse error.
    assert sum(1 for body in bodies if body.get("error", {}).get("code") == -32700) == 2
