"""Citations tied to the user's bibliography, end to end: library keys in each syntax, stub entries, diagnostics.

The expected suggestions come from the tiny model through the engine (the same prompt the server builds);
which of them are in the fixture library comes from the fixture itself.
"""

from __future__ import annotations

import ast
import asyncio
import shutil
from pathlib import Path

import pytest
from lsprotocol import types

from galactica_lsp.analysis.context import prompt_before
from galactica_lsp.analysis.triggers import citation_trigger_at
from galactica_lsp.bibliography.match import MatchIndex
from galactica_lsp.bibliography.parse import read_bib
from galactica_lsp.bibliography.stub import NOTE, suggested_key
from galactica_lsp.server.library_menu import SORT_AFTER_GALACTICA
from galactica_lsp.settings import Settings

from .conftest import LOAD_TIMEOUT, open_document

FIXTURE = Path(__file__).parent.parent / "bibliography" / "fixtures" / "library.bib"
THRESHOLD = Settings().bib_match_threshold


@pytest.fixture
def project(tmp_path) -> Path:
    shutil.copy(FIXTURE, tmp_path / "library.bib")
    return tmp_path


def position_at(text: str, offset: int) -> types.Position:
    before = text[:offset].split("\n")
    return types.Position(line=len(before) - 1, character=len(before[-1].encode("utf-16-le")) // 2)


def expected(tiny_engine, text: str, cursor: int, language: str) -> list[tuple[str, str | None]]:
    """(suggestion text, library key or None) in the menu's order: library entries first, then by confidence."""
    trigger = citation_trigger_at(text, cursor, language)
    prompt = prompt_before(text, trigger.context_end, language, Settings().context_tokens).text
    s = Settings()
    found = tiny_engine.call(
        lambda g, c: g.cite(prompt, s.citation_suggestions, s.diversity, 48, c, time_limit=s.time_limit), "cite")
    index = MatchIndex([read_bib(FIXTURE)])
    pairs = [(x, index.match(x.reference.title, x.reference.author, THRESHOLD)) for x in found]
    pairs.sort(key=lambda p: (p[1] is None, -p[0].confidence.probability))
    return [(x.text, m.key if m else None) for x, m in pairs]


async def complete(client, uri: str, text: str, language: str, cursor: int | None = None):
    open_document(client, uri, text, language)
    position = position_at(text, len(text) if cursor is None else cursor)
    return await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position)
    )


def galactica_items(items):
    """Galactica's suggestions in a citation menu (the user's library entries follow them: test_library_menu)."""
    return [item for item in items if not item.sort_text.startswith(SORT_AFTER_GALACTICA)]


def check_items(items, wanted: list[tuple[str, str | None]], skipped: tuple[str, ...] = ()) -> None:
    items = galactica_items(items)
    wanted = [(text, key) for text, key in wanted if key not in skipped or key is None]
    assert [item.label for item in items] == [text for text, _ in wanted]
    for item, (text, key) in zip(items, wanted):
        if key is not None:
            assert item.text_edit.new_text == key
            assert item.detail.startswith(f"in your library: {key} · ")
        else:
            assert item.text_edit.new_text.startswith(suggested_key(*text.rsplit(", ", 1)))
            assert item.detail.startswith("not in your library · ")
        assert item.detail.endswith(("% sure", "likely made up"))


LATEX = "Large language models \\cite{\n\n\\bibliography{library}\n"


async def test_latex_cite_inserts_library_keys_first(client, project, tiny_engine):
    cursor = LATEX.index("{") + 1
    wanted = expected(tiny_engine, LATEX, cursor, "latex")
    assert any(key for _, key in wanted) and any(key is None for _, key in wanted), "the fixture needs both kinds"
    result = await complete(client, (project / "paper.tex").as_uri(), LATEX, "latex", cursor)
    check_items(result.items, wanted)


