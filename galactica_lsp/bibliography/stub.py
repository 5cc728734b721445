"""A stub entry for a suggested paper, appended to a ``.bib`` file without touching the rest.

Owns: the key made from a suggestion (``vaswani:attention``, made unique
against the keys in use, case-insensitively as BibTeX compares them), the stub
itself (``@misc`` with ``title``, ``author`` and
``note = {unverified: suggested by Galactica}`` unless the caller has a truer
note, written in the file's own
line ending and indentation, LaTeX specials escaped), and :func:`append_stub`
/ :func:`write_stub`: the file's existing bytes are kept exactly; the stub is
only ever added after them (with a line break first when the file does not end
with one). A file that is not UTF-8 is appended to in Latin-1, characters it
cannot hold written as LaTeX macros. Only a BibTeX file is written to (never a
CSL-JSON or CSL-YAML one), and only a regular file within the size limit that
is text (:func:`.files.appending`): a FIFO, a device, a directory, a huge or
a binary file is refused with the reason, nothing written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pylatexenc.latexencode import unicode_to_latex

from .files import appending, text_of
from .model import BIBTEX, format_of

NOTE = "unverified: suggested by Galactica"
_SPECIALS = re.compile(r"([&%$#_])")
_FIELD_INDENT = re.compile(r"^([ \t]+)[A-Za-z][\w-]*[ \t]*=", re.MULTILINE)


def suggested_key(title: str, author: str | None) -> str:
    """``vaswani:attention`` from "Attention is All you Need" by Vaswani (ASCII, lower case)."""

    def ascii_word(text: str) -> str:
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]", "", folded.lower())

    words = [ascii_word(w) for w in title.split()]
    title_word = next((w for w in words if len(w) > 3), next((w for w in words if w), "untitled"))
    return f"{ascii_word(author or '') or 'anon'}:{title_word}"


def unique_key(base: str, taken: Iterable[str]) -> str:
    """``base``, or ``base-2``, ``base-3``… whichever no entry uses yet (keys compared case-insensitively)."""
    used = {k.casefold() for k in taken}
    key, n = base, 1
    while key.casefold() in used:
        n += 1
        key = f"{base}-{n}"
    return key


def _field(value: str) -> str:
    """A field value that BibTeX reads back as the same text: specials escaped, braces balanced."""
    value = " ".join(value.replace("{", "").replace("}", "").replace("\\", "").split())
    return _SPECIALS.sub(r"\\\1", value)


def stub_entry(key: str, title: str, author: str | None, newline: str = "\n", indent: str = "  ",
               note: str = NOTE) -> str:
    fields = [("title", title), ("author", author or ""), ("note", note)]
    body = f",{newline}".join(f"{indent}{name} = {{{_field(value)}}}" for name, value in fields if value)
    return f"@misc{{{key},{newline}{body}{newline}}}{newline}"


@dataclass(frozen=True)
class Stub:
    key: str
    offset: int  # where the addition goes: the end of the text
    text: str  # what is added there (separating line breaks included)


def file_style(existing: str) -> tuple[str, str]:
    """The line ending and the field indentation a ``.bib`` file's text uses (``\\n`` and two spaces by default)."""
    newline = "\r\n" if "\r\n" in existing else "\n"
    found = _FIELD_INDENT.search(existing)
    return newline, found.group(1) if found else "  "


def separator(existing: str, newline: str) -> str:
    """What goes between a file's last byte and an entry added after it: one blank line, nothing more."""
    if existing:
        if not existing.endswith("\n"):
            return newline * 2
        if not existing.endswith(newline * 2) and existing.strip():
            return newline
    return ""


def append_stub(existing: str, title: str, author: str | None, taken: Iterable[str], key: str | None = None,
                note: str = NOTE) -> Stub:
    """The addition that puts a stub at the end of a ``.bib`` file with text ``existing``."""
    newline, indent = file_style(existing)
    key = unique_key(key or suggested_key(title, author), taken)
    entry = stub_entry(key, title, author, newline, indent, note)
    return Stub(key, len(existing), separator(existing, newline) + entry)


def write_stub(path: Path, title: str, author: str | None, taken: Iterable[str], key: str | None = None) -> Stub:
    """Append a stub to the file at ``path`` (created when missing); its other bytes stay as they are.

    Raises ValueError for a file that is not BibTeX, :class:`.files.Unreadable` (an OSError) with the
    reason for one that cannot be used.
    """
    try:
        kind = format_of(path)
    except ValueError as exc:
        raise ValueError(f"{path} {exc}") from None
    if kind != BIBTEX:
        raise ValueError(f"{path} is {kind.upper()}: stub entries are written only to "
                         "BibTeX (.bib) files; name one")
    with appending(path) as (data, append):
        text, encoding = text_of(data, path)
        stub = append_stub(text, title, author, taken, key)
        append(_encode(stub.text, encoding))
    return stub


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8":
        return text.encode("utf-8")
    return "".join(c if ord(c) < 256 else unicode_to_latex(c) for c in text).encode("latin-1")
