"""Is a record the paper a suggestion names? Title and first author must both agree.

Owns: :func:`normalise_title` (HTML tags and entities, LaTeX, diacritics,
case and punctuation removed), :func:`title_score` (rapidfuzz ``ratio`` of the
normalised titles, 0–1, also against the record's title with its subtitle and
the record's main title before a colon, for a suggestion that leaves the
subtitle out), :func:`title_agrees` (that similarity, and at most a few
characters changed: :data:`MIN_EDITS`, or :data:`EDIT_SHARE` of a long
title, so a long title with a different ending is not the same title),
:func:`surname_agrees` (the suggestion's
surname against the record's *first* author: particles such as "van der",
initials, DBLP's homonym numbers and diacritics ignored; a typo of one letter
tolerated only in long names) and :func:`compare` / :func:`best`. A source's
own relevance score (Crossref's ``score`` is not normalised) is never used.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from ..bibliography.match import normalise
from ..bibliography.parse import latex_to_text
from .records import Comparison, Record

# Normalised-title similarity (0–1) from which two titles are the same title.
TITLE_AGREE = 0.90
# Characters inserted or deleted (a changed letter is two) that two same titles may differ by:
# this many, or this share of their lengths for long titles (spelling variants, a dropped "the").
MIN_EDITS, EDIT_SHARE = 6, 0.03
# A truncated title (the part before a colon) counts only with at least this many words.
MAIN_TITLE_WORDS = 4
# Surnames this long may differ by a typo (rapidfuzz ratio, 0–100).
FUZZY_SURNAME_LENGTH, SURNAME_ALIKE = 7, 90
PARTICLES = frozenset(
    "van von der den de del della dei di da dos das du la le les ter ten zu zur af av".split()
)
_TAG = re.compile(r"<[^>]+>")
_HOMONYM = re.compile(r"\s+\d{4}$")  # DBLP: "H. Bast 0001"
_JOINERS = re.compile(r"[-'’‐]")
_NOT_WORD = re.compile(r"[\W_]+")


def normalise_title(title: str) -> str:
    """``<i>Attention</i> Is All You Need!`` → ``attention is all you need``; LaTeX read as text."""
    text = html.unescape(_TAG.sub("", title))  # inline markup: H<sub>2</sub>O, <scp>T</scp>reebase
    return normalise(latex_to_text(text))


def _variants(title: str) -> set[str]:
    """A record's title, and its main part before a colon when that part is long enough to stand alone."""
    full = normalise_title(title)
    found = {full} if full else set()
    head = title.split(":", 1)[0]
    if head != title:
        main = normalise_title(head)
        if len(main.split()) >= MAIN_TITLE_WORDS:
            found.add(main)
    return found


def _closest(wanted: str, record: Record) -> tuple[str, str] | None:
    """The suggested title and the record's variant most alike (the suggestion is never cut short)."""
    mine = normalise_title(wanted)
    theirs = _variants(record.title)
    if record.subtitle:
        theirs |= _variants(f"{record.title}: {record.subtitle}")
    if not mine or not theirs:
        return None
    return mine, max(sorted(theirs), key=lambda t: fuzz.ratio(mine, t))


def title_score(wanted: str, record: Record) -> float:
    """How alike the suggested title and the record's are, 0–1 (its closest variant)."""
    pair = _closest(wanted, record)
    return round(fuzz.ratio(*pair) / 100, 4) if pair else 0.0


def title_agrees(wanted: str, record: Record, threshold: float = TITLE_AGREE) -> tuple[float, bool]:
    """(similarity, same title?): similar enough, and no more than a few characters changed."""
    pair = _closest(wanted, record)
    if pair is None:
        return 0.0, False
    score = round(fuzz.ratio(*pair) / 100, 4)
    edits = Indel.distance(*pair)
    return score, score >= threshold and edits <= max(MIN_EDITS, EDIT_SHARE * (len(pair[0]) + len(pair[1])))


def name_tokens(name: str) -> list[str]:
    """``L. van der Maaten`` → ``['maaten']``: folded, initials and particles dropped, hyphenated parts joined."""
    folded = unicodedata.normalize("NFKD", _HOMONYM.sub("", name.strip()))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    words = _NOT_WORD.sub(" ", _JOINERS.sub("", folded)).split()
    return [w for w in words if len(w) > 1 and w not in PARTICLES]


def suggested_surname(author: str) -> str | None:
    """The surname in a suggestion's author: ``Vaswani``, ``A. Vaswani``, ``Ashish Vaswani``, ``Vaswani, A.``."""
    family = author.split(",", 1)[0] if "," in author else author
    tokens = name_tokens(family)
    return tokens[-1] if tokens else None


def record_surnames(record: Record) -> set[str]:
    """The words that may be the record's first author's surname (never the given name)."""
    family = name_tokens(record.first_author_family or "")
    if family:
        return set(family)
    tokens = name_tokens(record.first_author)
    return set(tokens[1:] if len(tokens) > 1 else tokens)


def surname_agrees(author: str | None, record: Record) -> bool:
    surname = suggested_surname(author or "")
    if not surname:
        return False
    theirs = record_surnames(record)
    if surname in theirs:
        return True
    return len(surname) >= FUZZY_SURNAME_LENGTH and any(
        len(t) >= FUZZY_SURNAME_LENGTH and fuzz.ratio(surname, t) >= SURNAME_ALIKE for t in theirs
    )


def compare(title: str, author: str | None, record: Record, threshold: float = TITLE_AGREE) -> Comparison:
    score, same_title = title_agrees(title, record, threshold)
    agrees = surname_agrees(author, record)
    return Comparison(record, score, agrees, accepted=agrees and same_title)


def best(title: str, author: str | None, records: Iterable[Record],
         threshold: float = TITLE_AGREE) -> tuple[Comparison | None, tuple[Comparison, ...]]:
    """The accepted comparison with the most alike title (the source's order breaks ties), and all of them."""
    comparisons = tuple(compare(title, author, r, threshold) for r in records)
    accepted = [c for c in comparisons if c.accepted]
    chosen = max(accepted, key=lambda c: c.title_score) if accepted else None
    return chosen, comparisons
