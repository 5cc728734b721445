r"""Math spans: where the formulas are in LaTeX, Markdown and Python documents.

Owns: :class:`MathSpan`, :func:`find_math_spans`, :func:`math_span_at` and the
delimiter rules below. Offsets are Python string indices into the document.
Spans are outermost (a ``cases`` inside an ``equation`` is part of the
equation's body), sorted and never overlapping. Comments, verbatim material
and code (see the lexers) are skipped before any delimiter is read.

LaTeX
    ``$…$`` and ``\(…\)`` (inline), ``$$…$$``, ``\[…\]`` and the display
    environments (``equation``, ``align``, ``alignat``, ``gather``,
    ``multline``, ``flalign``, ``eqnarray``, ``displaymath``, each with or
    without ``*``; ``math`` is inline). A delimiter after an odd run of
    backslashes is escaped (``\$``); after an even run it is real (``\\$``).
    No span crosses a blank line, as in TeX, where a paragraph break inside
    math is an error: an opener with no closer before the next blank line is
    not math, and the scan goes on after it.

Markdown (pandoc's rules)
    ``$…$`` needs a non-space right after the opening ``$``, a non-space
    right before the closing one, and no digit right after it (so
    ``$20,000 and $30,000`` is not math); ``$$…$$`` may span lines. GitHub's
    ``$`…`$`` and ```` ```math ```` fences, MyST's ``{math}`…``` role and
    ```` ```{math} ````/``:::{math}`` directives (leading ``:label:`` style
    option lines are not part of the body), ``\(…\)``, ``\[…\]`` and the LaTeX
    display environments are math too. Inline forms stay within their
    paragraph (blank lines and heading lines end it); code spans, fences and
    HTML comments are skipped.

Python
    Only comments and docstrings hold math (see ``python_lexer``). Within them:
    ``$…$`` and ``$$…$$`` with the Markdown rules, reST's ``:math:`…``` role
    and the ``.. math::`` directive, whose span runs from the ``..`` to the
    end of its indented block (the body is the block, or the text after
    ``math::`` on the directive's own line, without ``:label:`` style option
    lines). Each comment is read on its own, so a formula cannot run from one
    comment line into the next. Bodies are the source text as written: escape
    sequences of non-raw strings are not decoded.

Any other language has no math. :func:`math_span_at` scans only the paragraph
around the offset (or the one comment or docstring holding it), so it stays
fast on documents of many megabytes; a "paragraph" running more than
``scanning.PARAGRAPH_REACH`` characters either side of the offset (generated or
binary text) is read only that far, and there the answer is a best guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from . import latex_lexer, markdown_lexer, python_lexer
from .language import LATEX, MARKDOWN, PYTHON, dialect
from .scanning import Paragraphs, Region, RegionIndex, last_match_before, line_end, paragraph_window

DISPLAY_ENVIRONMENTS = (
    "equation", "align", "alignat", "gather", "multline", "flalign", "eqnarray", "math", "displaymath",
)  # fmt: skip
INLINE_ENVIRONMENTS = frozenset({"math", "math*"})

_ESCAPE = r"(?<!\\)(?:\\\\)*"  # an even run of backslashes: what follows is not escaped
_ENVIRONMENT = rf"\\begin[ \t]*\{{(?P<env>(?:{'|'.join(DISPLAY_ENVIRONMENTS)})\*?)\}}"
_LATEX_OPEN = re.compile(rf"{_ESCAPE}(?P<tok>\$\$|\$|\\\(|\\\[|{_ENVIRONMENT})")
_MARKDOWN_OPEN = re.compile(rf"{_ESCAPE}(?P<tok>\$\$|\$|\\\(|\\\[|{_ENVIRONMENT})|(?P<role>\{{math\}})")
_PROSE_OPEN = re.compile(rf"{_ESCAPE}(?P<tok>\$\$|\$)|(?P<role>\{{math\}}|:math:)")
_CLOSE_DOLLAR = re.compile(rf"{_ESCAPE}(?P<c>\$)")
_CLOSE_DOUBLE = re.compile(rf"{_ESCAPE}(?P<c>\$\$)")
_CLOSE_PAREN = re.compile(rf"{_ESCAPE}(?P<c>\\\))")
_CLOSE_BRACKET = re.compile(rf"{_ESCAPE}(?P<c>\\\])")
_ALIGNAT_COLUMNS = re.compile(r"[ \t]*\{[^{}\n]*\}")
_OPTION_LINES = re.compile(r"(?:[ \t]*:[A-Za-z][\w-]*:[^\n]*\n)+")
_RST_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)(?P<dots>\.\.)[ \t]+math::(?P<arg>[^\n]*)$", re.M)


@dataclass(frozen=True)
class MathSpan:
    """One formula: its delimiters' extent, its body's extent, what delimits it."""

    start: int  # offset of the opening delimiter
    end: int  # offset just past the closing delimiter
    body_start: int  # offset of the math content
    body_end: int
    kind: str  # inline-dollar, display-dollar, paren, bracket, environment, gfm-inline, gfm-block,
    # myst-role, myst-directive, rst-role, rst-directive
    display: bool
    environment: str | None = None  # e.g. "align*" for environments
    body: str = field(default="", repr=False)  # text[body_start:body_end]

    @property
    def latex(self) -> str:
        """The body text, stripped."""
        return self.body.strip()


def find_math_spans(text: str, language: str) -> list[MathSpan]:
    """Every math span of a document, outermost, sorted, non-overlapping."""
    kind = dialect(language)
    if kind == LATEX:
        return list(_latex_spans(text, 0, len(text)))
    if kind == MARKDOWN:
        return list(_markdown_spans(text, 0, len(text), limit=len(text), prose=False))
    if kind == PYTHON:
        spans: list[MathSpan] = []
        for region in python_lexer.regions(text):
            spans.extend(_python_region_spans(text, region))
        return spans
    return []


def math_span_at(text: str, offset: int, language: str) -> MathSpan | None:
    """The math span with ``start <= offset <= end``, if any (the first, where two touch)."""
    if not 0 <= offset <= len(text):
        return None
    kind = dialect(language)
    if kind == LATEX:
        lo, hi = latex_lexer.window(text, offset)
        spans = _latex_spans(text, lo, hi)
    elif kind == MARKDOWN:
        lo, hi = markdown_lexer.window(text, offset)
        spans = _markdown_spans(text, lo, hi, limit=len(text), prose=False)
    elif kind == PYTHON:
        region = python_lexer.region_at(text, offset)
        if region is None:
            return None
        if region.kind == "docstring":
            lo, hi = _docstring_window(text, region, offset)
            spans = _docstring_spans(text, lo, hi, region.body_end)
        else:
            spans = _python_region_spans(text, region)
    else:
        return None
    for span in spans:
        if span.start > offset:
            return None
        if offset <= span.end:
            return span
    return None


class _Closers:
    """The first usable closer at or after a position, per closer pattern.

    A closer inside a region (comment, code, verbatim) does not count, nor one
    that ``valid`` rejects. Answers are memoised per pattern: a scan asks for
    growing positions, and the first usable closer after an earlier position
    is still the first after a later one as long as it lies beyond it. That
    keeps a paragraph full of unclosed openers linear.
    """

    def __init__(self, text: str, regions: RegionIndex, endpos: int):
        self._text = text
        self._regions = regions
        self._endpos = endpos
        self._memo: dict[re.Pattern, tuple[int, re.Match | None]] = {}

    def find(self, pattern: re.Pattern, start: int, limit: int, valid=None) -> re.Match | None:
        memo = self._memo.get(pattern)
        if memo is not None and memo[0] <= start and (memo[1] is None or memo[1].start("c") >= start):
            found = memo[1]
        else:
            found = self._search(pattern, start, valid)
            self._memo[pattern] = (start, found)
        if found is None or found.end("c") > limit:
            return None
        return found

    def _search(self, pattern: re.Pattern, pos: int, valid) -> re.Match | None:
        while True:
            found = pattern.search(self._text, pos, self._endpos)
            if found is None:
                return None
            at = found.start("c")
            region = self._regions.covering(at)
            if region is not None:
                pos = region.end
            elif valid is not None and not valid(self._text, at):
                pos = at + 1
            else:
                return found


@lru_cache(maxsize=32)
def _close_environment(name: str) -> re.Pattern:
    return re.compile(rf"{_ESCAPE}(?P<c>\\end[ \t]*\{{{re.escape(name)}\}})")


def _latex_spans(text: str, lo: int, hi: int) -> Iterator[MathSpan]:
    index = RegionIndex(latex_lexer.regions(text, lo, hi))
    paragraphs = Paragraphs(text, hi)
    closers = _Closers(text, index, hi)
    pos = lo
    while True:
        opener = _LATEX_OPEN.search(text, pos, hi)
        if opener is None:
            return
        start = opener.start("tok")
        region = index.covering(start)
        if region is not None:
            pos = region.end
            continue
        span = _delimited(text, opener, start, closers, paragraphs.end(start))
        if span is None:
            pos = opener.end()
            continue
        yield span
        pos = span.end


def _delimited(text: str, opener: re.Match, start: int, closers: _Closers, limit: int, valid=None) -> MathSpan | None:
    """The span opened by a ``$``, ``$$``, ``\\(``, ``\\[`` or ``\\begin`` token, closed before ``limit``."""
    token = opener["tok"]
    body_start = opener.end()
    environment = None
    if token == "$":
        kind, display, pattern = "inline-dollar", False, _CLOSE_DOLLAR
    elif token == "$$":
        kind, display, pattern = "display-dollar", True, _CLOSE_DOUBLE
    elif token == "\\(":
        kind, display, pattern = "paren", False, _CLOSE_PAREN
    elif token == "\\[":
        kind, display, pattern = "bracket", True, _CLOSE_BRACKET
    else:
        environment = opener["env"]
        kind, display, pattern = "environment", environment not in INLINE_ENVIRONMENTS, _close_environment(environment)
        if environment.startswith("alignat"):
            columns = _ALIGNAT_COLUMNS.match(text, body_start)
            if columns is not None:
                body_start = columns.end()
    if token != "$":
        valid = None
    closer = closers.find(pattern, body_start, limit, valid)
    if closer is None:
        return None
    body_end = closer.start("c")
    return MathSpan(start, closer.end("c"), body_start, body_end, kind, display, environment, text[body_start:body_end])


def _pandoc_closer(text: str, at: int) -> bool:
    """Pandoc's closing ``$``: a non-space before it, no digit after it."""
    after = text[at + 1 : at + 2]
    return not text[at - 1].isspace() and not "0" <= after <= "9"


def _markdown_spans(text: str, lo: int, hi: int, *, limit: int, prose: bool) -> Iterator[MathSpan]:
    """Math in Markdown (``prose=False``) or in a Python docstring or comment body (``prose=True``)."""
    regions = markdown_lexer.regions(text, lo, hi, limit=limit, headings=not prose)
    index = RegionIndex(regions)
    paragraphs = Paragraphs(text, limit, headings=not prose)
    closers = _Closers(text, index, min(hi, limit))
    opening = _PROSE_OPEN if prose else _MARKDOWN_OPEN
    pos = lo
    while True:
        following = index.first_after(pos)
        region = regions[following] if following < len(regions) else None
        opener = opening.search(text, pos, region.start if region else hi)
        if opener is None:
            if region is None:
                return
            block = _fenced_math(text, region)
            if block is not None:
                yield block
            pos = region.end
            continue
        if opener["role"]:
            role = _role(text, opener, index)
            if role is not None:
                yield role
                pos = role.end
            else:
                pos = opener.end()
            continue
        start = opener.start("tok")
        span = _markdown_delimited(text, opener, start, index, closers, paragraphs.end(start))
        if span is None:
            pos = opener.end()
            continue
        yield span
        pos = span.end


def _markdown_delimited(
    text: str, opener: re.Match, start: int, index: RegionIndex, closers: _Closers, limit: int
) -> MathSpan | None:
    if opener["tok"] != "$":
        return _delimited(text, opener, start, closers, limit)
    code = index.covering(start + 1)
    if code is not None and code.kind == "code" and code.start == start + 1:
        if text.startswith("$", code.end):  # GitHub's $`…`$
            body = text[code.body_start : code.body_end]
            return MathSpan(start, code.end + 1, code.body_start, code.body_end, "gfm-inline", False, None, body)
        return None
    following = text[start + 1 : start + 2]
    if not following or following.isspace():
        return None
    return _delimited(text, opener, start, closers, limit, _pandoc_closer)


def _role(text: str, opener: re.Match, index: RegionIndex) -> MathSpan | None:
    """MyST's ``{math}`…``` or reST's ``:math:`…```: a role name glued to a code span."""
    code = index.covering(opener.end())
    if code is None or code.kind != "code" or code.start != opener.end():
        return None
    kind = "myst-role" if opener["role"] == "{math}" else "rst-role"
    body = text[code.body_start : code.body_end]
    return MathSpan(opener.start("role"), code.end, code.body_start, code.body_end, kind, False, None, body)


def _fenced_math(text: str, region: Region) -> MathSpan | None:
    """A ```` ```math ```` (GitHub) or ```` ```{math} ````/``:::{math}`` (MyST) fence as a span."""
    if region.kind != "fence" or not region.info:
        return None
    name = region.info.split()[0]
    if name == "math":
        kind = "gfm-block"
    elif name.startswith("{math}"):
        kind = "myst-directive"
    else:
        return None
    body_start = region.body_start
    options = _OPTION_LINES.match(text, body_start, region.body_end)
    if options is not None:
        body_start = options.end()
    body = text[body_start : region.body_end]
    return MathSpan(region.start, region.end, body_start, region.body_end, kind, True, None, body)


def _python_region_spans(text: str, region: Region) -> Iterator[MathSpan]:
    if region.kind == "comment":
        yield from _markdown_spans(text, region.body_start, region.body_end, limit=region.body_end, prose=True)
    elif region.kind == "docstring":
        yield from _docstring_spans(text, region.body_start, region.body_end, region.body_end)


def _docstring_window(text: str, region: Region, offset: int) -> tuple[int, int]:
    """The paragraph of a docstring around ``offset``, widened back to a block still open there."""
    lo, hi = paragraph_window(text, offset)
    lo, hi = max(lo, region.body_start), min(hi, region.body_end)
    last = None
    for last in markdown_lexer.blocks(text, region.body_start, lo, region.body_end):  # noqa: B007
        pass
    if last is not None and last.end > lo:
        lo = last.start
    directive = last_match_before(_RST_DIRECTIVE, text, lo, region.body_start)
    if directive is not None:
        block = _rst_block(text, directive, region.body_end)
        if block is not None and block.end >= lo:
            lo = directive.start()
    return lo, hi


def _docstring_spans(text: str, lo: int, hi: int, limit: int) -> Iterator[MathSpan]:
    """``.. math::`` blocks starting in ``text[lo:hi]`` (running up to ``limit``), and inline math between them."""
    pos = lo
    for directive in _RST_DIRECTIVE.finditer(text, lo, hi):
        if directive.start() < pos:
            continue
        block = _rst_block(text, directive, limit)
        if block is None:
            continue
        yield from _markdown_spans(text, pos, directive.start(), limit=directive.start(), prose=True)
        yield block
        pos = block.end
    if pos < hi:
        yield from _markdown_spans(text, pos, hi, limit=limit, prose=True)


def _rst_block(text: str, directive: re.Match, hi: int) -> MathSpan | None:
    """The span of a ``.. math::`` directive: its argument and its indented block."""
    indent = len(directive["indent"])
    argument = directive["arg"].strip()
    body_start = body_end = None
    if argument:
        body_start = directive.start("arg") + directive["arg"].index(argument)
        body_end = body_start + len(argument)
    line = directive.end() + 1
    options_allowed = True
    while line < hi:
        end = min(line_end(text, line), hi)
        content = text[line:end]
        stripped = content.lstrip(" \t")
        if stripped.strip():
            if len(content) - len(stripped) <= indent:
                break
            if options_allowed and body_start is None and _OPTION_LINES.match(stripped + "\n"):
                line = end + 1
                continue
            options_allowed = False
            if body_start is None:
                body_start = line + len(content) - len(stripped)
            body_end = line + len(content.rstrip())
        else:
            options_allowed = False  # options follow the directive line directly
        line = end + 1
    if body_start is None:
        return None
    start = directive.start("dots")
    return MathSpan(start, body_end, body_start, body_end, "rst-directive", True, None, text[body_start:body_end])
