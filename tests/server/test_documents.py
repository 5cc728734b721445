"""Open documents: one normalised URI for every spelling, and incremental changes that give the client's text."""

from __future__ import annotations

import pytest
from lsprotocol import types

from galactica_lsp.server.documents import Documents, normalise_uri, splice
from galactica_lsp.server.positions import LineIndex, encoding_name


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def rng(a: tuple[int, int], b: tuple[int, int]) -> types.Range:
    return types.Range(start=pos(*a), end=pos(*b))


def workspace(encoding: str = "utf-16") -> Documents:
    return Documents(None, types.TextDocumentSyncKind.Incremental, [], encoding)


def opened(ws: Documents, uri: str, text: str, version: int = 1) -> None:
    ws.put_text_document(types.TextDocumentItem(uri=uri, language_id="latex", version=version, text=text))


def change(ws: Documents, uri: str, version: int, a, b, text: str) -> str:
    ws.update_text_document(types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                            types.TextDocumentContentChangePartial(range=rng(a, b), text=text))
    return ws.find(uri).source


# -- URIs ---------------------------------------------------------------------

SAME = [
    # VS Code percent-encodes; Neovim and hand-written requests may not.
    ["file:///home/ann/my%20paper.tex", "file:///home/ann/my paper.tex", "FILE:///home/ann/my%20paper.tex",
     "file://localhost/home/ann/my%20paper.tex"],
    ["file:///home/ann/th%C3%A8se.tex", "file:///home/ann/th%c3%a8se.tex", "file:///home/ann/thèse.tex"],
    ["file:///c%3A/Users/ann/notes.md", "file:///C:/Users/ann/notes.md", "file:///c:/Users/ann/notes.md",
     "file:///C%3a/Users/ann/notes.md"],
    ["untitled:Untitled-1", "untitled:Untitled%2D1"],
]


@pytest.mark.parametrize("spellings", SAME, ids=["space", "non-ascii", "drive-letter", "untitled"])
def test_every_spelling_of_a_uri_is_one_key(spellings):
    assert len({normalise_uri(uri) for uri in spellings}) == 1


def test_different_files_stay_different():
    uris = ["file:///a/paper.tex", "file:///a/Paper.tex", "file:///a/paper.tex.bak", "file:///b/paper.tex",
            "untitled:/a/paper.tex", "file://server/a/paper.tex"]
    assert len({normalise_uri(uri) for uri in uris}) == len(uris)


@pytest.mark.parametrize("opened_as", SAME[0] + SAME[1][:1] + SAME[2][:1])
def test_a_document_opened_under_one_spelling_is_found_under_all(opened_as):
    ws = workspace()
    opened(ws, opened_as, "text")
    group = next(g for g in SAME if opened_as in g)
    for uri in group:
        assert uri in ws.text_documents
        found = ws.find(uri)
        assert found is not None and found.uri == opened_as  # the client's own form, for edits sent back
        assert ws.get_text_document(uri).source == "text"
    assert list(ws.text_documents) == [opened_as]
    change(ws, group[-1], 2, (0, 0), (0, 0), "more ")
    assert ws.find(opened_as).source == "more text" and ws.find(opened_as).version == 2
    ws.remove_text_document(group[-1])
    assert ws.find(opened_as) is None and opened_as not in ws.text_documents


def test_a_change_for_a_document_never_opened_is_ignored():
    ws = workspace()
    ws.update_text_document(types.VersionedTextDocumentIdentifier(uri="file:///never.tex", version=1),
                            types.TextDocumentContentChangePartial(range=rng((0, 0), (0, 0)), text="x"))
    assert ws.find("file:///never.tex") is None


# -- incremental changes ---------------------------------------------------------

URI = "file:///tmp/doc.tex"