async def test_a_key_already_in_the_cite_list_is_not_offered_again(client, project, tiny_engine):
    text = "Large language models \\cite{brown2020language,\n\n\\bibliography{library}\n"
    cursor = text.index(",") + 1
    wanted = expected(tiny_engine, text, cursor, "latex")
    result = await complete(client, (project / "list.tex").as_uri(), text, "latex", cursor)
    check_items(result.items, wanted, skipped=("brown2020language",))
    assert "brown2020language" not in [item.text_edit.new_text for item in result.items]


@pytest.mark.parametrize("trigger", ["[@", "{cite}`"], ids=["pandoc", "myst"])
async def test_markdown_front_matter_bibliography(client, project, tiny_engine, trigger):
    text = f"---\nbibliography: library.bib\n---\n\nThe Transformer architecture {trigger}"
    wanted = expected(tiny_engine, text, len(text), "markdown")
    assert wanted[0][1] == "vaswani2017attention"
    result = await complete(client, (project / "notes.md").as_uri(), text, "markdown")
    check_items(result.items, wanted)


async def wait_for(condition, timeout: float = LOAD_TIMEOUT):  # a hang guard only
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


def action_fields(action) -> tuple[str, types.Command | None, dict | None]:
    """(title, command, edit as JSON) of a code action; the test client may read one as a bare Command."""
    if isinstance(action, types.CodeAction):
        return action.title, action.command, action.edit
    if action.arguments is None and action.command.startswith("{"):
        raw = ast.literal_eval(action.command)
        return action.title, types.Command(title=raw["title"], command=raw["command"], arguments=raw.get("arguments")), None
    return action.title, action, None


def edits_for(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    """The text edits a workspace edit makes to one file, whether sent as ``changes`` or ``documentChanges``."""
    if edit.document_changes is not None:
        return [e for change in edit.document_changes if isinstance(change, types.TextDocumentEdit)
                and change.text_document.uri == uri for e in change.edits]
    return list((edit.changes or {}).get(uri, []))


async def code_actions(client, uri: str, at: types.Range, diagnostics=()):
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=at,
            context=types.CodeActionContext(diagnostics=list(diagnostics), trigger_kind=types.CodeActionTriggerKind.Invoked),
        )
    )


async def test_add_bibtex_entry_for_an_unmatched_suggestion(client, project, tiny_engine):
    uri = (project / "paper.tex").as_uri()
    cursor = LATEX.index("{") + 1
    result = await complete(client, uri, LATEX, "latex", cursor)
    unmatched = [item for item in result.items if item.detail.startswith("not in your library")]
    at = position_at(LATEX, cursor)
    actions = [action_fields(a) for a in await code_actions(client, uri, types.Range(at, at))]
    adds = [(title, command) for title, command, _ in actions if command and command.command == "galactica.addBibEntry"]
    assert [t for t, _ in adds] == [f"Galactica: add BibTeX entry for “{i.label}” and cite it (unverified)" for i in unmatched]

    before = (project / "library.bib").read_text()
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=adds[0][1].command, arguments=adds[0][1].arguments))
    # The server writes nothing: the entry is an edit the editor applies, at the end of the file.
    assert (project / "library.bib").read_text() == before
    assert answer["key"] == unmatched[0].text_edit.new_text and answer["applied"] and answer["cited"]
    assert not answer["created"]
    (bib_edit,) = edits_for(client.applied_edits[-1], Path(answer["bib"]).as_uri())
    end = position_at(before, len(before))
    assert bib_edit.range == types.Range(end, end)
    assert f"@misc{{{answer['key']}," in bib_edit.new_text and f"note = {{{NOTE}}}" in bib_edit.new_text
    (edit,) = edits_for(client.applied_edits[-1], uri)
    assert edit.new_text == answer["key"] and edit.range == types.Range(at, at)
    (project / "library.bib").write_text(before + bib_edit.new_text)  # as the editor would
    assert answer["key"] in {e.key for e in read_bib(project / "library.bib").entries}


