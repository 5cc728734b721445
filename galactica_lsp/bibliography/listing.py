"""The user's own library as a citation menu lists it: every entry, found by its key, title, first author or year.

Owns :class:`Listing`, built once per :class:`~.match.MatchIndex` (one pass over
the entries), and :meth:`Listing.find`: the entries for what was typed of a key,
best first, at most ``limit`` of them, and whether more matched (a menu that
lists the first ``limit`` says it is incomplete, so the editor asks again as
the user types and the next answer holds the entries the longer text finds).

What was typed matches an entry, best first (each entry once, in the order of
the bibliographies and of their entries within each kind):

1. the start of its key (``vas`` → ``vaswani2017attention``);
2. the start of a word of its key, title, first author or year (``attention``,
   ``vaswani``, ``2017``; co-authors are not searched);
3. anywhere in them;
4. its key's letters in order (``vs17`` → ``vaswani2017attention``), as editors'
   fuzzy filters allow.

Case and accents do not matter (``muller`` finds ``Müller``). Each entry's
:attr:`Listed.filter_text` ("key First-author year Title") is what the editor
filters the menu by; the key, author and year come first, since VS Code reads
only a filter text's first 128 characters.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from .match import MatchIndex, normalise
from .model import BibEntry


def fold(text: str) -> str:
    """Case and accents folded, punctuation kept: ``Müller:2021`` → ``muller:2021``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Listed:
    """One entry as the menu shows it."""

    entry: BibEntry
    path: Path | None  # the bibliography holding it
    filter_text: str  # "key First-author year Title": what the editor filters by

    @property
    def key(self) -> str:
        return self.entry.key


class Listing:
    """A library's entries, ready to be found by what was typed of a key."""

    def __init__(self, index: MatchIndex):
        self.entries: tuple[Listed, ...] = tuple(
            Listed(entry, path, " ".join(part for part in (entry.key, entry.first_author, entry.year, entry.title)
                                         if part))
            for entry, path in index.entries
        )
        self._keys = [fold(listed.key) for listed in self.entries]
        # " word word …": a word starts after a space; punctuation and case gone, as in what is typed.
        self._words = [" " + normalise(listed.filter_text) for listed in self.entries]
        self._joined = "\n".join(key.replace("\n", " ") for key in self._keys)  # keys one per line, for one scan
        self._line_starts = list(itertools.accumulate((len(key) + 1 for key in self._keys[:-1]), initial=0))

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, typed: str, limit: int, leave_out: Collection[str] = ()) -> tuple[list[Listed], bool]:
        """The entries ``typed`` finds, best first (see the module), at most ``limit``, leaving out the keys
        ``leave_out``; and whether there were more."""
        key_start = fold(typed.strip())
        if not key_start:  # the library's order: the first entries, no more looked at than needed
            first = []
            for listed in self.entries:
                if listed.key not in leave_out:
                    first.append(listed)
                    if len(first) > limit:
                        break
            return first[:limit], len(first) > limit
        words = normalise(key_start)
        word_start = " " + words
        tiers: tuple[list[int], list[int], list[int]] = ([], [], [])
        for i, (key, text) in enumerate(zip(self._keys, self._words)):
            if key.startswith(key_start):
                tiers[0].append(i)
            elif words and word_start in text:
                tiers[1].append(i)
            elif words and words in text:
                tiers[2].append(i)
        found = [i for tier in tiers for i in tier if self.entries[i].key not in leave_out]
        if len(found) <= limit:
            taken = set(found)
            found += [i for i in self._letters_in_order(key_start)
                      if i not in taken and self.entries[i].key not in leave_out]
        return [self.entries[i] for i in found[:limit]], len(found) > limit

    def _letters_in_order(self, typed: str) -> list[int]:
        """The entries whose key holds the typed characters in order: one scan of all keys, one per line."""
        letters = re.compile("^[^\n]*?" + "[^\n]*?".join(map(re.escape, typed)), re.MULTILINE)
        return [bisect.bisect_right(self._line_starts, m.start()) - 1 for m in letters.finditer(self._joined)]
