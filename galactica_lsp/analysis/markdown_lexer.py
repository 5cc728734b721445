"""Markdown's lexical regions: what a scan for math or citations must skip.

Owns:

- fenced blocks: ```` ``` ```` and ``~~~`` with any info string (a backtick
  fence's info string holds no backtick), and MyST's colon fences
  ``:::{name}``; leading whitespace and block-quote markers are allowed before
  a fence, so fences nested in lists and quotes count too. A fence closes at
  the first line of at least as many of its characters with nothing else on
  it, and one left open runs to the end of the document, as in CommonMark.
  Code fences (a plain info string such as ``python``, none at all, or a MyST
  directive whose body is code or data: :data:`CODE_DIRECTIVES`) and math
  fences (```` ```math ````, ```` ```{math} ````, ``:::{math}``) are of kind
  ``fence``; ``info`` is the info string, so the two can be told apart;
- MyST directives whose body is Markdown (```` ```{note} ````,
  ```` ```{exercise} ````, ```` ```{prf:theorem} Title ````, ``:::{tip}``…),
  as MyST-Parser reads them: the body is prose, lexed like the document (so it
  may hold code spans, fences and further directives), and only the opening
  line with its option lines (``:label: x`` or a ``---`` YAML block) and the
  closing line are regions, of kind ``directive``. :func:`blocks` reports such
  a directive whole; :func:`regions` opens it up;
- HTML comments: a block comment opens on a line that starts with ``<!--`` and
  runs to the next ``-->`` (blank lines included); an inline one must close
  within its paragraph;
- code spans: a backtick run closed by the next run of the same length within
  the paragraph (an unmatched run is literal text; a backslash before the
  opening run escapes its first backtick). Their kind is ``code``; ``info`` is
  the backtick run.

Paragraphs end at blank lines and, in Markdown documents, around ATX heading
lines; there, code spans also end where a list item starts. Also owns :func:`window`: the paragraph around an offset, widened back to
the start of a fenced block or block comment still open there.

Not handled: indented (four-space) code blocks, whose recognition needs the
list structure; raw HTML blocks other than comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from .scanning import Paragraphs, Region, is_escaped, line_end, paragraph_window

# MyST directives whose body is code, data or a list of names, not Markdown: read like a code fence.
CODE_DIRECTIVES = frozenset(
    {
        "code", "code-block", "sourcecode", "code-cell", "literalinclude", "include", "raw", "highlight",
        "jupyter-execute", "ipython", "doctest", "testcode", "testoutput", "testsetup", "testcleanup", "plot",
        "mermaid", "graphviz", "digraph", "graph", "plantuml", "tikz", "csv-table", "toctree", "bibliography",
    }
)  # fmt: skip

_BLOCK_OPEN = re.compile(
    r"(?P<lead>[ \t]*(?:>[ \t]?)*)"
    r"(?:(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)"
    r"|(?P<colon>:{3,})(?P<cinfo>\{[^\n]*)"
    r"|(?P<comment><!--))"
)
_DIRECTIVE_NAME = re.compile(r"\{(?P<name>[^{}\s]+)\}")
# A directive's options, right after its opening line: ``:key: value`` lines or a ``---`` YAML block.
_DIRECTIVE_OPTIONS = re.compile(r"(?:[ \t]*:[\w-]+:[^\n]*(?:\n|$))+|[ \t]*---[ \t]*\n(?:.*\n)*?[ \t]*---[ \t]*(?:\n|$)")
# A line that may open a block; the search starts with a literal line break, which ``re`` finds fast.
_BLOCK_CANDIDATE = re.compile(r"\n[ \t>]*(?:```|~~~|:::|<!--)")
_INLINE = re.compile(r"`+|<!--")


@lru_cache(maxsize=64)
def _closing_fence(char: str, length: int) -> re.Pattern:
    return re.compile(rf"^[ \t]*(?:>[ \t]?)*{re.escape(char)}{{{length},}}[ \t\r]*$", re.M)


@lru_cache(maxsize=64)
def _closing_run(length: int) -> re.Pattern:
    return re.compile(rf"(?<!`)`{{{length}}}(?!`)")


def blocks(text: str, lo: int, hi: int, limit: int | None = None) -> Iterator[Region]:
    """Fenced blocks, directives and block comments whose opening line starts in ``text[lo:hi]``.

    A block may run past ``hi`` up to ``limit`` (the end of the enclosing text),
    where an unclosed one ends. A Markdown-bodied directive comes whole, as one
    region of kind ``directive`` (its body is the text between its fence lines).
    """
    limit = len(text) if limit is None else limit
    pos = lo
    while True:
        match = _next_block_line(text, pos, hi)
        if match is None:
            return
        start = match.start()
        if match["comment"]:
            body_start = match.end()
            close = text.find("-->", body_start, limit)
            if close == -1:
                region = Region(start, limit, body_start, limit, "comment", "html")
            else:
                region = Region(start, close + 3, body_start, close, "comment", "html")
        else:
            fence = match["fence"] or match["colon"]
            info = (match["info"] if match["fence"] else match["cinfo"]).strip()
            if fence[0] == "`" and "`" in info:  # ```code``` on one line is a code span
                pos = match.end()
                continue
            body_start = min(match.end() + 1, limit)
            kind = "directive" if _is_prose_directive(info) else "fence"
            close = _closing_fence(fence[0], len(fence)).search(text, body_start, limit)
            if close is None:
                region = Region(start, limit, body_start, limit, kind, info)
            else:
                region = Region(start, close.end(), body_start, close.start(), kind, info)
        yield region
        pos = max(region.end, match.end())


def _is_prose_directive(info: str) -> bool:
    """Whether a fence's info string names a MyST directive whose body is Markdown."""
    name = _DIRECTIVE_NAME.match(info)
    return name is not None and name["name"] != "math" and name["name"] not in CODE_DIRECTIVES


