r"""Citation keys in a document, and how a key is cited at a place.

Owns: :func:`cited_keys`, every key a document cites with its offsets
(LaTeX ``\cite…{a,b}`` with up to two optional arguments, pandoc ``[@a; @b]``
and, in Markdown, in-text ``@a``, MyST ``{cite}`a,b```, sphinxcontrib-bibtex
``:cite:`a```), outside comments, verbatim and code (in Python: only in
comments and docstrings); pandoc-crossref and Quarto cross-references
(``@fig:x``, ``@sec-y``) are not citations. And :func:`citation_style` /
:func:`cite`: the syntax that cites a key where there is no citation yet
(``\cite{key}``, ``[@key]``, ``{cite}`key```, ``:cite:`key```).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from ..analysis.language import LATEX, MARKDOWN, PYTHON, dialect
from ..analysis.regions import find_regions
from ..analysis.scanning import Region

_LATEX_CITE = re.compile(
    r"(?<!\\)(?:\\\\)*\\(?P<name>[A-Za-z]*[cC]ite[A-Za-z]*)\*?(?:\s*\[[^\[\]]*\]){0,2}\s*\{(?P<keys>[^{}\\]*)\}"
)
_NOT_CITATIONS = {"citestyle", "defcitealias", "citeindextype", "citesetup"}
_LATEX_COMMENT = re.compile(r"(?<!\\)%[^\n]*")
_KEY_IN_LIST = re.compile(r"[^,\s]+")
_PANDOC_KEY = re.compile(r"(?:(?<=[\s\[;(-])|^)-?@(?P<key>[^\W][\w:.#$%&+?<>~/-]*)", re.MULTILINE)
_PANDOC_TRAILING = re.compile(r"[:.#$%&+?<>~/-]+\Z")
_CROSSREF = re.compile(r"(?:fig|sec|tbl|eq|lst|thm|lem|cor|prp|cnj|def|exm|exr|sol|rem|apx)[:-]", re.IGNORECASE)
_BRACKETS = re.compile(r"\[[^\[\]\n]*@[^\[\]]*\]")
_ROLE = re.compile(r"(?P<role>\{cite(?::[A-Za-z]+)?\}|:(?:foot)?cite(?::[A-Za-z]+)?:)`(?P<keys>[^`]*)`")


@dataclass(frozen=True)
class CitedKey:
    key: str
    start: int
    end: int
    kind: str  # "latex" | "pandoc" | "myst" | "rst"


def cited_keys(text: str, language: str) -> list[CitedKey]:
    """Every citation key in a document, in order of appearance."""
    kind = dialect(language)
    if kind not in (LATEX, MARKDOWN, PYTHON):
        return []
    regions = find_regions(text, language)
    if kind == PYTHON:
        prose = [r for r in regions if r.kind in ("comment", "docstring")]
        allowed = _Within(prose, inside=True)
    else:
        allowed = _Within(regions, inside=False)
    found: list[CitedKey] = []
    found += _latex_keys(text, allowed)
    if kind != LATEX:
        found += _role_keys(text, allowed)
        found += _pandoc_keys(text, allowed, in_text=kind == MARKDOWN)
    return sorted(found, key=lambda k: k.start)


class _Within:
    """Whether an offset may hold a citation: outside the regions (or, for Python, inside them)."""

    def __init__(self, regions: list[Region], *, inside: bool):
        self.regions = regions
        self.starts = [r.start for r in regions]
        self.inside = inside

    def __call__(self, offset: int) -> bool:
        i = bisect_right(self.starts, offset) - 1
        held = i >= 0 and self.regions[i].start <= offset < max(self.regions[i].end, self.regions[i].start + 1)
        return held if self.inside else not held


def _latex_keys(text: str, allowed) -> list[CitedKey]:
    found = []
    for match in _LATEX_CITE.finditer(text):
        if match["name"].lower() in _NOT_CITATIONS or not allowed(match.start("name")):
            continue
        keys = _LATEX_COMMENT.sub(lambda m: " " * len(m.group()), match["keys"])
        base = match.start("keys")
        for key in _KEY_IN_LIST.finditer(keys):
            if key.group() != "*":  # \nocite{*}
                found.append(CitedKey(key.group(), base + key.start(), base + key.end(), "latex"))
    return found


def _role_keys(text: str, allowed) -> list[CitedKey]:
    found = []
    for match in _ROLE.finditer(text):
        if not allowed(match.start()):
            continue
        kind = "myst" if match["role"].startswith("{") else "rst"
        base = match.start("keys")
        for key in _KEY_IN_LIST.finditer(match["keys"]):
            found.append(CitedKey(key.group(), base + key.start(), base + key.end(), kind))
    return found


def _pandoc_keys(text: str, allowed, *, in_text: bool) -> list[CitedKey]:
    spans = [(m.start(), m.end()) for m in _BRACKETS.finditer(text)] if not in_text else None
    found = []
    for match in _PANDOC_KEY.finditer(text):
        at = match.start()
        if spans is not None and not any(s <= at < e for s, e in spans):
            continue  # in Python prose only bracketed citations count
        key = _PANDOC_TRAILING.sub("", match["key"])
        if not key or _CROSSREF.match(key) or not allowed(at):
            continue
        start = match.start("key")
        found.append(CitedKey(key, start, start + len(key), "pandoc"))
    return found


def citation_style(text: str, language: str) -> str | None:
    """How this document cites: ``latex``, ``pandoc``, ``myst``, ``rst``; None for plain text."""
    kind = dialect(language)
    if kind == LATEX:
        return "latex"
    if kind == MARKDOWN:
        return "myst" if "{cite" in text else "pandoc"
    if kind == PYTHON:
        return "rst"
    return None


def cite(key: str, style: str) -> str:
    """The text that cites ``key`` in a style; ValueError for an empty key (it would cite nothing)."""
    if not key.strip():
        raise ValueError("no citation key: an empty key cites nothing")
    return {
        "latex": f"\\cite{{{key}}}",
        "pandoc": f"[@{key}]",
        "myst": f"{{cite}}`{key}`",
        "rst": f":cite:`{key}`",
    }[style]
