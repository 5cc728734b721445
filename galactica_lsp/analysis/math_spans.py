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
    Inline ``$…$`` closes at the first ``$`` outside the braces of a
    text-mode command (``\text{…}``, ``\mbox{…}``…), so
    ``$\sum_{\text{$n$ odd}} a_n$`` is one span. The delimited forms do not
    cross a blank line, as in TeX: an opener with no closer before the next
    blank line is not math, and the scan goes on after it. An environment
    may hold blank lines (writers leave them; pylatexenc reads it whole): it
    ends at its own ``\end``, with the environments inside it (``cases``,
    ``aligned``…) closed in order, within :data:`ENVIRONMENT_REACH`; a
    mismatched ``\end``, or another display environment's ``\begin``, first
    means it was left open, and it is no math.

Markdown (pandoc's rules)
    ``$…$`` needs a non-space right after the opening ``$``; the first ``$``
    after it (outside code spans and text-mode groups) is its closer, and it
    closes only with a non-space right before it and no digit right after
    it, else the opener is not math (pandoc tries no later ``$``): so
    ``The price is $20,000 and $30,000`` is not math, nor is ``$a$5``.
    ``$$…$$`` may span lines but not a blank line. GitHub's ``$`…`$`` and
    ```` ```math ```` fences, MyST's ``{math}`…``` role and
    ```` ```{math} ````/``:::{math}`` directives (leading ``:label:`` style
    option lines are not part of the body), ``\(…\)``, ``\[…\]`` and the
    LaTeX display environments (as in LaTeX) are math too. Inline forms stay
    within their paragraph (blank lines and heading lines end it) and
    ``$…$``/``\(…\)`` within a list item; code spans, code fences, directive
    fence lines and HTML comments are skipped, and the Markdown bodies of
    MyST directives (``{note}``, ``{exercise}``, ``{prf:theorem}``…) are read
    like the rest of the page (see ``markdown_lexer``).

Python
    Only comments and docstrings hold math (see ``python_lexer``), and in a
    docstring not its doctest and literal blocks (``rst_lexer``): in
    ``>>> ax.set_xlabel(r'$\pi$ rad')`` the ``$`` are a string's. Within
    them: ``$…$`` and ``$$…$$`` with the Markdown rules, reST's
    ``:math:`…``` role and the ``.. math::`` directive (also written
    ``.. math ::``, as SymPy and mpmath do), whose span runs from the ``..``
    to the end of its indented block (the body is the block, or the text
    after ``math::`` on the directive's own line, without ``:label:`` style
    option lines). Each comment is read on its own, so a formula cannot run
    from one comment line into the next. Bodies are the source text as
    written: escape sequences of non-raw strings are not decoded.

Any other language has no math. :func:`math_span_at` scans only the paragraph
around the offset (or the stretch of the one comment or docstring holding it),
widened back to an environment still open there, so it stays fast on
documents of many megabytes; a "paragraph" running more than
``scanning.PARAGRAPH_REACH`` characters either side of the offset (generated or
binary text) is read only that far, and there the answer is a best guess.

Why these rules and not the parsers that define the syntaxes
    markdown-it-py with mdit-py-plugins (dollarmath, amsmath, MyST roles,
    colon fences: what MyST-Parser and Jupyter Book run) and docutils were
    weighed, and measured by ``benchmarks/analysis_agreement.py`` on the
    four documents in ``tests/analysis/fixtures``. Share of characters read
    alike as math, code or prose (before these rules: 75.4, 58.3, 90.0,
    62.1 %), and milliseconds per call on a 50 KB document (the fixture
    repeated; this 2-core machine, under load)::

        document            agree %   reference parse   ours: whole doc   ours: a keystroke
        MyST page            100.00        22-34 ms          13-16 ms          0.15 ms
        Jupyter Book page     97.29        26-34 ms          10-16 ms          0.06 ms
        pandoc paper          96.20        58-130 ms         13-24 ms          0.08 ms
        SymPy-style module    94.93      1230-1880 ms        14-19 ms          0.02 ms

    A keystroke costs the server a gate, a citation trigger and a math span
    on its 24 KB window; a parser would parse that window on every
    keystroke (markdown-it about 13 ms, docutils about 50 ms per 24 KB)
    where these scans read one paragraph, and neither parser gives
    character offsets for inline constructs (markdown-it maps blocks to
    lines, docutils nodes to lines at best), so offsets would be recovered
    by searching the source again. The remaining differences are choices:
    ``$…$`` in docstrings is math here (docutils knows only ``:math:``);
    ``\(…\)`` and ``\[…\]`` are math in Markdown (dollarmath does not read
    them); ``$\sum_{\text{$n$ odd}}…$`` is one formula, as pandoc reads it
    (dollarmath cuts it at the inner ``$``); and a code span wins over a
    ``$`` closer inside it (``$200 … `$x$``` is no math here, while
    dollarmath and pandoc close the formula inside the backticks).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from . import latex_lexer, markdown_lexer, python_lexer, rst_lexer
from .language import LATEX, MARKDOWN, PYTHON, dialect
from .scanning import Paragraphs, Region, RegionIndex, is_escaped, last_match_before, line_end, paragraph_window

DISPLAY_ENVIRONMENTS = (
    "equation", "align", "alignat", "gather", "multline", "flalign", "eqnarray", "math", "displaymath",
)  # fmt: skip
INLINE_ENVIRONMENTS = frozenset({"math", "math*"})
# How far past its ``\begin`` an environment's ``\end`` is looked for.
ENVIRONMENT_REACH = 20_000
# How long a text-mode group inside inline math (``\text{…}``) may be.
TEXT_GROUP_REACH = 500

_DISPLAY_NAMES = frozenset(name + star for name in DISPLAY_ENVIRONMENTS for star in ("", "*"))
_ESCAPE = r"(?<!\\)(?:\\\\)*"  # an even run of backslashes: what follows is not escaped
_ENVIRONMENT = rf"\\begin[ \t]*\{{(?P<env>(?:{'|'.join(DISPLAY_ENVIRONMENTS)})\*?)\}}"
# Without the escape check, which stops ``re`` from skipping ahead to a literal ``\begin``: for windows,
# where reading a little more than needed costs time, never correctness.
_ENVIRONMENT_BEGIN = re.compile(_ENVIRONMENT)
_LATEX_OPEN = re.compile(rf"{_ESCAPE}(?P<tok>\$\$|\$|\\\(|\\\[|{_ENVIRONMENT})")
_MARKDOWN_OPEN = re.compile(rf"{_ESCAPE}(?P<tok>\$\$|\$|\\\(|\\\[|{_ENVIRONMENT})|(?P<role>\{{math\}})")
_PROSE_OPEN = re.compile(rf"{_ESCAPE}(?P<tok>\$\$|\$)|(?P<role>\{{math\}}|:math:)")
# A text-mode group inside inline math, whose ``$`` belong to it (escapes are checked apart: a pattern
# that starts with a literal is found much faster).
_TEXT_GROUP = re.compile(r"\\(?:text[A-Za-z]*|mbox|hbox|fbox|makebox|intertext|shortintertext)[ \t]*\{")
_BRACE = re.compile(rf"{_ESCAPE}(?P<b>[{{}}])")
_ENVIRONMENT_TOKEN = re.compile(rf"{_ESCAPE}(?P<t>\\(?P<which>begin|end)[ \t]*\{{(?P<name>[^{{}}\n]*)\}})")
_CLOSE_DOUBLE = re.compile(rf"{_ESCAPE}(?P<c>\$\$)")
_CLOSE_PAREN = re.compile(rf"{_ESCAPE}(?P<c>\\\))")
_CLOSE_BRACKET = re.compile(rf"{_ESCAPE}(?P<c>\\\])")
_ALIGNAT_COLUMNS = re.compile(r"[ \t]*\{[^{}\n]*\}")
_OPTION_LINES = re.compile(r"(?:[ \t]*:[A-Za-z][\w-]*:[^\n]*\n)+")
# ``.. math::``, and ``.. math ::`` as SymPy and mpmath write it (docutils reads both).
_RST_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)(?P<dots>\.\.)[ \t]+math[ \t]*::(?P<arg>[^\n]*)$", re.M)


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
        return list(_latex_spans(text, 0, len(text), len(text)))
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
        lo, hi = _environment_window(text, offset, latex_lexer.window)
        spans = _latex_spans(text, lo, hi, _lexing_end(text, lo, hi))
    elif kind == MARKDOWN:
        lo, hi = _environment_window(text, offset, markdown_lexer.window)
        spans = _markdown_spans(text, lo, hi, limit=len(text), prose=False, lexing_end=_lexing_end(text, lo, hi))
    elif kind == PYTHON:
        region = python_lexer.region_at(text, offset)
        if region is None:
            return None
        if region.kind == "docstring":
            segment = next(((a, b) for a, b in _docstring_segments(text, region) if a <= offset <= b), None)
            if segment is None:
                return None  # in a doctest or literal block: code
            lo, hi = _docstring_window(text, segment, offset)
            spans = _docstring_spans(text, lo, hi, segment[1])
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


