"""Bibliography files that cannot be read are said to the user, once each, and never opened when not regular."""

from __future__ import annotations

import asyncio
import os

from lsprotocol import types

from .conftest import MODEL, open_document
from .sessions import one_client  # noqa: F401


async def messages_with(client, text: str, count: int, timeout: float = 30) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = [m.message for m in client.messages if text in m.message]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} messages with {text!r}: {[m.message for m in client.messages]}")


def push(client, **settings) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"galactica": {"model": MODEL, "device": "cpu", **settings}}))


async def test_a_bibliography_setting_naming_what_is_not_a_bib_file_is_said_once_each(one_client, tmp_path):
    client = one_client
    (tmp_path / "folder.bib").mkdir()
    os.mkfifo(tmp_path / "pipe.bib")
    setting = [str(tmp_path / "missing.bib"), str(tmp_path / "folder.bib"), str(tmp_path / "pipe.bib"), "/dev/zero"]
    push(client, bibliography=setting)
    found = await messages_with(client, "galactica.bibliography:", 4)
    assert sorted(found) == sorted([
        f"Galactica: galactica.bibliography: {str(tmp_path / 'missing.bib')!r} not found",
        f"Galactica: galactica.bibliography: bibliography {tmp_path / 'folder.bib'} is a directory: skipped",
        f"Galactica: galactica.bibliography: bibliography {tmp_path / 'pipe.bib'} is a FIFO, not a file: skipped",
        "Galactica: galactica.bibliography: bibliography /dev/zero is a character device, not a file: skipped",
    ])

    # Documents still get help, and the same problems are not said again.
    uri = (tmp_path / "uses-setting.md").as_uri()
    open_document(client, uri, "The Transformer architecture [@", "markdown")
    items = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, 31)))
    assert items.items
    push(client, bibliography=setting, maxNewTokens=20)
    await client.workspace_execute_command_async(types.ExecuteCommandParams(command="galactica.status"))
    assert len([m for m in client.messages if "galactica.bibliography:" in m.message]) == 4
    push(client, bibliography=[])


async def test_a_binary_bib_file_is_not_a_bibliography(one_client, tmp_path):
    client = one_client
    (tmp_path / "zeros.bib").write_bytes(b"\x00" * 2048)
    uri = (tmp_path / "binary-bib.tex").as_uri()
    open_document(client, uri, "As shown \\cite{a}.\n\\bibliography{zeros}\n", "latex")
    (message,) = await messages_with(client, "is not a bibliography", 1)
    assert message == (f"Galactica: bibliography {(tmp_path / 'zeros.bib').resolve()} is binary (NUL bytes),"
                       " not a bibliography: skipped")
