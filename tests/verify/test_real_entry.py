"""A found record's entry appended to a user's ``.bib`` text: under the key asked for, in the file's line
endings, every character before it kept."""

from __future__ import annotations

import pytest

from galactica_lsp.verify.bibtex import appended

from .conftest import recorded

WATER = recorded("crossref/transform_bibtex_10.1126_science.169.3946.635.bib").decode("utf-8")


@pytest.mark.parametrize("existing,separator", [
    ("", ""),
    ("@misc{a, title = {A}}\n", "\n"),
    ("@misc{a, title = {A}}\n\n", ""),
    ("@misc{a, title = {A}}", "\n\n"),
])
def test_the_entry_goes_after_the_last_byte_with_one_blank_line(existing, separator):
    added = appended(existing, WATER, "frank:structure", ["a"])
    assert added.offset == len(existing) and added.key == "frank:structure"
    assert added.text == separator + "@article{frank:structure" + WATER.strip()[len("@article{Frank_1970"):] + "\n"


def test_a_crlf_file_gets_crlf_and_a_taken_key_a_suffix():
    existing = "@book{knuth1984,\r\n  author = {Müller, Jürgen}\r\n}\r\n"
    entry = "@misc{x,\n  title = {T},\n  year = {2022}\n}\n"
    added = appended(existing, entry, "Knuth1984", ["knuth1984"])
    assert added.key == "Knuth1984-2"
    assert added.text == "\r\n@misc{Knuth1984-2,\r\n  title = {T},\r\n  year = {2022}\r\n}\r\n"
    assert (existing + added.text).encode("utf-8").startswith(existing.encode("utf-8"))


def test_what_is_not_an_entry_is_refused():
    with pytest.raises(ValueError):
        appended("", "<html>login</html>", "k", [])