@pytest.mark.parametrize(
    "text,a,b,new,expected",
    [
        ("abc\nXYZ", (1, 0), (1, 99), "X", "abc\nX"),  # end past the end of the last line
        ("abc\nXYZ", (1, 1), (7, 3), "", "abc\nX"),  # end past the last line
        ("abc\nXYZ", (0, 3), (0, 4), "!", "abc!\nXYZ"),  # character = line length + 1 keeps the newline
        ("abc\r\nXYZ", (0, 2), (0, 9), "", "ab\r\nXYZ"),  # ... and a \r\n
        ("abc\rXYZ", (1, 0), (1, 1), "x", "abc\rxYZ"),  # a lone \r is a line break
        ("abc\nXYZ", (1, 3), (1, 3), "\n", "abc\nXYZ\n"),  # at the very end
        ("abc\nXYZ\n", (2, 0), (2, 0), "end", "abc\nXYZ\nend"),  # on the empty last line
        ("abc\nXYZ", (1, 2), (0, 1), "-", "a-Z"),  # end before start: the same range
        ("", (0, 0), (0, 0), "first", "first"),
    ],
)
def test_incremental_change_gives_the_clients_text(text, a, b, new, expected):
    ws = workspace()
    opened(ws, URI, text)
    assert change(ws, URI, 2, a, b, new) == expected


@pytest.mark.parametrize("separator", ["\f", "\v", "\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e"])
def test_only_lsp_line_breaks_end_a_line(separator):
    text = f"one{separator}still one\ntwo $x$\nthree"
    ws = workspace()
    opened(ws, URI, text)
    assert change(ws, URI, 2, (1, 5), (1, 6), "y") == f"one{separator}still one\ntwo $y$\nthree"
    assert ws.find(URI).lines == (f"one{separator}still one\n", "two $y$\n", "three")


def test_a_stale_version_of_the_same_length_does_not_reuse_the_line_index():
    ws = workspace()
    opened(ws, URI, "ab\ncd $x$", version=5)
    before = ws.find(URI).index
    # Same version, same length, lines moved: the index must follow the text.
    assert change(ws, URI, 5, (0, 2), (1, 0), "") == "abcd $x$"
    assert change(ws, URI, 5, (0, 0), (0, 0), "\n") == "\nabcd $x$"
    index = ws.find(URI).index
    assert index is not before and index.text == "\nabcd $x$" and index.starts == [0, 1]
    assert index.offset(pos(1, 6)) == 7


@pytest.mark.parametrize(
    "encoding,character",
    [("utf-16", len("a𝑥é".encode("utf-16-le")) // 2), ("utf-8", len("a𝑥é".encode())), ("utf-32", 3)],
)
def test_positions_in_each_encoding(encoding, character):
    ws = workspace(encoding)
    opened(ws, URI, "a𝑥é😀z\nline")
    assert change(ws, URI, 2, (0, character), (0, character + {"utf-16": 2, "utf-8": 4, "utf-32": 1}[encoding]),
                  "E") == "a𝑥éEz\nline"


def test_the_negotiated_encoding_is_read_from_the_enum():
    assert [encoding_name(k) for k in types.PositionEncodingKind] == ["utf-8", "utf-16", "utf-32"]
    assert encoding_name(None) == "utf-16"


def test_a_full_change_replaces_the_text():
    ws = workspace()
    opened(ws, URI, "old")
    ws.update_text_document(types.VersionedTextDocumentIdentifier(uri=URI, version=2),
                            types.TextDocumentContentChangeWholeDocument(text="new\ntext"))
    assert ws.find(URI).source == "new\ntext" and ws.find(URI).index.starts == [0, 4]


def test_a_sequence_of_edits_matches_a_reference_editor():
    """Many random edits, each checked against splicing the text by hand."""
    import random

    rand = random.Random(7)
    alphabet = ["a", "b", "\n", "\r\n", "\r", "\f", "\u2028", "𝑥", "é", " "]
    text = "".join(rand.choice(alphabet) for _ in range(200))
    ws = workspace()
    opened(ws, URI, text)
    for step in range(300):
        index = LineIndex(text)
        start, end = sorted(rand.randrange(len(text) + 1) for _ in range(2))
        # Never cut a \r\n in two: a client cannot address a position between them.
        if 0 < start < len(text) and text[start - 1:start + 1] == "\r\n":
            start -= 1
        if 0 < end < len(text) and text[end - 1:end + 1] == "\r\n":
            end -= 1
        start, end = min(start, end), max(start, end)
        new = "".join(rand.choice(alphabet) for _ in range(rand.randrange(4)))
        a, b = index.position(start), index.position(end)
        got = change(ws, URI, step + 2, (a.line, a.character), (b.line, b.character), new)
        text = text[:start] + new + text[end:]
        assert got == text
    assert splice("x", LineIndex("x"), rng((0, 0), (0, 1)), "y", "utf-16") == "y"
