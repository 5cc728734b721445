"""A session with one client (VS Code's recorded capabilities), for tests about the server rather than the client.

Import the fixture into a test module: ``from .sessions import one_client  # noqa: F401``.
"""

from __future__ import annotations

from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from .conftest import ENV, MODEL, SERVER, capabilities, make_client, wait_ready


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, client_factory=make_client, server_env=ENV))
async def one_client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities("vscode"),
            root_uri=Path.cwd().as_uri(),
            initialization_options={"galactica": {"model": MODEL, "device": "cpu"}},
        )
    )
    await wait_ready(lsp_client)
    yield
    await lsp_client.shutdown_session()
