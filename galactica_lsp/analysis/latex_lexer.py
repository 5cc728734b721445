r"""LaTeX's lexical regions: what a scan for math or citations must skip.

Owns: ``%`` comments (``\%`` is a percent sign, ``\\%`` a line break and then
a comment), ``\verb|…|`` (and ``\verb*``), the verbatim-like environments
(``verbatim``, ``Verbatim``, ``BVerbatim``, ``LVerbatim``, ``lstlisting``,
``minted``) and the ``comment`` environment, each ended only by its literal
``\end{…}``. Also owns :func:`window`: the paragraph around an offset, widened
back to the start of a verbatim environment that is still open there, so that
callers can scan a paragraph instead of the whole document.

Nothing here crosses a blank line except the verbatim-like environments, which
is what makes the paragraph window sound.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .scanning import Region, line_end, line_start, paragraph_window

VERBATIM_ENVIRONMENTS = ("verbatim", "Verbatim", "BVerbatim", "LVerbatim", "lstlisting", "minted", "comment")

_ENVIRONMENT = "|".join(VERBATIM_ENVIRONMENTS)
# Every token is preceded by an even run of backslashes (``\\`` is a line break, not an escape).
_TOKEN = re.compile(
    r"(?<!\\)(?:\\\\)*(?P<tok>"
    r"(?P<comment>%)"
    r"|\\verb\*?(?P<delim>[^A-Za-z\s])"
    rf"|\\begin\{{(?P<env>{_ENVIRONMENT})(?P<star>\*?)\}}"
    r")"
)
_BEGIN = re.compile(rf"\\begin\{{(?P<env>{_ENVIRONMENT})(?P<star>\*?)\}}")


def regions(text: str, lo: int = 0, hi: int | None = None) -> list[Region]:
    """Comments and verbatim material whose opening lies in ``text[lo:hi]``, in order.

    ``lo`` must be a neutral point (not inside a comment, ``\\verb`` or a
    verbatim environment); :func:`window` provides one. A region may run past
    ``hi``: an environment ends only at its ``\\end``, or at the end of the text.
    """
    hi = len(text) if hi is None else hi
    found: list[Region] = []
    pos = lo
    while True:
        match = _TOKEN.search(text, pos, hi)
        if match is None:
            return found
        region = _region(text, match)
        found.append(region)
        pos = region.end


def _region(text: str, match: re.Match) -> Region:
    start = match.start("tok")
    if match["comment"]:
        end = line_end(text, start)
        return Region(start, end, start + 1, end, "comment", "%")
    if match["delim"]:
        body_start = match.end()
        eol = line_end(text, body_start)
        close = text.find(match["delim"], body_start, eol)
        if close == -1:  # an unterminated \verb: LaTeX stops at the line's end
            return Region(start, eol, body_start, eol, "verbatim", "verb")
        return Region(start, close + 1, body_start, close, "verbatim", "verb")
    name = match["env"] + match["star"]
    end_token = f"\\end{{{name}}}"
    body_start = match.end()
    close = text.find(end_token, body_start)
    kind = "comment" if match["env"] == "comment" else "verbatim"
    if close == -1:
        return Region(start, len(text), body_start, len(text), kind, name)
    return Region(start, close + len(end_token), body_start, close, kind, name)


@lru_cache(maxsize=4)  # the gate, the triggers and math_span_at ask about the same cursor
def window(text: str, offset: int) -> tuple[int, int]:
    """``(lo, hi)``: the paragraph around ``offset``, starting at a neutral point.

    Math and comments never cross a blank line, so the blank lines around the
    offset bound every span that can hold it. The one exception is a verbatim
    environment open across the blank line before the offset: then the window
    starts at that environment's ``\\begin``.
    """
    lo, hi = paragraph_window(text, offset)
    opened = _open_verbatim(text, lo)
    return (lo if opened is None else opened), hi


def _open_verbatim(text: str, pos: int) -> int | None:
    """Offset of the ``\\begin`` of a verbatim-like environment still open at ``pos``, if any."""
    search = neutral = 0  # neutral: a point known to lie outside every region
    line = (-1, -1, frozenset())  # a line's bounds and where its regions start, lexed once
    while True:
        match = _BEGIN.search(text, search, pos)
        if match is None:
            return None
        begin = match.start()
        if not line[0] <= begin < line[1]:
            lo = max(neutral, line_start(text, begin))
            hi = line_end(text, begin)
            line = (lo, hi, frozenset(region.start for region in regions(text, lo, hi)))
        if begin not in line[2]:  # escaped, or inside a comment or \verb on its line
            search = match.end()
            continue
        end_token = f"\\end{{{match['env']}{match['star']}}}"
        close = text.find(end_token, match.end())
        if close == -1 or close + len(end_token) > pos:
            return begin
        search = neutral = close + len(end_token)
        line = (-1, -1, frozenset())


def region_at(text: str, offset: int) -> Region | None:
    """The comment or verbatim region whose body holds ``offset``, if any."""
    lo, hi = window(text, offset)
    for region in regions(text, lo, hi):
        if region.start > offset:
            return None
        if region.holds(offset):
            return region
    return None
