"""What a bibliography is here, whatever file it came from, and which files are bibliographies.

Owns the types every reader produces and every user reads: :class:`Person`
(a name in parts, so that "van Gennep" keeps its particle and still matches
"Gennep"), :class:`BibEntry`, :class:`BibProblem` (with a ``code`` saying what
kind of problem), :class:`Bibliography`; and :func:`format_of`, the format a
file's name says it holds (BibTeX/biblatex, CSL-JSON, CSL-YAML, as pandoc
decides it: by the extension).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .files import FileStamp

BIBTEX = "bibtex"
CSL_JSON = "csl-json"
CSL_YAML = "csl-yaml"
_BY_SUFFIX = {".json": CSL_JSON, ".yaml": CSL_YAML, ".yml": CSL_YAML}
# Bibliography formats pandoc reads and this package does not.
_UNSUPPORTED = {".ris": "RIS", ".xml": "EndNote XML", ".enl": "EndNote"}

# BibProblem codes.
UNREADABLE = "unreadable"  # the file could not be used at all: the reason is the message
MALFORMED = "malformed"  # a block or item that could not be read; skipped
DUPLICATE_KEY = "duplicate-key"  # a key used again; the later entry skipped
DUPLICATE_FIELD = "duplicate-field"  # a field given twice in one entry; the first value used
NO_KEY = "no-key"  # an entry or item without a key; skipped (it cannot be cited)


def format_of(path: Path | str) -> str:
    """``csl-json`` for ``*.json``, ``csl-yaml`` for ``*.yaml``/``*.yml``, else ``bibtex``.

    Raises ValueError for a format pandoc reads but this package does not (RIS, EndNote).
    """
    suffix = Path(path).suffix.lower()
    if suffix in _UNSUPPORTED:
        raise ValueError(
            f"is {_UNSUPPORTED[suffix]}: only BibTeX/biblatex (.bib), CSL-JSON (.json) and CSL-YAML (.yaml) are read"
        )
    return _BY_SUFFIX.get(suffix, BIBTEX)


@dataclass(frozen=True)
class Person:
    """One author: ``Person("Gennep", particle="van", given="Arnold")``; a corporate name is all ``family``."""

    family: str
    particle: str = ""  # BibTeX's "von" part; CSL's dropping and non-dropping particles
    given: str = ""
    suffix: str = ""  # "Jr."

    @property
    def surname(self) -> str:
        """The surname as shown: ``van Gennep``, ``de la Fontaine``, ``Google Brain``."""
        return f"{self.particle} {self.family}".strip()

    @property
    def surname_forms(self) -> tuple[str, ...]:
        """Every way a citation may give this surname: ``de la Fontaine``, ``la Fontaine``, ``Fontaine``.

        The particle's words, and lower-case words opening the family name (``{van Gennep}``),
        may be left out; the last word of the family name never is.
        """
        particle = self.particle.split()
        family = self.family.split()
        droppable = len(particle)
        for word in family[:-1]:
            if not word[:1].islower():
                break
            droppable += 1
        words = particle + family
        return tuple(dict.fromkeys(" ".join(words[i:]) for i in range(droppable + 1) if words[i:]))


@dataclass(frozen=True)
class BibEntry:
    key: str  # never empty: an entry without a key is a problem, not an entry
    entry_type: str  # "article", … (BibTeX entry type or CSL item type, lower case)
    title: str  # plain text
    authors: tuple[Person, ...]  # first author first (the editors when there are no authors)
    year: str  # four digits, or "" when unknown
    line: int  # 0-based line where the entry starts in its file
    container: str = ""  # journal, book title, CSL container-title
    doi: str = ""

    @property
    def surnames(self) -> tuple[str, ...]:
        """The authors' surnames as shown, particles kept: ``("van Gennep", "Shazeer")``."""
        return tuple(p.surname for p in self.authors)

    @property
    def first_author(self) -> str:
        return self.authors[0].surname if self.authors else ""


@dataclass(frozen=True)
class BibProblem:
    line: int  # 0-based first line
    end_line: int  # 0-based last line
    message: str
    code: str = MALFORMED  # UNREADABLE, MALFORMED, DUPLICATE_KEY, DUPLICATE_FIELD, NO_KEY


@dataclass(frozen=True)
class Bibliography:
    path: Path | None
    entries: tuple[BibEntry, ...]
    problems: tuple[BibProblem, ...] = ()
    keys: frozenset[str] = field(default=frozenset())  # every key, case-folded (BibTeX keys are case-insensitive)
    format: str = BIBTEX
    stamp: FileStamp | None = None  # the version of the file that was read (None: parsed from text)

    @staticmethod
    def of(path: Path | None, entries: list[BibEntry], problems: list[BibProblem], *,
           format: str = BIBTEX, stamp: FileStamp | None = None) -> Bibliography:
        return Bibliography(path, tuple(entries), tuple(sorted(problems, key=lambda p: p.line)),
                            frozenset(e.key.casefold() for e in entries), format, stamp)

    @staticmethod
    def unreadable(path: Path | None, message: str, *, format: str = BIBTEX,
                   stamp: FileStamp | None = None) -> Bibliography:
        """A file that could not be used at all: no entries, one problem saying why."""
        return Bibliography.of(path, [], [BibProblem(0, 0, message, UNREADABLE)], format=format, stamp=stamp)

    @property
    def unusable(self) -> str | None:
        """Why the file could not be used at all ("… is a FIFO, not a file"), or None when it was read."""
        return next((p.message for p in self.problems if p.code == UNREADABLE), None)
