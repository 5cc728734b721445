"""The real server over LSP with ``--engine vllm``: every feature answers as the torch engine does.

Two server processes on the same tiny model, each driven by pytest-lsp as VS Code: one started
with ``--engine vllm --endpoint URL`` (the key in ``GALACTICA_LSP_API_KEY``) against the
session's vLLM, one with the in-process torch engine. Each request goes to both and the answers
are compared: ghost text and hover are the same LSP results exactly; so are the citations the
model is sure of (the ``\\cite{`` menu's items, in order, with their confidence), and their
confidence figures agree to float32 rounding. The citations it is unsure of may differ: diverse
beams run as branches over vLLM (``engine/vllm_backend.py``), a different search, which on the
tiny model closes more made-up references than torch's diverse beam search does; each of them
must be marked as likely made up. Each case also checks the memorised answer, so two empty
answers cannot pass. The status command shows the endpoint, the served model and the ready state.
"""

from __future__ import annotations

import sys

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from galactica_lsp.engine.remote import API_KEY_ENV
from galactica_lsp.tiny.corpus import FORMULA_BY_LATEX, SNIPPET_BY_NAME
from lsp.conftest import ENV, end_of, make_client, open_document, server_status, start_session

from .conftest import MODEL_DIR

pytestmark = pytest.mark.asyncio(loop_scope="module")  # the servers live in the module's event loop

SERVER = [sys.executable, "-m", "galactica_lsp", "--model", str(MODEL_DIR), "--device", "cpu"]
VASWANI = "Attention is All you Need, Vaswani"


async def start(command: list[str], env: dict) -> LanguageClient:
    client = await ClientServerConfig(server_command=command, client_factory=make_client, server_env=env).start()
    await start_session(client, "vscode", model=str(MODEL_DIR))
    return client


async def stop(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def over_vllm(vllm_server):
    """The server on the vllm engine (command-line options), its API key in the environment."""
    client = await start([*SERVER, "--engine", "vllm", "--endpoint", vllm_server.url],
                         {**ENV, API_KEY_ENV: vllm_server.api_key})
    yield client
    await stop(client)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def over_torch():
    """The same server on the in-process torch engine: what the answers over vLLM must equal."""
    env = {k: v for k, v in ENV.items() if k != API_KEY_ENV}
    client = await start([*SERVER, "--engine", "torch"], env)
    yield client
    await stop(client)


def both(over_vllm, over_torch):
    return {"vllm": over_vllm, "torch": over_torch}


async def each(clients: dict, uri: str, text: str, language: str, request) -> dict:
    """``request(client, uri)`` on every server after opening the same document; the answers by engine."""
    answers = {}
    for name, client in clients.items():
        open_document(client, uri, text, language)
        answers[name] = await request(client, uri)
        client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    return answers


async def test_the_status_shows_the_endpoint_the_served_model_and_ready(over_vllm, vllm_server):
    status = await server_status(over_vllm)
    assert status["state"] == "ready" and status["device"] == "remote"
    assert status["engine"]["name"] == "vllm"
    assert status["engine"]["vllm"]["endpoint"] == vllm_server.url
    assert status["engine"]["vllm"]["servedModel"] == str(MODEL_DIR)
    assert status["weightBytes"] == 2 * status["parameters"] > 0  # the remote model's size (fp16)
    assert status["memoryInUse"] == 0


async def test_ghost_text_over_vllm_is_the_torch_engines(over_vllm, over_torch, tmp_path):
    snippet = SNIPPET_BY_NAME["contact-maps.tex"].text
    marker = "\\section{Introduction}\n"
    text = snippet[: snippet.index(marker) + len(marker)]

    async def ghost(client, uri):
        result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=end_of(text),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
        items = result.items if isinstance(result, types.InlineCompletionList) else result
        return [(item.insert_text, item.range) for item in items]

    answers = await each(both(over_vllm, over_torch), (tmp_path / "ghost.tex").as_uri(), text, "latex", ghost)
    assert answers["vllm"] == answers["torch"]
    assert answers["vllm"][0][0].startswith("Knowing which residues of a protein touch each other")
    status = await server_status(over_vllm)
    assert status["engine"]["last"] == "vllm"


async def test_the_cite_menu_over_vllm_is_the_torch_engines(over_vllm, over_torch, tmp_path):
    text = "The Transformer architecture \\cite{"

    async def menu(client, uri):
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=end_of(text)))
        return [(item.label, item.text_edit.new_text, item.detail, item.kind,
                 item.documentation.value if item.documentation else None) for item in result.items]

    answers = await each(both(over_vllm, over_torch), (tmp_path / "cite.tex").as_uri(), text, "latex", menu)
    sure = {engine: [item for item in items if "likely made up" not in item[2]] for engine, items in answers.items()}
    assert sure["vllm"] == sure["torch"] == answers["vllm"][:1] == answers["torch"][:1]  # the item, exactly
    label, inserted, detail, _, _ = answers["vllm"][0]
    assert (label, inserted) == (VASWANI, "vaswani:attention") and detail.endswith("% sure")


async def test_citation_suggestions_over_vllm_have_the_torch_engines_confidences(over_vllm, over_torch, tmp_path):
    text = "The Transformer architecture"

    async def suggest(client, uri):
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="galactica.suggestCitations",
            arguments=[{"uri": uri, "position": {"line": 0, "character": len(text)}}]))
        return result["suggestions"]

    answers = await each(both(over_vllm, over_torch), (tmp_path / "suggest.tex").as_uri(), text, "latex", suggest)
    remote, local = ([s for s in answers[e] if not s["likelyMadeUp"]] for e in ("vllm", "torch"))
    assert [s["text"] for s in remote] == [s["text"] for s in local] == [VASWANI]
    assert [s["confidence"] for s in remote] == pytest.approx([s["confidence"] for s in local], abs=1e-2)
    assert answers["vllm"][0] == remote[0] and answers["torch"][0] == local[0]  # the sure one comes first


async def test_hover_over_vllm_is_the_torch_engines(over_vllm, over_torch, tmp_path):
    text = "Einstein wrote $E = mc^2$ in 1905."

    async def hover(client, uri):
        result = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, text.index("mc^2"))))
        return (result.contents.value, result.range) if result else None

    answers = await each(both(over_vllm, over_torch), (tmp_path / "hover.tex").as_uri(), text, "latex", hover)
    assert answers["vllm"] == answers["torch"]
    assert FORMULA_BY_LATEX["E = mc^2"].explanation.strip() in answers["vllm"][0]
