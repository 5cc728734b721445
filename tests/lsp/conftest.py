"""End-to-end fixtures: the real server as a subprocess on the tiny model, driven by pytest-lsp.

Each test runs twice: as VS Code and as Neovim (their recorded capabilities),
with the LSP 3.18 inline-completion capability that current releases of both
announce. pytest-lsp checks every message against those capabilities, and
``LspSpecificationWarning`` is an error (pyproject.toml).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

CLIENTS = {"vscode": "visual-studio-code", "neovim": "neovim"}
# The tiny model unless told otherwise (a directory with a rebuilt tiny model, while iterating on it).
MODEL = os.environ.get("GALACTICA_TEST_MODEL", "tiny")
SERVER = [sys.executable, "-m", "galactica_lsp", "--model", MODEL, "--device", "cpu"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}


def make_client() -> LanguageClient:
    """pytest-lsp's client, plus workspace/applyEdit applied to an in-memory copy of each document."""
    client = pytest_lsp.client.make_test_lsp_client()
    client.applied_edits = []
    client.status = []

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

    return client


def capabilities(name: str, inline: bool = True) -> types.ClientCapabilities:
    caps = client_capabilities(CLIENTS[name])
    if inline:
        caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return caps


async def wait_ready(client: LanguageClient, timeout: float = 60) -> None:
    """Until the server says the model is ready (it loads in the background after `initialized`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if any(getattr(s, "state", None) == "ready" or (isinstance(s, dict) and s.get("state") == "ready")
               for s in client.status):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"model not ready after {timeout} s; status: {client.status[-3:]}")


def open_document(client: LanguageClient, uri: str, text: str, language: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
        )
    )


def end_of(text: str) -> types.Position:
    lines = text.split("\n")
    return types.Position(line=len(lines) - 1, character=len(lines[-1].encode("utf-16-le")) // 2)


@pytest_lsp.fixture(
    params=list(CLIENTS),
    config=ClientServerConfig(server_command=SERVER, client_factory=make_client, server_env=ENV),
)
async def client(request, lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(request.param),
            root_uri=Path.cwd().as_uri(),
            initialization_options={"galactica": {"model": MODEL, "device": "cpu", "suggestions": 3}},
        )
    )
    await wait_ready(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    params=list(CLIENTS),
    config=ClientServerConfig(server_command=SERVER, client_factory=make_client, server_env=ENV),
)
async def menu_client(request, lsp_client: LanguageClient):
    """The recorded clients as they were: no inline completion, so continuations come through the menu."""
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(request.param, inline=False),
            root_uri=Path.cwd().as_uri(),
            initialization_options={"galactica": {"model": MODEL, "device": "cpu"}},
        )
    )
    await wait_ready(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, client_factory=make_client, server_env=ENV))
async def ct2_client(lsp_client: LanguageClient):
    """A session whose settings ask for the CTranslate2 engine (converted into the test's cache directory)."""
    pytest.importorskip("ctranslate2")
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities("vscode"),
            root_uri=Path.cwd().as_uri(),
            initialization_options={"galactica": {"model": MODEL, "device": "cpu", "engine": "ctranslate2"}},
        )
    )
    await wait_ready(lsp_client, timeout=120)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, client_factory=make_client, server_env=ENV))
async def lsp_early_client(lsp_client: LanguageClient):
    """A session whose test starts before the model has loaded."""
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities("vscode"),
            root_uri=Path.cwd().as_uri(),
            initialization_options={"galactica": {"model": MODEL, "device": "cpu"}},
        )
    )
    yield
    await lsp_client.shutdown_session()
