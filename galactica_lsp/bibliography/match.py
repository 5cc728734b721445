"""Is a suggested "Title, Author" in the user's library?

Owns: :func:`normalise` (accents folded, case folded, punctuation dropped) and
:class:`MatchIndex`, built once per set of bibliographies: the normalised
titles in one list that rapidfuzz scans in C (a few milliseconds for 10,000
entries), the keys for lookups. A suggestion matches an entry when the titles'
similarity (``fuzz.ratio`` of the normalised titles, 0–1) reaches the
threshold and the suggested surname is one of the entry's authors (when the
suggestion names one), in any of the forms the name allows: "van Gennep",
"Gennep"; "de la Fontaine", "la Fontaine", "Fontaine". The best such entry
wins: higher title similarity, then the first author over a co-author. An
entry without a key is never indexed (it could not be cited).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from .model import BibEntry, Bibliography

# Candidates looked at per query, and the similarity below which rapidfuzz does not report one.
CANDIDATES = 8
FLOOR = 50
# How alike two surnames must be (0–100) to be the same person (transliterations, typos).
SURNAME_ALIKE = 85
_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """``Attention Is All You Need!`` → ``attention is all you need``; ``Müller`` → ``muller``."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    return _NOT_WORD.sub(" ", folded).strip()


@dataclass(frozen=True)
class LibraryMatch:
    entry: BibEntry
    path: Path | None  # the .bib file holding it
    score: float  # title similarity, 0–1

    @property
    def key(self) -> str:
        return self.entry.key


class MatchIndex:
    """The entries of some bibliographies, ready to match suggestions against."""

    def __init__(self, bibliographies: Sequence[Bibliography]):
        self.bibliographies = tuple(bibliographies)
        self._entries: list[tuple[BibEntry, Path | None]] = []
        self._titles: list[str] = []
        self._surnames: list[tuple[tuple[str, ...], ...]] = []  # per entry, per author: the forms, normalised
        seen: set[str] = set()
        for bib in self.bibliographies:
            for entry in bib.entries:
                folded = entry.key.strip().casefold()
                if not folded or folded in seen:
                    continue  # the first bibliography's entry wins, as in biber
                seen.add(folded)
                self._entries.append((entry, bib.path))
                self._titles.append(normalise(entry.title))
                self._surnames.append(tuple(
                    tuple(dict.fromkeys(normalise(f) for f in person.surname_forms)) for person in entry.authors))
        self.keys = frozenset(seen)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> tuple[tuple[BibEntry, Path | None], ...]:
        """Every entry indexed (each key once) with the bibliography holding it, in the bibliographies' order."""
        return tuple(self._entries)

    def has_key(self, key: str) -> bool:
        return key.casefold() in self.keys

    def match(self, title: str, author: str | None, threshold: float) -> LibraryMatch | None:
        """The library entry a suggestion names, or None when none is alike enough."""
        wanted = normalise(title)
        if not wanted or not self._titles:
            return None
        cutoff = max(FLOOR, threshold * 100)
        surname = normalise(author or "")
        best: tuple[float, int, int] | None = None  # (similarity, author rank: 0 first author, 1 co-author; index)
        for _, similarity, index in process.extract(
            wanted, self._titles, scorer=fuzz.ratio, processor=None, limit=CANDIDATES, score_cutoff=cutoff
        ):
            rank = _author_rank(surname, self._surnames[index])
            if rank is None:
                continue
            if best is None or (similarity, -rank) > (best[0], -best[1]):
                best = (similarity, rank, index)
        if best is None:
            return None
        entry, path = self._entries[best[2]]
        return LibraryMatch(entry, path, round(best[0] / 100, 4))


def _author_rank(surname: str, authors: tuple[tuple[str, ...], ...]) -> int | None:
    """0: the first author; 1: a co-author; None: not an author (a suggestion with no author matches any)."""
    if not surname:
        return 0
    for rank, forms in enumerate(authors):
        if surname in forms or any(fuzz.ratio(form, surname) >= SURNAME_ALIKE for form in forms):
            return min(rank, 1)
    # One word of a longer name ("Márquez" for "García Márquez"), or a particle the entry does not
    # have ("van Beethoven" for "Beethoven, Ludwig van").
    for rank, forms in enumerate(authors):
        if forms and (surname in forms[-1].split() or forms[-1] in surname.split()):  # never a particle alone
            return min(rank, 1)
    return None
