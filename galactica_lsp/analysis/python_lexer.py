"""Python's prose: where comments, docstrings and other string literals lie.

Owns: the ``comment``, ``docstring`` and ``string`` regions of a Python source.
A docstring is any string literal that makes up a whole statement: the module,
class and function docstrings, and the attribute docstrings Sphinx reads. The
other literals are ``string``. Comments and docstrings are where people write
prose and math; the analysers look for those only there.

The standard :mod:`tokenize` module finds them while the source fits
:data:`TOKENIZE_LIMIT`. Code being edited is often incomplete: where tokenize
gives up (an unterminated triple-quoted string, a bad dedent), the regions it
found so far are kept and a regular-expression scan takes over from the end of
the last good token. That scan also serves sources over the limit, where
tokenize would take seconds. It judges a literal a docstring when only
indentation precedes it on its first line and only whitespace or a comment
follows it on its last. An unterminated triple-quoted string runs to the end of
the text, an unterminated single-quoted one to the end of its line.

Results are memoised per text (the server asks several questions of one version
of a document).
"""

from __future__ import annotations

import io
import logging
import re
import tokenize
from functools import lru_cache

from .scanning import Region, line_end, line_start

logger = logging.getLogger(__name__)

# Above this many characters the regular-expression scan replaces tokenize (~0.25 s per MB).
TOKENIZE_LIMIT = 500_000

_PREFIX_LETTERS = frozenset("rRbBuUfFtT")
_START = re.compile(r"[#'\"]")
# Bodies up to (not including) the closing quotes; an unterminated body stops at the end.
_TRIPLE_BODY = {
    "'": re.compile(r"[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*"),
    '"': re.compile(r'[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*'),
}
_SINGLE_BODY = {
    "'": re.compile(r"[^'\\\n]*(?:\\[\s\S][^'\\\n]*)*"),
    '"': re.compile(r'[^"\\\n]*(?:\\[\s\S][^"\\\n]*)*'),
}
_ONLY_TRAILING = re.compile(r"[ \t\f\r]*(?:#[^\n]*)?(?:\n|$)")

_STATEMENT_ENDS = {tokenize.NEWLINE, tokenize.ENDMARKER}
_TRANSPARENT = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
_FSTRING_START = {getattr(tokenize, name) for name in ("FSTRING_START", "TSTRING_START") if hasattr(tokenize, name)}
_FSTRING_END = {getattr(tokenize, name) for name in ("FSTRING_END", "TSTRING_END") if hasattr(tokenize, name)}


@lru_cache(maxsize=8)
def regions(text: str) -> tuple[Region, ...]:
    """Every comment, docstring and string literal of a Python source, in order."""
    if len(text) > TOKENIZE_LIMIT:
        return tuple(_scan(text, 0))
    return tuple(_tokenize(text))


def region_at(text: str, offset: int) -> Region | None:
    """The comment or string literal whose body holds ``offset``, if any."""
    found = regions(text)
    lo, hi = 0, len(found)
    while lo < hi:  # the last region starting at or before offset
        mid = (lo + hi) // 2
        if found[mid].start <= offset:
            lo = mid + 1
        else:
            hi = mid
    if lo and found[lo - 1].holds(offset):
        return found[lo - 1]
    return None


