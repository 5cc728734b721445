"""Which dialect of text a document is: the one language-id table.

Owns: the mapping from editor language ids (and, when the id is unknown, file
extensions) to the four dialects the analysers know: ``latex``, ``markdown``,
``python`` and ``text`` (anything else, read as plain prose: no math, only
Galactica's own ``[START_REF]`` trigger). The server and the analysers both
read it; nothing else maps language ids.
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
    "context": LATEX,
    "markdown": MARKDOWN,
    "quarto": MARKDOWN,
    "rmd": MARKDOWN,
    "rmarkdown": MARKDOWN,
    "myst": MARKDOWN,
    "pandoc": MARKDOWN,
    "python": PYTHON,
    "jupyter": PYTHON,
}
_EXTENSIONS = {
    ".tex": LATEX, ".ltx": LATEX,
    ".md": MARKDOWN, ".markdown": MARKDOWN, ".qmd": MARKDOWN, ".rmd": MARKDOWN,
    ".py": PYTHON, ".pyi": PYTHON,
}


def dialect(language: str | None) -> str:
    """The dialect for an LSP language id (case-insensitive); ``text`` when unknown."""
    if not language:
        return TEXT
    return _DIALECTS.get(language.strip().lower(), TEXT)


def normalise_language(language_id: str | None, uri: str) -> str:
    """The client's languageId, or the file extension when the id is unknown: latex, markdown, python or text."""
    known = dialect(language_id)
    if known != TEXT:
        return known
    name = uri.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return _EXTENSIONS.get(name[dot:].lower(), TEXT) if dot != -1 else TEXT
