"""A project whose path has a space, opened with unescaped URIs: edits come back under the URIs the client used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lsprotocol import types

from .conftest import open_document

FIXTURE = Path(__file__).parent.parent / "bibliography" / "fixtures" / "library.bib"
LATEX = "Large language models \\cite{}\n\n\\bibliography{library}\n"


@pytest.fixture
def spaced(tmp_path) -> Path:
    project = tmp_path / "my project é"
    project.mkdir()
    shutil.copy(FIXTURE, project / "library.bib")
    return project


def unescaped(path: Path) -> str:
    """The URI as some clients send it: the path as it is, not percent-encoded."""
    return f"file://{path}"


def edits_by_uri(edit: types.WorkspaceEdit) -> dict[str, list[types.TextEdit]]:
    """The text edits of a workspace edit by document, whether it came as ``changes`` or ``documentChanges``."""
    if edit.changes:
        return dict(edit.changes)
    return {change.text_document.uri: list(change.edits) for change in edit.document_changes
            if isinstance(change, types.TextDocumentEdit)}


async def test_a_new_entry_goes_to_the_open_bib_under_its_own_uri(client, spaced):
    paper, bib = unescaped(spaced / "paper.tex"), unescaped(spaced / "library.bib")
    open_document(client, paper, LATEX, "latex")
    bib_text = (spaced / "library.bib").read_text()
    open_document(client, bib, bib_text, "bibtex")
    cursor = types.Position(line=0, character=LATEX.index("{") + 1)
    answer = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="galactica.addBibEntry",
        arguments=[{"uri": (spaced / "paper.tex").as_uri(), "title": "A Study of Spaces in Paths",
                    "author": "Ann Example", "position": {"line": cursor.line, "character": cursor.character}}]))
    assert answer["applied"] is True and answer["created"] is False and answer["key"]
    assert (spaced / "library.bib").read_text() == bib_text  # the editor holds the file: its buffer is edited
    changes = edits_by_uri(client.applied_edits[-1])
    assert set(changes) == {paper, bib}
    assert changes[paper][0].new_text == answer["key"]
    assert f"{{{answer['key']}," in changes[bib][0].new_text
