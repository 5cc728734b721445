"""End-to-end fixtures: the real server as a subprocess on the tiny model, driven by pytest-lsp.

Each test runs twice: as VS Code and as Neovim (their recorded capabilities),
with the LSP 3.18 inline-completion capability that current releases of both
announce. pytest-lsp checks every message against those capabilities, and
``LspSpecificationWarning`` is an error (pyproject.toml).

One server per client kind per test module: ``client`` and ``menu_client``
are function-scoped views of a module-scoped session (``shared_client``,
``shared_menu_client``). Around each test the view

- gives the test its own folder for document URIs (``doc_uri(client, "x.tex")``,
  under the test's ``tmp_path``), so no two tests share a document;
- clears what the client recorded (applied edits, ``galactica/status``
  notifications, diagnostics, shown messages and documents);
- afterwards closes every document the test left open, restores the settings
  if the test pushed others, and waits until the model is ready and its queue
  empty (a test that leaves the shared server otherwise fails at teardown).

A test must therefore not rely on a fresh server (its first request, its
load notifications, empty caches). Tests that need one take a function-scoped
fixture that starts its own server: ``fresh_client`` (a test that switches
the model), ``lsp_early_client`` (before the model is ready), ``ct2_client``
(another engine).

Every async test and fixture here runs in the module's event loop (the
session lives in it): ``pytest_collection_modifyitems`` below marks the tests
of this folder ``asyncio(loop_scope="module")``, and async fixtures run in
the module's loop by default (pyproject.toml); an async fixture must not ask
for ``loop_scope="function"`` (it would wait on the session forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

CLIENTS = {"vscode": "visual-studio-code", "neovim": "neovim"}
# The tiny model unless told otherwise (a directory with a rebuilt tiny model, while iterating on it).
MODEL = os.environ.get("GALACTICA_TEST_MODEL", "tiny")
SERVER = [sys.executable, "-m", "galactica_lsp", "--model", MODEL, "--device", "cpu"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
# The busy machine must not cut an answer short: a generous cap on one generation (the default is 8 s).
TIME_LIMIT = 120.0
# Nor open a citation menu before the model's answer (tests/lsp/test_citation_menu_wait.py sets its own).
OPTIONS = {"model": MODEL, "device": "cpu", "timeLimit": TIME_LIMIT, "citationMenuWait": TIME_LIMIT}
# Hang guards only: how long a stuck server may keep a test waiting.
LOAD_TIMEOUT = 300.0
IDLE_TIMEOUT = 300.0
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """The async tests of this folder run in their module's event loop, where the shared session lives."""
    for item in items:
        if item.path.is_relative_to(HERE) and inspect.iscoroutinefunction(getattr(item, "obj", None)):
            item.add_marker(pytest.mark.asyncio(loop_scope="module"), append=False)


def make_client() -> LanguageClient:
    """pytest-lsp's client, plus workspace/applyEdit applied to an in-memory copy of each document."""
    client = pytest_lsp.client.make_test_lsp_client()
    client.applied_edits = []
    client.status = []
    client.open_uris = set()  # documents opened and not closed yet (closed for the test at its end)
    client.folder = None  # the current test's folder for document URIs (see doc_uri)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        client.applied_edits.append(params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    client.registrations = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams):
        client.registrations.extend(params.registrations)

    @client.feature("galactica/status")
    def status(params):
        client.status.append(params)

    did_open, did_close = client.text_document_did_open, client.text_document_did_close

    def text_document_did_open(params: types.DidOpenTextDocumentParams) -> None:
        client.open_uris.add(params.text_document.uri)
        did_open(params)

    def text_document_did_close(params: types.DidCloseTextDocumentParams) -> None:
        client.open_uris.discard(params.text_document.uri)
        did_close(params)

    client.text_document_did_open = text_document_did_open
    client.text_document_did_close = text_document_did_close
    return client


CONFIG = ClientServerConfig(server_command=SERVER, client_factory=make_client, server_env=ENV)


def capabilities(name: str, inline: bool = True) -> types.ClientCapabilities:
    caps = client_capabilities(CLIENTS[name])
    if inline:
        caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return caps


def state_of(status) -> str | None:
    """The state of a ``galactica/status`` notification (the client may read it as an object or a dict)."""
    return status.get("state") if isinstance(status, dict) else getattr(status, "state", None)


