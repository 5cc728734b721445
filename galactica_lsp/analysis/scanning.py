"""Scanning primitives shared by the analysers, built to stay linear.

Owns: the few language-neutral tools that let every scan finish quickly on a
multi-megabyte document: the :class:`Region` record that the lexers return,
line bounds, backslash-escape parity, a backward
search that grows its chunk geometrically, the window of text between the
blank lines around an offset, a memoised forward search for positions that
only grow (:class:`Forward`), and paragraph ends (:class:`Paragraphs`).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

# How far from an offset a paragraph window reaches, at most, on each side.
PARAGRAPH_REACH = 100_000
# A blank line: a line break, only whitespace, another line break.
BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# A line break that starts a blank line or an ATX heading (Markdown block starts).
_MARKDOWN_BREAK = re.compile(r"\n(?:[ \t\r\f\v]*\n|(?=[ \t]{0,3}#{1,6}(?:[ \t]|\r?\n|$)))")
# The same, or a list item's first line: each item of a list is a block of its own.
_MARKDOWN_ITEM_BREAK = re.compile(
    r"\n(?:[ \t\r\f\v]*\n|(?=[ \t]{0,3}#{1,6}(?:[ \t]|\r?\n|$))|(?=[ \t>]*(?:[-+*]|[0-9]{1,9}[.)])[ \t]+\S))"
)
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|\r?\n|$)")


@dataclass(frozen=True)
class Region:
    """A stretch of the document that scanners treat as one lexical unit.

    ``kind`` is ``comment`` (LaTeX ``%``, the ``comment`` environment, HTML
    ``<!-- -->``, Python ``#``), ``verbatim`` (LaTeX ``\\verb`` and verbatim-like
    environments), ``code`` (Markdown code spans), ``fence`` (Markdown fenced
    blocks, math fences included), ``string``
    or ``docstring`` (Python string literals). The body excludes the
    delimiters; a construct left open runs to the end of the text. ``info``
    says more: the fence's info string, the environment's name, the string's
    prefix and quotes.
    """

    start: int
    end: int
    body_start: int
    body_end: int
    kind: str
    info: str = ""

    def holds(self, offset: int) -> bool:
        """Whether a cursor at ``offset`` is inside the body (its ends included)."""
        return self.body_start <= offset <= self.body_end


def line_start(text: str, pos: int) -> int:
    """Offset of the first character of the line holding ``pos``."""
    return text.rfind("\n", 0, pos) + 1


def line_end(text: str, pos: int) -> int:
    """Offset of the line break ending the line holding ``pos`` (or the text's end)."""
    end = text.find("\n", pos)
    return len(text) if end == -1 else end


def is_escaped(text: str, pos: int) -> bool:
    """Whether the character at ``pos`` follows an odd number of backslashes."""
    count = 0
    i = pos - 1
    while i >= 0 and text[i] == "\\":
        count += 1
        i -= 1
    return count % 2 == 1


def last_match_before(pattern: re.Pattern, text: str, pos: int, start: int = 0) -> re.Match | None:
    """A match of ``pattern`` inside ``text[start:pos]``, as late as chunked scanning finds.

    ``re`` cannot search backwards, so this scans chunks ending at ``pos`` that
    grow four-fold until one holds a match: the work is proportional to the
    distance back to the match, not to the document.
    """
    size = 4096
    while True:
        lo = max(start, pos - size)
        last = None
        for last in pattern.finditer(text, lo, pos):  # noqa: B007 (keep the last one)
            pass
        if last is not None or lo == start:
            return last
        size *= 4


def paragraph_window(text: str, offset: int) -> tuple[int, int]:
    """``(lo, hi)`` around ``offset``: just after the blank line before it, up to the blank line after it.

    A "paragraph" longer than :data:`PARAGRAPH_REACH` on either side of the
    offset (a generated file, binary data) is cut there, at a line start where
    one is near: beyond that the answers are a best guess, but they come fast.
    """
    floor = max(0, offset - PARAGRAPH_REACH)
    before = last_match_before(BLANK_LINE, text, offset, floor)
    if before is not None:
        lo = before.end()
    elif floor == 0:
        lo = 0
    else:
        lo = text.find("\n", floor, offset) + 1 or floor
    ceiling = min(len(text), offset + PARAGRAPH_REACH)
    after = BLANK_LINE.search(text, offset, ceiling)
    if after is not None:
        hi = after.start()
    elif ceiling == len(text):
        hi = ceiling
    else:
        hi = text.rfind("\n", offset, ceiling)
        hi = ceiling if hi == -1 else hi
    return lo, hi


class Forward:
    """First match of a pattern at or after a position, for positions that only grow.

    A scanner asking "where is the next closer after here?" for increasing
    positions would rescan the same text again and again. This keeps the last
    answer and reuses it while it is still the first match after the new
    position, so a whole left-to-right scan stays linear. Asking for an
    earlier position is correct too, just not memoised.
    """

    __slots__ = ("_endpos", "_from", "_match", "_pattern", "_text")

    def __init__(self, pattern: re.Pattern, text: str, endpos: int | None = None):
        self._pattern = pattern
        self._text = text
        self._endpos = len(text) if endpos is None else endpos
        self._from = -1
        self._match: re.Match | None = None

    def find(self, pos: int) -> re.Match | None:
        cached = self._match
        if 0 <= self._from <= pos and (cached is None or cached.start() >= pos):
            return cached
        self._from = pos
        self._match = self._pattern.search(self._text, pos, self._endpos)
        return self._match


class Paragraphs:
    """Where the paragraph holding a position ends: inline constructs never cross that point.

    Paragraphs end at blank lines and at ``endpos``; with ``headings`` (Markdown)
    an ATX heading line is a paragraph of its own; with ``items`` too, a list
    item's first line (``- ``, ``* ``, ``+ ``, ``1. ``, ``1) ``) starts a new one,
    which is where inline Markdown (code spans, ``$…$``) ends. Display math
    does not end there: its lines often start with ``+`` or ``-``. Positions asked for should
    grow, as in a left-to-right scan; the answers are memoised for that.
    """

    __slots__ = ("_breaks", "_endpos", "_headings", "_line_end", "_line_is_heading", "_line_start", "_text")

    def __init__(self, text: str, endpos: int, *, headings: bool = False, items: bool = False):
        self._text = text
        self._endpos = endpos
        pattern = (_MARKDOWN_ITEM_BREAK if items else _MARKDOWN_BREAK) if headings else BLANK_LINE
        self._breaks = Forward(pattern, text, endpos)
        self._headings = headings
        self._line_start = 0
        self._line_end = -1
        self._line_is_heading = False

    def end(self, pos: int) -> int:
        """Offset where the paragraph holding ``pos`` ends (the break before a blank line or a heading)."""
        found = self._breaks.find(pos)
        end = found.start() if found else self._endpos
        if self._headings:
            if not self._line_start <= pos <= self._line_end:
                text = self._text
                if self._line_end < 0 or pos < self._line_start:
                    start = line_start(text, pos)
                else:
                    # The scan moved forward: the new line starts after the old one ended.
                    start = text.rfind("\n", self._line_end, pos) + 1 or self._line_end
                self._line_start = start
                self._line_end = line_end(text, pos)
                self._line_is_heading = _HEADING.match(text, start) is not None
            if self._line_is_heading:
                end = min(end, self._line_end)
        return min(end, self._endpos)


class RegionIndex:
    """Sorted, non-overlapping regions, with a lookup of the one covering a position."""

    __slots__ = ("_starts", "regions")

    def __init__(self, regions: list[Region]):
        self.regions = regions
        self._starts = [region.start for region in regions]

    def covering(self, pos: int) -> Region | None:
        """The region with ``start <= pos < end``, if any."""
        i = bisect_right(self._starts, pos) - 1
        if i >= 0 and pos < self.regions[i].end:
            return self.regions[i]
        return None

    def first_after(self, pos: int) -> int:
        """Index of the first region starting at or after ``pos``."""
        return bisect_left(self._starts, pos)