def _tokenize(text: str) -> list[Region]:
    line_offsets = [0, 0]  # tokenize counts rows from 1
    line_offsets.extend(match.end() for match in re.finditer("\n", text))
    found: list[Region] = []
    statement: list[Region] = []  # string literals of the statement being read
    only_strings = True
    fstring_start = fstring_body = 0
    fstring_depth = 0  # Python 3.12+ tokenizes f-strings into parts, nested literals included
    skip_until = -1  # after an unterminated single-quoted string: the rest of its line
    resume = 0  # where a fallback scan would start: the end of the last good token

    def offset(row_col: tuple[int, int]) -> int:
        row, col = row_col
        return line_offsets[row] + col if row < len(line_offsets) else len(text)

    def flush() -> None:
        kind = "docstring" if only_strings else "string"
        found.extend(Region(r.start, r.end, r.body_start, r.body_end, kind, r.info) for r in statement)
        statement.clear()

    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            start = offset(token.start)
            if start < skip_until:
                continue
            kind = token.type
            if kind in _FSTRING_START:
                if fstring_depth == 0:
                    fstring_start, fstring_body = start, start + len(token.string)
                fstring_depth += 1
                only_strings = False
            elif kind in _FSTRING_END and fstring_depth:
                fstring_depth -= 1
                if fstring_depth == 0:
                    end = offset(token.end)
                    body_end = end - len(token.string)
                    found.append(
                        Region(fstring_start, end, fstring_body, body_end, "string", text[fstring_start:fstring_body])
                    )
            elif fstring_depth:
                pass
            elif kind == tokenize.COMMENT:
                end = offset(token.end)
                found.append(Region(start, end, start + 1, end, "comment", "#"))
            elif kind == tokenize.STRING:
                statement.append(_string_region(token.string, start, offset(token.end)))
            elif kind == tokenize.ERRORTOKEN and token.string in ("'", '"'):
                # tokenize's answer to an unterminated single-quoted string: a lone quote.
                end = line_end(text, start)
                found.append(Region(start, end, start + 1, end, "string", token.string))
                only_strings = False
                skip_until = end
            elif kind in _STATEMENT_ENDS:
                flush()
                only_strings = True
            elif kind not in _TRANSPARENT:
                only_strings = False
            resume = max(resume, offset(token.end))
    except Exception as error:  # any source text, even binary, must not raise
        logger.debug("tokenize stopped (%s); scanning the rest from offset %d", error, resume)
        flush()
        found.sort(key=lambda region: region.start)
        found.extend(_scan(text, resume))
        return found
    flush()
    found.sort(key=lambda region: region.start)
    return found


def _string_region(literal: str, start: int, end: int) -> Region:
    prefix = 0
    while prefix < len(literal) and literal[prefix] in _PREFIX_LETTERS:
        prefix += 1
    quote = literal[prefix : prefix + 3] if literal[prefix : prefix + 3] in ("'''", '"""') else literal[prefix]
    return Region(start, end, start + prefix + len(quote), end - len(quote), "string", literal[: prefix + len(quote)])


def _scan(text: str, pos: int) -> list[Region]:
    """Comments and string literals from ``pos`` (a point outside both) by regular expressions."""
    found: list[Region] = []
    while True:
        match = _START.search(text, pos)
        if match is None:
            return found
        quote_at = match.start()
        char = text[quote_at]
        if char == "#":
            end = line_end(text, quote_at)
            found.append(Region(quote_at, end, quote_at + 1, end, "comment", "#"))
            pos = end
            continue
        start = quote_at
        while start > pos and quote_at - start < 2 and text[start - 1] in _PREFIX_LETTERS:
            start -= 1
        if start > 0 and start < quote_at and (text[start - 1].isalnum() or text[start - 1] == "_"):
            start = quote_at  # the letters end an identifier; they are no prefix
        if text.startswith(char * 3, quote_at):
            quote = char * 3
            body = _TRIPLE_BODY[char].match(text, quote_at + 3)
        else:
            quote = char
            body = _SINGLE_BODY[char].match(text, quote_at + 1)
        body_end = body.end()
        end = body_end + len(quote) if text.startswith(quote, body_end) else body_end
        kind = "docstring" if _alone(text, start, end) else "string"
        found.append(Region(start, end, quote_at + len(quote), body_end, kind, text[start : quote_at + len(quote)]))
        pos = max(end, quote_at + 1)


def _alone(text: str, start: int, end: int) -> bool:
    """Whether a literal is the only thing on its lines (indentation before, a comment after at most)."""
    return not text[line_start(text, start) : start].strip() and _ONLY_TRAILING.match(text, end) is not None
