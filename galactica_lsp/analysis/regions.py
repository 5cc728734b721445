"""Where the cursor is, lexically: in a comment, in code, in a string, or in prose.

Owns: the dispatch from a document's language to its lexer
(``latex_lexer``, ``markdown_lexer``, ``python_lexer``) for the two questions
the gate and the citation triggers ask: which region holds an offset, and
which regions a document has. Plain text has no regions.

In a Python docstring, :func:`region_at` answers with the ``doctest`` or
``literal`` block (``rst_lexer``) holding the offset, where there is one:
that is code, not prose. :func:`find_regions` lists only the top-level
regions (sorted and disjoint), so docstrings come whole.
"""

from __future__ import annotations

from . import latex_lexer, markdown_lexer, python_lexer, rst_lexer
from .language import LATEX, MARKDOWN, PYTHON, dialect
from .scanning import Region


def region_at(text: str, offset: int, language: str) -> Region | None:
    """The comment, verbatim, code, string, doctest or directive region whose body holds ``offset``, if any."""
    if not 0 <= offset <= len(text):
        return None
    kind = dialect(language)
    if kind == LATEX:
        return latex_lexer.region_at(text, offset)
    if kind == MARKDOWN:
        return markdown_lexer.region_at(text, offset)
    if kind == PYTHON:
        region = python_lexer.region_at(text, offset)
        if region is not None and region.kind == "docstring":
            return rst_lexer.region_at(text, region.body_start, region.body_end, offset) or region
        return region
    return None


def find_regions(text: str, language: str) -> list[Region]:
    """Every region of a document, in order."""
    kind = dialect(language)
    if kind == LATEX:
        return latex_lexer.regions(text)
    if kind == MARKDOWN:
        return markdown_lexer.regions(text)
    if kind == PYTHON:
        return list(python_lexer.regions(text))
    return []