def _directive_parts(text: str, directive: Region) -> tuple[Region, int, Region | None]:
    """A directive's opening region (its line and options), where its Markdown body starts, its closing region."""
    first_line_end = min(line_end(text, directive.start), directive.body_end)
    info_at = text.find(directive.info, directive.start, first_line_end) if directive.info else first_line_end
    body_start = directive.body_start
    options = _DIRECTIVE_OPTIONS.match(text, body_start, directive.body_end)
    if options is not None:
        body_start = options.end()
    head_end = max(first_line_end, body_start - 1) if body_start > directive.body_start else first_line_end
    head = Region(directive.start, head_end, info_at, head_end, "directive", directive.info)
    tail = None
    if directive.end > directive.body_end:  # closed: its closing fence line
        tail = Region(directive.body_end, directive.end, directive.body_end, directive.end, "directive", directive.info)
    return head, body_start, tail


def _next_block_line(text: str, pos: int, hi: int) -> re.Match | None:
    """The first line starting at or after ``pos`` (before ``hi``) that opens a block."""
    if pos == 0 or text[pos - 1 : pos] == "\n":
        match = _BLOCK_OPEN.match(text, pos, hi)
        if match is not None:
            return match
    while True:
        candidate = _BLOCK_CANDIDATE.search(text, pos, hi)
        if candidate is None:
            return None
        match = _BLOCK_OPEN.match(text, candidate.start() + 1, hi)
        if match is not None:
            return match
        pos = candidate.start() + 1


def inline_regions(text: str, lo: int, hi: int, paragraphs: Paragraphs) -> list[Region]:
    """Code spans and inline HTML comments in ``text[lo:hi]``, a stretch holding no block."""
    found: list[Region] = []
    pos = lo
    unclosed_comment_until = -1  # no "-->" between an earlier "<!--" and this paragraph end
    while True:
        match = _INLINE.search(text, pos, hi)
        if match is None:
            return found
        start = match.start()
        end_of_paragraph = min(paragraphs.end(start), hi)
        if match.group() == "<!--":
            close = -1 if start < unclosed_comment_until else text.find("-->", start + 4, end_of_paragraph)
            if close == -1:
                unclosed_comment_until = end_of_paragraph
                pos = start + 4
                continue
            found.append(Region(start, close + 3, start + 4, close, "comment", "html"))
            pos = close + 3
            continue
        run = len(match.group())
        if is_escaped(text, start):  # \` is a literal backtick; the rest of the run may still open
            start += 1
            run -= 1
            if run == 0:
                pos = start
                continue
        close = _closing_run(run).search(text, start + run, end_of_paragraph)
        if close is None:
            pos = start + run
            continue
        found.append(Region(start, close.end(), start + run, close.start(), "code", "`" * run))
        pos = close.end()


def regions(
    text: str, lo: int = 0, hi: int | None = None, *, limit: int | None = None, headings: bool = True
) -> list[Region]:
    """Blocks, then code spans and inline comments between them, for ``text[lo:hi]``, in order.

    ``lo`` must be a neutral point (:func:`window` provides one). ``limit`` ends
    every construct (the end of a Python docstring, say); ``headings`` makes
    ATX heading lines paragraphs of their own, as in a Markdown document. A
    Markdown-bodied directive gives its opening and closing regions, with the
    regions of its body between them.
    """
    limit = len(text) if limit is None else limit
    hi = limit if hi is None else min(hi, limit)
    found: list[Region] = []
    _collect(text, lo, hi, limit, headings, found)
    return found


def _collect(text: str, lo: int, hi: int, limit: int, headings: bool, found: list[Region]) -> None:
    paragraphs = Paragraphs(text, limit, headings=headings, items=headings)
    pos = lo
    for block in blocks(text, lo, hi, limit):
        found.extend(inline_regions(text, pos, block.start, paragraphs))
        if block.kind == "directive":
            head, body_start, tail = _directive_parts(text, block)
            found.append(head)
            _collect(text, body_start, min(hi, block.body_end), block.body_end, headings, found)
            if tail is not None:
                found.append(tail)
        else:
            found.append(block)
        pos = block.end
    if pos < hi:
        found.extend(inline_regions(text, pos, hi, paragraphs))


@lru_cache(maxsize=4)  # the gate, the triggers and math_span_at ask about the same cursor
def window(text: str, offset: int) -> tuple[int, int]:
    """``(lo, hi)``: the paragraph around ``offset``, starting at a neutral point.

    Inline constructs never cross a blank line; fenced blocks and block comments
    can, so when one is open across the blank line before the offset the window
    starts at its opening line.
    """
    lo, hi = paragraph_window(text, offset)
    last = None
    for last in blocks(text, 0, lo):  # noqa: B007 (only the last can still be open)
        pass
    if last is not None and last.end > lo:
        lo = last.start
    return lo, hi


def region_at(text: str, offset: int) -> Region | None:
    """The code or comment region whose body holds ``offset``, if any."""
    lo, hi = window(text, offset)
    for region in regions(text, lo, hi):
        if region.start > offset:
            return None
        if region.holds(offset):
            return region
    return None
