r"""A ``.bib`` file's entries, as plain text for matching, and its malformed blocks.

Owns: :func:`parse_bib` (bibtexparser 2: ``@string`` macros resolved, braces
and quotes removed), the entries' titles and author surnames turned from LaTeX
into text (pylatexenc, only where there is a macro to expand: ``{\"o}`` → ö,
``\emph{x}`` → x), and :class:`BibProblem`, one per block bibtexparser could
not read or a key used twice, with its lines. Malformed blocks are skipped,
never fatal; nothing here writes to the file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.middlewares.names import (
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from bibtexparser.model import DuplicateBlockKeyBlock, ParsingFailedBlock
from pylatexenc.latex2text import LatexNodes2Text

log = logging.getLogger(__name__)

_LATEX = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)
_NEEDS_LATEX = re.compile(r"[\\$]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class BibEntry:
    key: str
    entry_type: str
    title: str  # plain text
    surnames: tuple[str, ...]  # plain text, first author first
    year: str
    line: int  # 0-based line of the ``@type{`` in the file


@dataclass(frozen=True)
class BibProblem:
    line: int  # 0-based first line of the block
    end_line: int  # 0-based last line
    message: str


@dataclass(frozen=True)
class Bibliography:
    path: Path | None
    entries: tuple[BibEntry, ...]
    problems: tuple[BibProblem, ...] = ()
    keys: frozenset[str] = field(default=frozenset())  # every key, case-folded (BibTeX keys are case-insensitive)

    @staticmethod
    def of(path: Path | None, entries: list[BibEntry], problems: list[BibProblem]) -> Bibliography:
        return Bibliography(path, tuple(entries), tuple(problems), frozenset(e.key.casefold() for e in entries))


def latex_to_text(value: str) -> str:
    """A field's LaTeX as text: ``Caf{\\'e} \\emph{Society}`` → ``Café Society``; braces dropped."""
    if _NEEDS_LATEX.search(value):
        try:
            value = _LATEX.latex_to_text(value)
        except Exception as exc:  # pylatexenc is tolerant, but a field must never stop a file loading
            log.debug("cannot read LaTeX %r: %s", value, exc)
    return _SPACE.sub(" ", value.replace("{", "").replace("}", "").replace("~", " ")).strip()


def surnames(authors: str) -> tuple[str, ...]:
    """The surnames in a BibTeX ``author`` field, as text: ``Vaswani, Ashish and Noam Shazeer`` → (Vaswani, Shazeer)."""
    found = []
    for person in split_multiple_persons_names(authors):
        try:
            parts = parse_single_name_into_parts(person, strict=False)
            last = " ".join(parts.last) or person
        except Exception:  # an odd name: keep it whole
            last = person
        text = latex_to_text(last)
        if text and text.lower() != "others":
            found.append(text)
    return tuple(found)


def parse_bib(text: str, path: Path | None = None) -> Bibliography:
    """The entries and problems of a ``.bib`` file's text."""
    library: Library = bibtexparser.parse_string(text)
    entries = []
    for entry in library.entries:
        fields = {name.lower(): f.value for name, f in entry.fields_dict.items()}
        title = fields.get("title", "")
        people = fields.get("author") or fields.get("editor") or ""
        entries.append(
            BibEntry(
                key=entry.key,
                entry_type=entry.entry_type.lower(),
                title=latex_to_text(title) if isinstance(title, str) else "",
                surnames=surnames(people) if isinstance(people, str) else (),
                year=str(fields.get("year") or fields.get("date") or "")[:4],
                line=entry.start_line,
            )
        )
    problems = [_problem(block) for block in library.failed_blocks]
    return Bibliography.of(path, entries, sorted(problems, key=lambda p: p.line))


def _problem(block: ParsingFailedBlock) -> BibProblem:
    end = block.start_line + block.raw.rstrip().count("\n")
    if isinstance(block, DuplicateBlockKeyBlock):
        message = f"duplicate key {block.key!r}: this entry is ignored, the first one with that key is used"
    else:
        reason = getattr(block.error, "abort_reason", None) or str(block.error) or type(block.error).__name__
        message = f"malformed entry skipped: {reason.strip()}"
    return BibProblem(block.start_line, end, message)


def read_text(path: Path) -> str:
    """A ``.bib`` file's text: UTF-8 (a BOM allowed), else Latin-1 (which reads any bytes)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_bib(path: Path) -> Bibliography:
    """Parse a ``.bib`` file from disk; an unreadable file is a problem, not an error."""
    try:
        text = read_text(path)
    except OSError as exc:
        return Bibliography.of(path, [], [BibProblem(0, 0, f"cannot read {path}: {exc.strerror or exc}")])
    return parse_bib(text, path)
