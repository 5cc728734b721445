"""Which dialect of text a document is, from its LSP language id.

Owns: the mapping from editor language ids to the four dialects the analysers
know: ``latex``, ``markdown``, ``python`` and ``text`` (anything else, read as
plain prose: no math, only Galactica's own ``[START_REF]`` trigger).
"""

from __future__ import annotations

LATEX = "latex"
MARKDOWN = "markdown"
PYTHON = "python"
TEXT = "text"

_DIALECTS = {
    "latex": LATEX,
    "tex": LATEX,
    "plaintex": LATEX,
    "markdown": MARKDOWN,
    "quarto": MARKDOWN,
    "rmd": MARKDOWN,
    "rmarkdown": MARKDOWN,
    "myst": MARKDOWN,
    "python": PYTHON,
}


def dialect(language: str | None) -> str:
    """The dialect for an LSP language id (case-insensitive); ``text`` when unknown."""
    if not language:
        return TEXT
    return _DIALECTS.get(language.strip().lower(), TEXT)