async def test_unknown_keys_and_leftover_galactica_references(client, project):
    text = ("Attention \\cite{vaswani2017attention, nosuchkey} and memory "
            "[START_REF] Long Short-Term Memory, Hochreiter[END_REF].\n\\bibliography{library}\n")
    uri = (project / "diag.tex").as_uri()
    open_document(client, uri, text, "latex")
    diagnostics = await wait_for(lambda: client.diagnostics.get(uri))
    by_code = {d.code: d for d in diagnostics}
    assert sorted(by_code) == ["galactica-reference", "unknown-key"]
    unknown = by_code["unknown-key"]
    assert unknown.range == types.Range(position_at(text, text.index("nosuchkey")),
                                        position_at(text, text.index("nosuchkey") + len("nosuchkey")))
    hint = by_code["galactica-reference"]
    assert hint.severity == types.DiagnosticSeverity.Hint and "hochreiter1997" in hint.message

    # The malformed entry in the .bib file is reported on that file, at its line.
    bib_uri = (project / "library.bib").as_uri()
    bib_diagnostics = await wait_for(lambda: client.diagnostics.get(bib_uri))
    lines = FIXTURE.read_text().split("\n")
    assert [lines[d.range.start.line][:19] for d in bib_diagnostics] == ["@article{broken2019"]

    actions = [action_fields(a) for a in await code_actions(client, uri, hint.range, [hint])]
    (fix,) = [edit for title, _, edit in actions if title == "Galactica: cite `hochreiter1997` from your library"]
    (change,) = fix.changes[uri]
    assert change.new_text == "\\cite{hochreiter1997}" and change.range == hint.range


async def test_bib_changes_on_disk_are_read_again(client, project):
    text = "As shown \\cite{later2024}.\n\\bibliography{library}\n"
    uri = (project / "watch.tex").as_uri()
    open_document(client, uri, text, "latex")
    await wait_for(lambda: [d for d in client.diagnostics.get(uri, []) if d.code == "unknown-key"])
    with open(project / "library.bib", "a") as f:
        f.write("\n@misc{later2024, title = {Later}}\n")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(project / "library.bib").as_uri(), type=types.FileChangeType.Changed)]))
    await wait_for(lambda: uri in client.diagnostics and not client.diagnostics[uri])


async def test_add_entry_for_a_leftover_reference_replaces_it_with_a_pandoc_citation(client, project):
    text = "Scaling helps [START_REF] PaLM: Scaling Language Modeling with Pathways, Chowdhery[END_REF].\n"
    uri = (project / "left.md").as_uri()
    open_document(client, uri, text, "markdown")
    diagnostics = await wait_for(lambda: client.diagnostics.get(uri))  # library.bib found next to the document
    (hint,) = diagnostics
    actions = [action_fields(a) for a in await code_actions(client, uri, hint.range, [hint])]
    ((title, command),) = [(t, c) for t, c, _ in actions if c and c.command == "galactica.addBibEntry"]
    assert title.startswith("Galactica: add BibTeX entry for “PaLM")
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments))
    assert answer["key"] == "chowdhery:palm" and answer["bib"] == str((project / "library.bib").resolve())
    (edit,) = edits_for(client.applied_edits[-1], uri)
    assert edit.new_text == "[@chowdhery:palm]" and edit.range == hint.range


async def test_suggest_citations_command_names_the_library_entry(client, project):
    text = "The Transformer architecture"
    uri = (project / "cmd.md").as_uri()
    open_document(client, uri, text, "markdown")
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="galactica.suggestCitations",
                                   arguments=[{"uri": uri, "position": {"line": 0, "character": len(text)}}]))
    first = result["suggestions"][0]
    assert first["library"]["key"] == "vaswani2017attention"
    assert first["library"]["file"] == str((project / "library.bib").resolve())