async def wait_ready(client: LanguageClient, timeout: float = LOAD_TIMEOUT) -> None:
    """Until the server says the model is ready (it loads in the background after `initialized`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if any(state_of(s) == "ready" for s in client.status):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"model not ready after {timeout} s; status: {client.status[-3:]}")


async def server_status(client: LanguageClient) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="galactica.status"))


def doc_uri(client: LanguageClient, name: str) -> str:
    """A document URI that belongs to the running test alone (in its own folder)."""
    assert client.folder is not None, "doc_uri needs the `client` or `menu_client` fixture"
    return (client.folder / name).as_uri()


def open_document(client: LanguageClient, uri: str, text: str, language: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
        )
    )


def column(client: LanguageClient, before: str) -> int:
    """The character of a position after ``before`` (one line), in the session's position encoding."""
    encoding = getattr(client, "position_encoding", "utf-16")
    if encoding == "utf-8":
        return len(before.encode("utf-8"))
    if encoding == "utf-32":
        return len(before)
    return len(before.encode("utf-16-le")) // 2


def end_of(text: str) -> types.Position:
    lines = text.split("\n")
    return types.Position(line=len(lines) - 1, character=len(lines[-1].encode("utf-16-le")) // 2)


async def start_session(client: LanguageClient, kind: str, inline: bool = True, ready: bool = True,
                        **options) -> None:
    """initialize/initialized as the recorded client ``kind``, then (with ``ready``) wait for the model."""
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(kind, inline=inline),
            root_uri=Path.cwd().as_uri(),
            initialization_options={"galactica": {**OPTIONS, **options}},
        )
    )
    client.position_encoding = str(result.capabilities.position_encoding or "utf-16")
    if ready:
        await wait_ready(client)


@contextlib.asynccontextmanager
async def one_test(client: LanguageClient, folder: Path) -> AsyncIterator[LanguageClient]:
    """A shared session as one test sees it: its own documents and records; settings as they were, after."""
    client.folder = folder
    for record in (client.applied_edits, client.status, client.messages, client.shown_documents):
        record.clear()
    client.diagnostics.clear()
    settings = (await server_status(client))["settings"]
    yield client
    client.folder = None
    for uri in sorted(client.open_uris):
        client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    now = await server_status(client)
    if now["settings"] != settings:
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"galactica": settings}))
        now = await server_status(client)
        assert now["settings"] == settings, "the session's settings could not be restored after the test"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + IDLE_TIMEOUT
    while (now["queued"] or now["state"] != "ready") and loop.time() < deadline:
        await asyncio.sleep(0.05)
        now = await server_status(client)
    assert now["state"] == "ready" and not now["queued"], (
        f"the shared server is not idle after the test: state {now['state']}, {now['queued']} jobs queued")


@pytest_lsp.fixture(scope="module", params=list(CLIENTS), config=CONFIG)
async def shared_client(request, lsp_client: LanguageClient):
    """One session per module and client kind, with ghost text; tests take `client`, not this."""
    await start_session(lsp_client, request.param, suggestions=3)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(scope="module", params=list(CLIENTS), config=CONFIG)
async def shared_menu_client(request, lsp_client: LanguageClient):
    """One session per module and client kind without ghost text; tests take `menu_client`, not this."""
    await start_session(lsp_client, request.param, inline=False)
    yield
    await lsp_client.shutdown_session()


@pytest_asyncio.fixture(loop_scope="module")
async def client(shared_client: LanguageClient, tmp_path: Path):
    """The module's session as VS Code or Neovim with inline completion (ghost text), for one test."""
    async with one_test(shared_client, tmp_path) as view:
        yield view


@pytest_asyncio.fixture(loop_scope="module")
async def menu_client(shared_menu_client: LanguageClient, tmp_path: Path):
    """The recorded clients as they were: no inline completion, so continuations come through the menu."""
    async with one_test(shared_menu_client, tmp_path) as view:
        yield view


@pytest_lsp.fixture(params=list(CLIENTS), config=CONFIG, loop_scope="module")
async def fresh_client(request, lsp_client: LanguageClient):
    """A server of the test's own (function scope), for tests that change the model or end the session."""
    await start_session(lsp_client, request.param, suggestions=3)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=CONFIG, loop_scope="module")
async def ct2_client(lsp_client: LanguageClient):
    """A server of the test's own whose settings ask for the CTranslate2 engine (converted into the test's cache)."""
    pytest.importorskip("ctranslate2")
    await start_session(lsp_client, "vscode", engine="ctranslate2")
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=CONFIG, loop_scope="module")
async def lsp_early_client(lsp_client: LanguageClient):
    """A server of the test's own, handed to the test before the model has loaded."""
    await start_session(lsp_client, "vscode", ready=False)
    yield
    await lsp_client.shutdown_session()
