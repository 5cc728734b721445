"""Commands answer wrong arguments with InvalidParams and a sentence naming the field, and write nothing.

Every document here is opened under a URI of its own test; nothing relies on a fresh server.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from .conftest import open_document

FIXTURE = Path(__file__).parent.parent / "bibliography" / "fixtures" / "library.bib"
RANGE = {"start": {"line": 0, "character": 17}, "end": {"line": 0, "character": 17}}
EXPLAIN_TEXT = "Einstein wrote $E = mc^2$ in 1905."


async def refused(client, command: str, arguments) -> JsonRpcInvalidParams:
    with pytest.raises(JsonRpcInvalidParams) as caught:
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command=command, arguments=arguments))
    assert caught.value.data is None  # a sentence, never a traceback
    return caught.value


EXPLAIN_CASES = [
    (None, "galactica.explainFormula expects one argument, an object {uri, range, mode?, insert?}"),
    ([None], "expected one object {uri, range, mode?, insert?}, got null"),
    ([42], "expected one object {uri, range, mode?, insert?}, got a number"),
    ([["file:///x"]], "expected one object {uri, range, mode?, insert?}, got a list"),
    ([{"uri": "URI", "range": "x"}], '`range` must be a range {start, end}, got "x"'),
    ([{"uri": "URI", "range": RANGE, "mode": [1]}], "`mode` must be a string, got [1]"),
    ([{"uri": "URI", "range": RANGE, "mode": "haiku"}], '`mode` must be one of explain, work, sympy, got "haiku"'),
    ([{"uri": "URI"}], "`range` is missing (expected {uri, range, mode?, insert?})"),
    ([{"uri": "URI", "range": RANGE}, {}], "Expected 1 arguments, got 2"),
    ([{"uri": "file:///tmp/commands-never-opened.tex", "range": RANGE}],
     "galactica.explainFormula: document 'file:///tmp/commands-never-opened.tex' is not open"),
]


async def test_explain_formula_with_wrong_arguments(client):
    """One server, every case in turn: each is answered, and the server keeps serving after it."""
    uri = "file:///tmp/commands-explain.tex"
    open_document(client, uri, EXPLAIN_TEXT, "latex")
    for arguments, message in EXPLAIN_CASES:
        if arguments:
            arguments = [{**a, "uri": uri} if isinstance(a, dict) and a.get("uri") == "URI" else a for a in arguments]
        error = await refused(client, "galactica.explainFormula", arguments)
        assert message in error.message, arguments
    answer = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="galactica.explainFormula", arguments=[{"uri": uri, "range": RANGE, "insert": False}]))
    assert answer["latex"] == "E = mc^2" and answer["text"]


@pytest.mark.parametrize("command", ["galactica.suggestCitations", "galactica.continueParagraph"])
async def test_position_commands_with_wrong_arguments(client, command):
    uri = f"file:///tmp/commands-{command.split('.')[1]}.md"
    open_document(client, uri, "Large language models", "markdown")
    error = await refused(client, command, [{"uri": uri, "position": {"line": "zero", "character": 0}}])
    assert '`position.line` must be a non-negative integer, got "zero"' in error.message
    error = await refused(client, command, [{"uri": uri}])
    assert "`position` is missing" in error.message


@pytest.fixture
def project(tmp_path) -> Path:
    shutil.copy(FIXTURE, tmp_path / "library.bib")
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "other.bib").write_text("@misc{other, title = {Other}}\n")
    os.mkfifo(tmp_path / "pipe.bib")
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes | str]:
    return {p.name: (p.read_bytes() if p.is_file() else "not a file") for p in sorted(folder.iterdir())}


GOOD = {"title": "Attention is All you Need", "author": "Vaswani", "position": {"line": 0, "character": 10}}
BAD_ENTRIES = [
    ({"title": None}, "`title` must not be null"),
    ({"title": 7}, "`title` must be a string, got 7"),
    ({"title": ""}, "`title` must not be empty"),
    ({"title": ["A"]}, '`title` must be a string, got ["A"]'),
    ({"author": None}, "`author` must not be null; leave it out"),
    ({"author": 3}, "`author` must be a string, got 3"),
    ({"key": ""}, "`key` must not be empty"),
    ({"key": {"k": 1}}, '`key` must be a string, got {"k": 1}'),
    ({"position": None}, "`position` must not be null; leave it out"),
    ({"position": "end"}, '`position` must be a position {line, character}, got "end"'),
    ({"range": [0, 1]}, "`range` must be a range {start, end}, got [0, 1]"),
    ({"bib": "notes.txt"}, "`bib` \"notes.txt\" is not a bibliography of this document"),
    ({"bib": "/dev/zero"}, "`bib` \"/dev/zero\" is not a bibliography of this document"),
    ({"bib": "pipe.bib"}, "`bib` \"pipe.bib\" is not a bibliography of this document"),
    ({"bib": "other.bib"}, "`bib` \"other.bib\" is not a bibliography of this document"),
    ({"bib": "../library.bib"}, "`bib` \"../library.bib\" is not a bibliography of this document"),
    ({"key": "vaswani2017attention"}, "`vaswani2017attention` is already in your bibliography"),
]


async def test_add_bib_entry_checks_every_argument_and_writes_nothing(client, project):
    uri = (project / "entry.tex").as_uri()
    open_document(client, uri, "Attention \\cite{\n\n\\bibliography{library}\n", "latex")
    before, edits = snapshot(project), len(client.applied_edits)
    for change, message in BAD_ENTRIES:
        error = await refused(client, "galactica.addBibEntry", [{"uri": uri, **GOOD, **change}])
        assert message in error.message, change
    assert snapshot(project) == before and len(client.applied_edits) == edits


async def test_add_bib_entry_to_a_document_without_bibliography_goes_only_to_a_new_file(client, tmp_path):
    (tmp_path / "notes.txt").write_text("my notes\n")
    uri = (tmp_path / "alone.md").as_uri()
    open_document(client, uri, "No references yet [@", "markdown")
    error = await refused(client, "galactica.addBibEntry", [{"uri": uri, **GOOD, "bib": "notes.txt"}])
    assert "it has none, and a new entry can go only to a new references.bib next to it" in error.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]

    answer = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="galactica.addBibEntry", arguments=[{"uri": uri, **GOOD, "position": {"line": 0, "character": 20}}]))
    new = tmp_path / "references.bib"
    assert answer["bib"] == str(new.resolve()) and answer["cited"]
    edit = client.applied_edits[-1]
    if edit.document_changes is not None:  # a client that creates files: the server writes nothing
        create, stub, cite = edit.document_changes
        assert isinstance(create, types.CreateFile) and create.uri == new.resolve().as_uri()
        assert create.options.overwrite is False
        assert stub.edits[0].new_text.startswith(f"@misc{{{answer['key']},")
        assert cite.text_document.uri == uri and cite.edits[0].new_text == answer["key"]
        assert not new.exists() and not answer["created"]
    else:  # one that cannot: a new file, written once by the server
        assert answer["created"] and new.read_text().startswith(f"@misc{{{answer['key']},")
        assert edit.changes[uri][0].new_text == answer["key"]
