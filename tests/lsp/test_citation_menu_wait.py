"""The menu at a citation does not wait for a slow model when the user has a library: after ``citationMenuWait``
seconds it opens with the library alone, and the model's suggestions, computed meanwhile, join it at the next
request. Without a library it waits for them (there would be nothing else to show)."""

from __future__ import annotations

import asyncio
import shutil

from lsprotocol import types

from .conftest import doc_uri, open_document, server_status
from .test_bibliography import galactica_items, position_at
from .test_library_menu import FIXTURE, ENTRIES, library_items, menu

TEXT = "The Transformer architecture \\cite{}\n\n\\bibliography{library}\n"
FORMULA = "We have $E = mc^2$ here.\n"


async def push_wait(client, seconds: float) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"galactica": {"citationMenuWait": seconds, "explainMaxTokens": 160}}))
    for _ in range(200):
        if (await server_status(client))["settings"]["citationMenuWait"] == seconds:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the setting never arrived")


def busy_worker(client) -> asyncio.Future:
    """A formula explanation (160 tokens) on the model's one worker: a citation asked now waits behind it."""
    uri = doc_uri(client, "formula.tex")
    open_document(client, uri, FORMULA, "latex")
    return client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=position_at(FORMULA, FORMULA.index("mc"))))


async def test_with_a_library_the_menu_opens_without_waiting_and_the_model_joins_later(client):
    shutil.copy(FIXTURE, client.folder / "library.bib")
    await push_wait(client, 0.0)
    explaining = busy_worker(client)
    uri, cursor = doc_uri(client, "slow.tex"), TEXT.index("{") + 1

    first = await menu(client, uri, TEXT, "latex", cursor)
    assert first.is_incomplete
    assert galactica_items(first.items) == [] and [i.label for i in library_items(first.items)] == list(ENTRIES)

    await explaining
    for _ in range(600):  # the model's answer, kept for this citation, is in a later request's menu
        later = await menu(client, uri, TEXT, "latex", cursor)
        if galactica_items(later.items):
            break
        await asyncio.sleep(0.1)
    galactica = galactica_items(later.items)
    assert galactica and list(later.items[: len(galactica)]) == galactica  # first, as when the menu waits
    assert [i.label for i in library_items(later.items)] == list(ENTRIES)
    assert any(i.label == "Attention is All you Need, Vaswani" for i in galactica)


async def test_without_a_library_the_menu_waits_for_the_model(client):
    await push_wait(client, 0.0)
    explaining = busy_worker(client)
    text = "The Transformer architecture \\cite{}\n"
    result = await menu(client, doc_uri(client, "alone.tex"), text, "latex", text.index("{") + 1)
    await explaining
    assert [i.label for i in galactica_items(result.items)][:1] == ["Attention is All you Need, Vaswani"]
    assert library_items(result.items) == []
