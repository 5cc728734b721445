"""Honesty about made-up papers ends where the user's library begins: "likely made up" is never said of a library
entry (menu, suggestCitations, pickCitation, diagnostics), and a key made up for a paper not in the library loses its
warning and its "Add BibTeX entry" quick fix once the place is cited with a key of the library."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from lsprotocol import types

from .conftest import doc_uri, open_document, server_status
from .test_bibliography import action_fields, code_actions, galactica_items, position_at, wait_for
from .test_library_menu import library_items

FIXTURE = Path(__file__).parent.parent / "bibliography" / "fixtures" / "library.bib"
TEXT = "Large language models \\cite{}\n\n\\bibliography{library}\n"
CURSOR = TEXT.index("{") + 1


async def run(client, command: str, argument: dict):
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command=command,
                                                                                   arguments=[argument]))


def change(client, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def applied(text: str, edit: types.TextEdit) -> str:
    """The document after a one-line edit, as the editor applies it."""
    lines = text.split("\n")
    line = lines[edit.range.start.line]
    assert edit.range.start.line == edit.range.end.line
    lines[edit.range.start.line] = line[: edit.range.start.character] + edit.new_text + line[edit.range.end.character:]
    return "\n".join(lines)


def add_entry_actions(actions) -> list[str]:
    return [title for title, command, _ in map(action_fields, actions)
            if command is not None and command.command == "galactica.addBibEntry"]


async def test_the_stub_quick_fix_and_its_warning_go_once_the_place_is_cited_from_the_library(client):
    shutil.copy(FIXTURE, client.folder / "library.bib")
    uri = doc_uri(client, "made-up.tex")
    open_document(client, uri, TEXT, "latex")
    where = {"uri": uri, "position": {"line": 0, "character": CURSOR}}
    suggestions = (await run(client, "galactica.suggestCitations", where))["suggestions"]
    index = next(i for i, s in enumerate(suggestions) if not s["inLibrary"])
    made_up = await run(client, "galactica.insertCitation", {**where, "index": index})
    key = made_up["key"]
    assert made_up["applied"] and not made_up["inLibrary"]
    text = applied(TEXT, client.applied_edits[-1].changes[uri][0])
    assert text.startswith(f"Large language models \\cite{{{key}}}")
    change(client, uri, text, 2)

    # The made-up key is in no bibliography: a warning, and the quick fix that adds a stub entry for it.
    warnings = await wait_for(lambda: [d for d in client.diagnostics.get(uri, []) if d.code == "unknown-key"])
    (warning,) = warnings
    assert warning.data == {"key": key}
    title = suggestions[index]["text"]
    assert add_entry_actions(await code_actions(client, uri, warning.range, [warning])) == [
        f"Galactica: add BibTeX entry for “{title}” (unverified)"]

    # The writer cites the place with a key of the library instead: it takes the made-up key's place.
    cited = await run(client, "galactica.insertCitation", {"uri": uri, "position": made_up["end"],
                                                           "key": "brown2020language"})
    assert cited["applied"] and cited["inLibrary"] and cited["key"] == "brown2020language"
    edit = client.applied_edits[-1].changes[uri][0]
    assert edit.new_text == "brown2020language"
    assert edit.range == types.Range(position_at(text, CURSOR), position_at(text, CURSOR + len(key)))
    text = applied(text, edit)
    assert text == TEXT.replace("\\cite{}", "\\cite{brown2020language}")
    change(client, uri, text, 3)
    await wait_for(lambda: uri in client.diagnostics and not client.diagnostics[uri])  # the warning is gone
    assert add_entry_actions(await code_actions(client, uri, warning.range, [warning])) == []


def push_threshold(client, threshold: float) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"galactica": {"citationThreshold": threshold}}))


async def test_likely_made_up_is_never_said_of_a_library_entry_on_any_path(client):
    shutil.copy(FIXTURE, client.folder / "library.bib")
    push_threshold(client, 1.0)  # every suggestion is below it: each would be "likely made up" if not in the library
    for _ in range(200):
        if (await server_status(client))["settings"]["citationThreshold"] == 1.0:
            break
        await asyncio.sleep(0.05)
    uri = doc_uri(client, "honest.tex")
    open_document(client, uri, TEXT, "latex")

    # The menu: Galactica's suggestions matched to the library, and the library's own entries.
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=position_at(TEXT, CURSOR)))
    galactica = galactica_items(result.items)
    matched = [item for item in galactica if item.detail.startswith("in your library")]
    unmatched = [item for item in galactica if item.detail.startswith("not in your library")]
    assert matched and unmatched, "the fixture needs both kinds"
    for item in matched + library_items(result.items):
        assert "made up" not in item.detail.lower() and "made up" not in item.documentation.value.lower()
    assert all(item.detail.endswith("likely made up") for item in unmatched)

    # galactica.suggestCitations (what the pickers show).
    where = {"uri": uri, "position": {"line": 0, "character": CURSOR}}
    suggestions = (await run(client, "galactica.suggestCitations", where))["suggestions"]
    for s in suggestions:
        assert s["likelyMadeUp"] == (not s["inLibrary"])
        assert ("likely made up" in s["label"]) == (not s["inLibrary"])

    # galactica.pickCitation, for clients without a picker of their own.
    asked = []
    if types.WINDOW_SHOW_MESSAGE_REQUEST not in client.protocol.fm.features:
        @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def show_message_request(params: types.ShowMessageRequestParams):
            client.asked.append(params)
            return None  # nothing chosen
    client.asked = asked
    answer = await run(client, "galactica.pickCitation", where)
    assert answer["applied"] is False
    (request,) = asked
    for action, s in zip(request.actions, suggestions):
        assert ("likely made up" in action.title) == (not s["inLibrary"])
        assert (f"in your library: {s['key']}" in action.title) == s["inLibrary"]

    # Diagnostics on a Galactica reference left in the text that names a library entry.
    left = "Transformers [START_REF] Attention Is All You Need, Vaswani[END_REF].\n\\bibliography{library}\n"
    left_uri = doc_uri(client, "left.tex")
    open_document(client, left_uri, left, "latex")
    (hint,) = await wait_for(lambda: client.diagnostics.get(left_uri))
    assert "in your library as `vaswani2017attention`" in hint.message and "made up" not in hint.message.lower()


async def test_the_menus_stub_quick_fixes_go_once_the_place_is_cited(client):
    shutil.copy(FIXTURE, client.folder / "library.bib")
    uri = doc_uri(client, "menu-place.tex")
    open_document(client, uri, TEXT, "latex")
    at = position_at(TEXT, CURSOR)
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=at))
    unmatched = [item for item in galactica_items(result.items) if item.detail.startswith("not in your library")]
    assert unmatched, "the fixture needs a suggestion not in the library"
    stubs = [f"Galactica: add BibTeX entry for “{item.label}” and cite it (unverified)" for item in unmatched]
    assert add_entry_actions(await code_actions(client, uri, types.Range(at, at))) == stubs

    # The writer accepts an entry of the library from the menu: the place is cited, the stubs for it go.
    (entry,) = [item for item in library_items(result.items) if item.label == "hochreiter1997"]
    text = applied(TEXT, entry.text_edit)
    change(client, uri, text, 2)
    after = position_at(text, CURSOR + len("hochreiter1997"))
    assert add_entry_actions(await code_actions(client, uri, types.Range(after, after))) == []
    # Nor at the start of the list, which holds the key now.
    assert add_entry_actions(await code_actions(client, uri, types.Range(at, at))) == []
