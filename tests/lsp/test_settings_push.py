"""Settings pushed in workspace/didChangeConfiguration: what is kept, what goes back, and a model that cannot load.

A model switch that fails keeps the working model serving (the engine checks the new one before it
unloads the old), keeps its settings, and tells the user why.
"""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types

from galactica_lsp.tiny.corpus import FORMULA_BY_LATEX

from .conftest import MODEL, open_document
from .sessions import one_client  # noqa: F401

ENERGY = FORMULA_BY_LATEX["E = mc^2"]


def push(client, **settings) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"galactica": settings}))


async def status(client) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="galactica.status"))


async def message_with(client, text: str, timeout: float = 120) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = [m.message for m in client.messages if text in m.message]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message with {text!r}: {[m.message for m in client.messages]}")


async def test_a_bad_pushed_value_keeps_the_previous_one_and_a_missing_one_goes_back(one_client):
    client = one_client
    push(client, model=MODEL, device="cpu", maxNewTokens=20, hover=False)
    settings = (await status(client))["settings"]
    assert (settings["maxNewTokens"], settings["hover"]) == (20, False)

    push(client, model=MODEL, device="cpu", maxNewTokens="lots", hover=False)
    assert (await status(client))["settings"]["maxNewTokens"] == 20  # the previous value, not the default 32
    assert "Galactica: galactica.maxNewTokens: expected int, got 'lots'; kept 20" in [m.message for m in client.messages]

    push(client, model=MODEL, device="cpu")  # hover and maxNewTokens left out: back to the defaults
    settings = (await status(client))["settings"]
    assert (settings["maxNewTokens"], settings["hover"]) == (32, True)


def hover_params(uri: str) -> types.HoverParams:
    return types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri),
                             position=types.Position(line=0, character=len("Einstein wrote $E = m")))


@pytest.mark.parametrize("change", ["missing-directory", "directory-without-model", "absent-device"])
async def test_a_model_that_cannot_load_keeps_the_working_one(one_client, tmp_path, change):
    client = one_client
    before = await status(client)
    wanted = {"missing-directory": {"model": "/nonexistent", "device": "cpu"},
              "directory-without-model": {"model": str(tmp_path), "device": "cpu"},
              "absent-device": {"model": MODEL, "device": "mps"}}[change]
    push(client, **wanted)
    reason = await message_with(client, "cannot load model")
    assert f"cannot load model {wanted['model']!r}" in reason and "still using" in reason

    after = await status(client)
    assert after["state"] == "ready" and after["location"] == before["location"]
    assert (after["settings"]["model"], after["settings"]["device"]) == (MODEL, "cpu")

    uri = f"file:///tmp/kept-{change}.tex"
    open_document(client, uri, "Einstein wrote $E = mc^2$ in 1905.", "latex")
    hover = await client.text_document_hover_async(hover_params(uri))
    assert hover is not None and ENERGY.explanation.strip() in hover.contents.value
    assert hover.contents.value.splitlines()[-1].startswith(f"*{before['model']},")
