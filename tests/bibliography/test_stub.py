"""The stub writer: a new entry appended, every other byte of the .bib file unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from galactica_lsp.bibliography.parse import read_bib
from galactica_lsp.bibliography.stub import (
    NOTE,
    append_stub,
    suggested_key,
    unique_key,
    write_stub,
)

FIXTURE = Path(__file__).parent / "fixtures" / "library.bib"

TRICKY = {
    "fixture": FIXTURE.read_bytes(),
    "comments_strings_braces": (
        b"% leading comment with an unbalanced { brace\n@comment{ignored {nested} }\n"
        b'@string{acm = "ACM"}\n@preamble{"\\newcommand{\\noop}[1]{}"}\n'
        b"@article{k1, title = {{Nested {Braces}} and \\{escaped\\}}, journal = acm}\n"
        b"free text between entries @ sign\n"
    ),
    "non_ascii_no_final_newline": "@misc{m\u00fc, title = {\u00dcber \u6f22\u5b57 \U0001f600}}".encode(),
    "crlf_tabs": b"@misc{a,\r\n\ttitle = {A}\r\n}\r\n",
    "latin1": "@misc{x, title = {Caf\u00e9}}\n".encode("latin-1"),
    "malformed": b"@article{broken, title = {never closed\n\n@misc{ok, title={OK}}\n",
    "empty": b"",
    "bom": b"\xef\xbb\xbf@misc{a, title={A}}\n\n",
}


@pytest.mark.parametrize("name", list(TRICKY))
def test_the_rest_of_the_file_is_unchanged_byte_for_byte(tmp_path, name):
    path = tmp_path / "refs.bib"
    before = TRICKY[name]
    path.write_bytes(before)
    taken = {e.key for e in read_bib(path).entries}
    stub = write_stub(path, "M\u00f6bius & Strings: 50% of $x_1$ {braces}", "\u0141ukasz", taken)
    after = path.read_bytes()
    assert after[: len(before)] == before
    entries = {e.key: e for e in read_bib(path).entries}
    assert stub.key in entries and stub.key not in taken
    assert entries[stub.key].title == "M\u00f6bius & Strings: 50% of $x_1$ braces"
    assert entries[stub.key].surnames == ("\u0141ukasz",)
    added = after[len(before) :]
    # The file's own line endings, and (where it has entries) its own indentation.
    assert added.count(b"\r\n") == (added.count(b"\n") if b"\r\n" in before else 0)
    assert (b"\n\ttitle = " in added) == (name == "crlf_tabs")


def test_the_stub_is_a_misc_entry_marked_unverified():
    stub = append_stub("", "Attention is All you Need", "Vaswani", set())
    assert stub.key == "vaswani:attention" and stub.offset == 0
    assert stub.text == (
        "@misc{vaswani:attention,\n  title = {Attention is All you Need},\n  author = {Vaswani},\n"
        f"  note = {{{NOTE}}}\n}}\n"
    )


def test_separation_from_what_comes_before():
    assert append_stub("@misc{a}", "T", None, ()).text.startswith("\n\n@misc{")
    assert append_stub("@misc{a}\n", "T", None, ()).text.startswith("\n@misc{")
    assert append_stub("@misc{a}\n\n", "T", None, ()).text.startswith("@misc{")


def test_keys_are_made_from_the_suggestion_and_unique_case_insensitively():
    assert suggested_key("Über die Katzen", "Müller") == "muller:uber"
    assert suggested_key("A B", None) == "anon:a"
    assert unique_key("vaswani:attention", {"Vaswani:Attention", "vaswani:attention-2"}) == "vaswani:attention-3"


def test_a_new_file_is_created(tmp_path):
    path = tmp_path / "new.bib"
    stub = write_stub(path, "T", "X", ())
    assert path.read_text() == stub.text
