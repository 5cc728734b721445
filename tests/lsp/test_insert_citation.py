"""galactica.insertCitation and the suggestions' edits: the server computes every citation edit."""

from __future__ import annotations

import shutil
from pathlib import Path

from lsprotocol import types

from .conftest import doc_uri, end_of, open_document
from .test_bibliography import action_fields

FIXTURE = Path(__file__).parent.parent / "bibliography" / "fixtures" / "library.bib"


def with_library(client, name: str, text: str, language: str) -> str:
    shutil.copy(FIXTURE, client.folder / "library.bib")
    uri = doc_uri(client, name)
    open_document(client, uri, text, language)
    return uri


async def run(client, command: str, argument: dict):
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command=command,
                                                                                   arguments=[argument]))


def last_edit(client, uri: str) -> types.TextEdit:
    (edit,) = client.applied_edits[-1].changes[uri]
    return edit


async def test_a_library_entry_is_added_to_the_open_cite_list(client):
    text = "The Transformer architecture \\cite{hochreiter1997,"
    uri = with_library(client, "list.tex", text, "latex")
    where = {"uri": uri, "position": {"line": 0, "character": len(text)}}
    first = (await run(client, "galactica.suggestCitations", where))["suggestions"][0]
    assert (first["key"], first["inLibrary"], first["likelyMadeUp"]) == ("vaswani2017attention", True, False)
    assert first["edit"] == {"range": {"start": where["position"], "end": where["position"]},
                             "newText": "vaswani2017attention"}
    answer = await run(client, "galactica.insertCitation", {**where, "index": 0})
    after = {"line": 0, "character": len(text) + len("vaswani2017attention")}  # just past the inserted key
    assert answer == {"applied": True, "key": "vaswani2017attention", "inLibrary": True, "message": "", "end": after}
    edit = last_edit(client, uri)
    assert edit.new_text == "vaswani2017attention" and edit.range.start == end_of(text) == edit.range.end


async def test_a_title_in_prose_is_cited_in_the_documents_syntax(client):
    text = "The Transformer architecture"
    uri = with_library(client, "prose.md", text, "markdown")
    answer = await run(client, "galactica.insertCitation", {"uri": uri, "position": {"line": 0, "character": len(text)},
                                                            "title": "Attention is All you Need", "author": "Vaswani"})
    assert answer["key"] == "vaswani2017attention" and answer["inLibrary"] and answer["applied"]
    assert last_edit(client, uri).new_text == " [@vaswani2017attention]"


async def test_a_key_already_cited_is_not_inserted_again(client):
    text = "The Transformer architecture \\cite{vaswani2017attention,"
    uri = with_library(client, "twice.tex", text, "latex")
    before = len(client.applied_edits)
    answer = await run(client, "galactica.insertCitation",
                       {"uri": uri, "position": {"line": 0, "character": len(text)}, "key": "vaswani2017attention"})
    assert answer["applied"] is False and "cited here already" in answer["message"]
    assert len(client.applied_edits) == before


async def test_an_index_without_suggestions_is_a_clear_error(client):
    uri = with_library(client, "none.tex", "Text", "latex")
    try:
        await run(client, "galactica.insertCitation", {"uri": uri, "position": {"line": 0, "character": 4}, "index": 3})
    except Exception as exc:
        assert "`index` 3" in str(exc)
    else:
        raise AssertionError("an index with nothing offered must be refused")


async def test_the_code_action_runs_the_pick_command(client):
    text = "The Transformer architecture is"
    uri = with_library(client, "action.md", text, "markdown")
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(end_of(text), end_of(text)),
        context=types.CodeActionContext(diagnostics=[], trigger_kind=types.CodeActionTriggerKind.Invoked)))
    (action,) = [a for a in actions if a.title == "Galactica: Suggest citations here"]
    _, command, _ = action_fields(action)
    assert command.command == "galactica.pickCitation"
    assert command.arguments == [{"uri": uri, "position": {"line": 0, "character": len(text)}}]


async def test_pick_citation_asks_the_client_and_inserts_the_choice(client):
    asked = []
    if types.WINDOW_SHOW_MESSAGE_REQUEST not in client.protocol.fm.features:
        @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def show_message_request(params: types.ShowMessageRequestParams):
            client.asked.append(params)
            return params.actions[0]
    client.asked = asked
    text = "The Transformer architecture"
    uri = with_library(client, "pick.tex", text, "latex")
    answer = await run(client, "galactica.pickCitation", {"uri": uri, "position": {"line": 0, "character": len(text)}})
    (request,) = asked
    assert request.actions[0].title == "1. Attention is All you Need, Vaswani (in your library: vaswani2017attention)"
    after = {"line": 0, "character": len(text) + len("~\\cite{vaswani2017attention}")}
    assert answer == {"applied": True, "key": "vaswani2017attention", "inLibrary": True, "message": "", "end": after}
    assert last_edit(client, uri).new_text == "~\\cite{vaswani2017attention}"