def _environment_window(text: str, offset: int, window: Callable[[str, int], tuple[int, int]]) -> tuple[int, int]:
    """The lexer's window around ``offset``, widened back to a display environment still open at its start.

    An environment may hold blank lines; only the last ``\\begin`` before the
    window can still be open there (an environment ends at the next one).
    """
    lo, hi = window(text, offset)
    begin = last_match_before(_ENVIRONMENT_BEGIN, text, lo, max(0, lo - ENVIRONMENT_REACH))
    if begin is not None and _close_environment(begin["env"]).search(text, begin.end(), lo) is None:
        lo = min(lo, window(text, begin.start())[0])
    return lo, hi


def _lexing_end(text: str, lo: int, hi: int) -> int:
    """How far regions must be known: past ``hi`` when an environment opening before it may close after it."""
    if _ENVIRONMENT_BEGIN.search(text, lo, hi) is None:
        return hi
    return min(len(text), hi + ENVIRONMENT_REACH)


class _Closers:
    """The first closer outside every region at or after a position, per closer pattern.

    A closer inside a region (comment, code, verbatim) does not count. Answers
    are memoised per pattern: a scan asks for growing positions, and the first
    closer after an earlier position is still the first after a later one as
    long as it lies beyond it. That keeps a paragraph full of unclosed openers
    linear.
    """

    def __init__(self, text: str, regions: RegionIndex, endpos: int):
        self._text = text
        self._regions = regions
        self._endpos = endpos
        self._memo: dict[re.Pattern, tuple[int, re.Match | None]] = {}

    def find(self, pattern: re.Pattern, start: int, limit: int) -> re.Match | None:
        memo = self._memo.get(pattern)
        if memo is not None and memo[0] <= start and (memo[1] is None or memo[1].start("c") >= start):
            found = memo[1]
        else:
            found = self._search(pattern, start)
            self._memo[pattern] = (start, found)
        if found is None or found.end("c") > limit:
            return None
        return found

    def _search(self, pattern: re.Pattern, pos: int) -> re.Match | None:
        while True:
            found = pattern.search(self._text, pos, self._endpos)
            if found is None:
                return None
            region = self._regions.covering(found.start("c"))
            if region is None:
                return found
            pos = region.end


