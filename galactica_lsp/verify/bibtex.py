"""The real BibTeX entry of a found record, as text the caller appends to a ``.bib`` file.

Owns: the Crossref content-negotiation URL for a DOI
(``/works/{doi}/transform/application/x-bibtex``, asked with
``Accept: application/x-bibtex``), :func:`arxiv_entry` (an entry built from an
arXiv record: ``@article`` with the journal reference when arXiv has one,
``@misc`` otherwise, always with ``eprint``, ``archivePrefix``,
``primaryClass``), :func:`looks_like_entry`, :func:`with_key` (the same
entry under a key the caller chose, e.g. one made unique against the library),
and :func:`appended` (the addition that puts such an entry at the end of a
``.bib`` file's text, in its line endings, the text before it untouched).
Pure: fetching is the verifier's.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

from ..bibliography.stub import Stub, file_style, separator, suggested_key, unique_key
from .match import name_tokens
from .records import Record

ACCEPT = "application/x-bibtex"
ARXIV_DOI_PREFIX = "10.48550/"  # arXiv's own DOIs are DataCite's: Crossref has no entry for them
_ENTRY_HEAD = re.compile(r"^\s*@\s*([A-Za-z]+)\s*\{\s*([^,\s]*)\s*,")
_UNESCAPED = re.compile(r"(?<!\\)([&%#])")


def crossref_bibtex_url(base: str, doi: str) -> str:
    return f"{base.rstrip('/')}/works/{urllib.parse.quote(doi, safe='')}/transform/{ACCEPT}"


def from_crossref(record: Record) -> bool:
    """Whether Crossref can give this record's entry (it has a DOI that is not an arXiv DataCite one)."""
    return bool(record.doi) and not record.doi.lower().startswith(ARXIV_DOI_PREFIX)


def looks_like_entry(text: str) -> bool:
    return bool(_ENTRY_HEAD.match(text)) and text.rstrip().endswith("}")


def with_key(entry: str, key: str) -> str:
    """``@article{Frank_1970, …`` → ``@article{key, …``; the rest of the text unchanged."""
    found = _ENTRY_HEAD.match(entry)
    if not found:
        raise ValueError("not a BibTeX entry")
    return f"{entry[:found.start(2)]}{key}{entry[found.end(2):]}"


def appended(existing: str, entry: str, key: str, taken: Iterable[str]) -> Stub:
    """The addition that puts a record's ``entry`` at the end of a ``.bib`` file with text ``existing``.

    The entry goes under ``key``, made unique against ``taken`` (the library's keys, compared as BibTeX
    does); its line breaks become the file's; nothing before the end of ``existing`` changes.
    """
    newline, _ = file_style(existing)
    key = unique_key(key, taken)
    text = with_key(entry.strip(), key).replace("\r\n", "\n").replace("\r", "\n")
    return Stub(key, len(existing), separator(existing, newline) + text.replace("\n", newline) + newline)


def _value(text: str) -> str:
    """A field value kept as the source wrote it (LaTeX included), braces balanced, ``& % #`` escaped."""
    depth = 0
    for c in text:
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            break
    if depth != 0:
        text = text.replace("{", "").replace("}", "")
    return _UNESCAPED.sub(r"\\\1", " ".join(text.split()))


def arxiv_entry(record: Record, key: str | None = None, newline: str = "\n", indent: str = "  ") -> str:
    """The entry of an arXiv record (title, authors, year, eprint…), key ``stanley:heat`` unless given."""
    if not record.arxiv_id:
        raise ValueError("not an arXiv record")
    surname = (name_tokens(record.first_author) or [""])[-1]
    key = key or suggested_key(record.title, surname)
    kind = "article" if record.venue else "misc"
    fields = [
        ("title", record.title),
        ("author", " and ".join(record.authors or (record.first_author,))),
        ("journal", record.venue or ""),
        ("year", str(record.year or "")),
        ("eprint", record.arxiv_id),
        ("archivePrefix", "arXiv"),
        ("primaryClass", record.primary_class or ""),
        ("doi", record.doi or ""),
        ("url", f"https://arxiv.org/abs/{record.arxiv_id}"),
    ]
    body = f",{newline}".join(f"{indent}{name} = {{{_value(value)}}}" for name, value in fields if value)
    return f"@{kind}{{{key},{newline}{body}{newline}}}{newline}"
