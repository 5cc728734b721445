"""A session with one client (VS Code's recorded capabilities) and the model ready, for tests about the server
rather than the client: ``conftest``'s ``lsp_early_client``, once the model is loaded.

Import the fixture into a test module: ``from .sessions import one_client  # noqa: F401``.
"""

from __future__ import annotations

import pytest
from pytest_lsp import LanguageClient

from .conftest import wait_ready


@pytest.fixture
async def one_client(lsp_early_client: LanguageClient) -> LanguageClient:
    await wait_ready(lsp_early_client)
    return lsp_early_client