@lru_cache(maxsize=32)
def _close_environment(name: str) -> re.Pattern:
    return re.compile(rf"{_ESCAPE}(?P<c>\\end[ \t]*\{{{re.escape(name)}\}})")


def _latex_spans(text: str, lo: int, hi: int, lexing_end: int) -> Iterator[MathSpan]:
    """Spans opening in ``text[lo:hi]``; regions are lexed up to ``lexing_end``, where environments may close."""
    index = RegionIndex(latex_lexer.regions(text, lo, lexing_end))
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
        span = _delimited(text, opener, start, index, closers, paragraphs.end(start), pandoc=False)
        if span is None:
            pos = opener.end()
            continue
        yield span
        pos = span.end


def _delimited(
    text: str, opener: re.Match, start: int, index: RegionIndex, closers: _Closers, limit: int, *, pandoc: bool
) -> MathSpan | None:
    """The span opened by a ``$``, ``$$``, ``\\(``, ``\\[`` or ``\\begin`` token.

    Inline forms close before ``limit`` (the paragraph's end); an environment
    may cross blank lines, up to :data:`ENVIRONMENT_REACH` from its start.
    """
    token = opener["tok"]
    body_start = opener.end()
    if token == "$":
        return _inline_dollar(text, start, body_start, index, limit, pandoc=pandoc)
    if token in ("$$", "\\(", "\\["):
        kind, display, pattern = {
            "$$": ("display-dollar", True, _CLOSE_DOUBLE),
            "\\(": ("paren", False, _CLOSE_PAREN),
            "\\[": ("bracket", True, _CLOSE_BRACKET),
        }[token]
        closer = closers.find(pattern, body_start, limit)
        if closer is None:
            return None
        body_end, end = closer.start("c"), closer.end("c")
        return MathSpan(start, end, body_start, body_end, kind, display, None, text[body_start:body_end])
    environment = opener["env"]
    if environment.startswith("alignat"):
        columns = _ALIGNAT_COLUMNS.match(text, body_start)
        if columns is not None:
            body_start = columns.end()
    closed = _environment_end(text, environment, body_start, min(len(text), start + ENVIRONMENT_REACH), index)
    if closed is None:
        return None
    body_end, end = closed
    display = environment not in INLINE_ENVIRONMENTS
    return MathSpan(start, end, body_start, body_end, "environment", display, environment, text[body_start:body_end])


