r"""The code inside a docstring: doctest blocks, literal blocks and code directives.

Owns: the ``doctest`` and ``literal`` regions of a docstring's body, as
docutils (and Sphinx, numpydoc, the :mod:`doctest` module) read them:

- a doctest block: a line whose text starts with ``>>>`` (followed by a space
  or the line's end), with every line after it up to the next blank line: the
  ``...`` continuation lines and the expected output. Its kind is ``doctest``;
- a literal block: the indented block after a paragraph ending in ``::``
  (``Example::``, or a lone ``::``), after at least one blank line, up to the
  first non-blank line indented no deeper than the line with the ``::``;
- a Markdown code fence (```` ``` ```` or ``~~~``, not ```` ```math ````), to
  its closing line, for docstrings written in Markdown;
- the indented body of a code directive (``.. code-block:: python``,
  ``.. code::``, ``.. sourcecode::``, ``.. doctest::``, ``.. testcode::``,
  ``.. testoutput::``, ``.. ipython::``, ``.. plot::``, ``.. jupyter-execute::``,
  ``.. highlight::``), options included. These are of kind ``literal``.

The first line of a docstring (after its quotes) is as indented as the lines
after it (``inspect.cleandoc``'s margin), as docutils sees it once cleaned.

Everything in them is code: no prose completion, no citation, no formula
(``>>> ax.set_xlabel(r'$\pi$ rad')`` holds a string, not math). Bodies are
the source as written; offsets are into the whole source. ``.. math::``
blocks are ``math_spans``' concern.

Not handled: quoted literal blocks (unindented, each line starting with the
same punctuation), and line blocks.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .scanning import Region, line_end

_CODE_DIRECTIVES = (
    "code-block", "code", "sourcecode", "doctest", "testcode", "testoutput", "testsetup", "testcleanup",
    "ipython", "plot", "jupyter-execute", "highlight", "literalinclude",
)  # fmt: skip
# A line that may open a code region: a doctest prompt, a code directive, a Markdown fence, or "…::".
_OPENER_LINE = (
    r"(?P<indent>[ \t]*)(?:"
    r"(?P<prompt>>>>)(?:[ \t]|$)"
    rf"|\.\.[ \t]+(?P<directive>{'|'.join(re.escape(name) for name in _CODE_DIRECTIVES)})[ \t]*::"
    r"|(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)"
    r"|(?P<text>(?!\.\.[ \t])\S[^\n]*::)[ \t\r]*$"
    r")"
)
_OPENER = re.compile("^" + _OPENER_LINE, re.M)
_FIRST_LINE = re.compile(_OPENER_LINE, re.M)  # the docstring's first line starts after its quotes
_BLANK = re.compile(r"[ \t\r\f\v]*(?:\n|$)")
_INDENTED_LINE = re.compile(r"^([ \t]*)\S", re.M)


@lru_cache(maxsize=16)  # the gate, the triggers and the math scan ask about the same docstring
def code_regions(text: str, lo: int, hi: int) -> tuple[Region, ...]:
    """The doctest and literal regions of the docstring body ``text[lo:hi]``, in order."""
    found: list[Region] = []
    pos = lo
    while pos < hi:
        match = _FIRST_LINE.match(text, lo, hi) if pos == lo else None
        margin = None
        if match is not None and (match["prompt"] or match["directive"] or match["fence"] or match["text"]):
            margin = _margin(text, lo, hi)  # its indentation is that of the docstring's other lines
        else:
            match = _OPENER.search(text, pos, hi)
        if match is None:
            break
        if match["prompt"]:
            region = _doctest(text, match, hi)
        elif match["fence"]:
            region = _fence(text, match, hi)
        else:
            region = _indented_block(text, match, hi, directive=match["directive"] is not None, indent=margin)
        if region is None:
            pos = line_end(text, match.start()) + 1
            continue
        found.append(region)
        pos = region.end + 1
    return tuple(found)


def _margin(text: str, lo: int, hi: int) -> int:
    """The indentation the lines after a docstring's first share (``inspect.cleandoc``'s margin)."""
    widths = [len(m.group(1).expandtabs()) for m in _INDENTED_LINE.finditer(text, line_end(text, lo) + 1, hi)]
    return min(widths, default=0)


def region_at(text: str, lo: int, hi: int, offset: int) -> Region | None:
    """The doctest or literal region of the docstring body ``text[lo:hi]`` holding ``offset``, if any."""
    for region in code_regions(text, lo, hi):
        if region.start > offset:
            return None
        if region.holds(offset):
            return region
    return None


def _doctest(text: str, match: re.Match, hi: int) -> Region:
    """From the prompt to the end of the last line before a blank line (or the docstring's end)."""
    start = match.start("prompt")
    end = min(line_end(text, start), hi)
    while end < hi:
        following = end + 1
        if following >= hi or _BLANK.match(text, following, hi) is not None:
            break
        end = min(line_end(text, following), hi)
    return Region(start, end, start, end, "doctest", ">>>")


def _fence(text: str, match: re.Match, hi: int) -> Region | None:
    """A Markdown code fence in a docstring, to its closing line; a math fence is no code."""
    name = match["info"].strip().split(" ")[0]
    if name in ("math", "{math}"):
        return None
    fence = match["fence"]
    close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t\r]*$", re.M).search(text, match.end(), hi)
    start = match.start("fence")
    end = hi if close is None else close.end()
    return Region(start, end, min(match.end() + 1, end), close.start() if close else hi, "literal", match["info"].strip())


def _indented_block(text: str, match: re.Match, hi: int, *, directive: bool, indent: int | None) -> Region | None:
    """The block indented deeper than the opening line, after it (a code directive) or after a blank line."""
    indent = len(match["indent"].expandtabs()) if indent is None else indent
    line = line_end(text, match.start()) + 1
    seen_blank = directive
    first = last = None
    while line < hi:
        end = min(line_end(text, line), hi)
        content = text[line:end]
        if not content.strip():
            seen_blank = True
        elif len(content) - len(content.lstrip(" \t")) > indent and (seen_blank or first is not None):
            if first is None:
                first = line + len(content) - len(content.lstrip(" \t"))
            last = line + len(content.rstrip())
        else:
            break
        line = end + 1
    if first is None:
        return None
    # A directive's own line is part of it; the paragraph before a "::" is prose.
    start = match.start() + len(match["indent"]) if directive else first
    return Region(start, last, first, last, "literal", match["directive"] or "::")