def _inline_dollar(
    text: str, start: int, body_start: int, index: RegionIndex, limit: int, *, pandoc: bool
) -> MathSpan | None:
    """``$…$``: closed by the first ``$`` outside regions and text-mode groups, before ``limit``.

    With ``pandoc``, as pandoc reads it: no space after the opener, and that
    first ``$`` closes only with a non-space before it and no digit after it;
    else the opener is no math at all (a later ``$`` is not tried).
    """
    if pandoc:
        following = text[body_start : body_start + 1]
        if not following or following.isspace():
            return None
    at = _first_dollar(text, body_start, limit, index)
    if at is None:
        return None
    if pandoc and (text[at - 1].isspace() or "0" <= text[at + 1 : at + 2] <= "9"):
        return None
    return MathSpan(start, at + 1, body_start, at, "inline-dollar", False, None, text[body_start:at])


def _first_dollar(text: str, pos: int, limit: int, index: RegionIndex) -> int | None:
    """Offset of the first unescaped ``$`` in ``text[pos:limit]`` outside regions and text-mode groups.

    A ``$`` inside the braces of ``\\text{…}`` (any ``\\text…``, ``\\mbox``,
    ``\\hbox``, ``\\fbox``, ``\\makebox``, ``\\intertext``) opens math within
    text within math, as in ``$\\sum_{\\text{$n$ odd}} a_n$``: it belongs to the
    outer formula. A group left open for :data:`TEXT_GROUP_REACH` characters
    is no group.
    """
    while True:
        at = text.find("$", pos, limit)
        if at == -1:
            return None
        group = _TEXT_GROUP.search(text, pos, at) if text.find("\\", pos, at) != -1 else None
        if group is not None:
            if is_escaped(text, group.start()):
                pos = group.start() + 1
            else:
                end = _group_end(text, group.end(), min(limit, group.end() + TEXT_GROUP_REACH))
                pos = group.end() if end is None else end
            continue
        if is_escaped(text, at):
            pos = at + 1
            continue
        region = index.covering(at)
        if region is None:
            return at
        pos = max(region.end, at + 1)


def _group_end(text: str, pos: int, limit: int) -> int | None:
    """Offset just past the ``}`` closing a group opened before ``pos``, if it closes before ``limit``."""
    depth = 1
    for brace in _BRACE.finditer(text, pos, limit):
        depth += 1 if brace["b"] == "{" else -1
        if depth == 0:
            return brace.end()
    return None


def _environment_end(text: str, name: str, pos: int, limit: int, index: RegionIndex) -> tuple[int, int] | None:
    """``(body_end, end)`` of the environment ``name`` whose body starts at ``pos``.

    Environments inside it (``cases``, ``aligned``, ``pmatrix``…) must be
    closed in order; the first ``\\end`` that closes nothing open inside
    must be ``name``'s, and another display environment's ``\\begin`` means
    ``name`` was left open: then there is no span. Blank lines do not end it.
    """
    inner: list[str] = []
    while True:
        token = _ENVIRONMENT_TOKEN.search(text, pos, limit)
        if token is None:
            return None
        at = token.start("t")
        region = index.covering(at)
        if region is not None:
            pos = max(region.end, at + 1)
            continue
        found = token["name"]
        if token["which"] == "begin":
            if found in _DISPLAY_NAMES:
                return None
            inner.append(found)
        elif inner:
            if inner.pop() != found:
                return None
        else:
            return (at, token.end()) if found == name else None
        pos = token.end()


def _markdown_spans(
    text: str, lo: int, hi: int, *, limit: int, prose: bool, lexing_end: int | None = None
) -> Iterator[MathSpan]:
    """Math in Markdown (``prose=False``) or in a Python docstring or comment body (``prose=True``).

    Spans open in ``text[lo:hi]``; regions are lexed up to ``lexing_end``
    (default ``hi``), where an environment may close.
    """
    regions = markdown_lexer.regions(text, lo, hi if lexing_end is None else lexing_end, limit=limit, headings=not prose)
    index = RegionIndex(regions)
    paragraphs = Paragraphs(text, limit, headings=not prose)
    blocks = Paragraphs(text, limit, headings=not prose, items=not prose)  # inline math also ends at a list item
    closers = _Closers(text, index, min(hi, limit))
    opening = _PROSE_OPEN if prose else _MARKDOWN_OPEN
    pos = lo
    while True:
        following = index.first_after(pos)
        region = regions[following] if following < len(regions) and regions[following].start < hi else None
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
        inline = opener["tok"] in ("$", "\\(")
        span = _markdown_delimited(text, opener, start, index, closers, (blocks if inline else paragraphs).end(start))
        if span is None:
            pos = opener.end()
            continue
        yield span
        pos = span.end


def _markdown_delimited(
    text: str, opener: re.Match, start: int, index: RegionIndex, closers: _Closers, limit: int
) -> MathSpan | None:
    if opener["tok"] == "$" and text.startswith("`", start + 1):
        code = index.covering(start + 1)
        if code is not None and code.kind == "code" and code.start == start + 1:
            if text.startswith("$", code.end):  # GitHub's $`…`$
                body = text[code.body_start : code.body_end]
                return MathSpan(start, code.end + 1, code.body_start, code.body_end, "gfm-inline", False, None, body)
            return None
    return _delimited(text, opener, start, index, closers, limit, pandoc=True)


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
        for lo, hi in _docstring_segments(text, region):
            yield from _docstring_spans(text, lo, hi, hi)


def _docstring_segments(text: str, region: Region) -> Iterator[tuple[int, int]]:
    """The stretches of a docstring's body between its doctest and literal blocks (see ``rst_lexer``)."""
    pos = region.body_start
    for code in rst_lexer.code_regions(text, region.body_start, region.body_end):
        yield pos, code.start
        pos = code.end
    yield pos, region.body_end


def _docstring_window(text: str, segment: tuple[int, int], offset: int) -> tuple[int, int]:
    """The paragraph of a docstring segment around ``offset``, widened back to a block still open there."""
    floor, ceiling = segment
    lo, hi = paragraph_window(text, offset)
    lo, hi = max(lo, floor), min(hi, ceiling)
    last = None
    for last in markdown_lexer.blocks(text, floor, lo, ceiling):  # noqa: B007
        pass
    if last is not None and last.end > lo:
        lo = last.start
    directive = last_match_before(_RST_DIRECTIVE, text, lo, floor)
    if directive is not None:
        block = _rst_block(text, directive, ceiling)
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
