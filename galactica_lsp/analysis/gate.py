r"""The completion gate: complete here at all, and how much?

Owns: :class:`Gate` and :func:`completion_gate`, the cheap decision taken
before the model is touched (as huggingface/llm-ls does). The first rule that
applies decides:

1. the offset lies outside the document: ``none``;
2. the next character is a word character (a letter, digit or ``_`` in any
   script): ``none``, "mid-word";
3. the cursor is in a LaTeX comment (``%`` or the ``comment`` environment) or
   a Markdown HTML comment and ``in_comments`` is off: ``none``. Python
   comments are prose and always allowed;
4. the rest of the line holds more than closing characters: ``none``,
   "mid-line". Closing characters are brackets ``)]}>``, quotes, backticks,
   ``$``, ``*``, ``~``, ``-->``, ``\)``, ``\]``, ``\}``, ``\end{…}`` and the
   punctuation ``,.;:!?``;
5. the cursor is in a math span: ``line``, "in math";
6. the cursor's line is empty or whitespace: ``multiline``, "blank line";
7. the cursor ends a line that opens a block: ``multiline``, "after block
   opener". Block openers: in Python code and docstrings a trailing ``:`` or
   opening bracket; in LaTeX ``\begin{…}`` (with its arguments), ``\[`` or
   ``$$``; in Markdown a fence line, ``$$`` or ``\begin{…}``;
8. otherwise ``line``: "end of line", or "before closing characters".

Python string literals other than docstrings follow the same rules: their
text (labels, messages, prompts) is often prose too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .language import LATEX, MARKDOWN, PYTHON, TEXT, dialect
from .math_spans import math_span_at
from .regions import region_at
from .scanning import Region, line_end, line_start

_CLOSERS = re.compile(r"(?:[ \t]*(?:[)\]}>\"'`$*~,.;:!?]|-->|\\[)\]}]|\\end\{[^{}\n]*\}))*[ \t\r]*")
_BEGIN = r"\\begin\{[^{}]*\}(?:[ \t]*(?:\[[^\]\n]*\]|\{[^{}\n]*\}))*"
_OPENERS = {
    LATEX: re.compile(rf"(?:{_BEGIN}|\\\[|\$\$)[ \t]*\Z"),
    MARKDOWN: re.compile(rf"(?:^[ \t>]*(?:`{{3,}}[^`]*|~{{3,}}.*|:{{3,}}.*)|\$\$|{_BEGIN})[ \t]*\Z"),
    PYTHON: re.compile(r"[:(\[{][ \t]*\Z"),
}


@dataclass(frozen=True)
class Gate:
    """Whether to complete at a position, and how much."""

    mode: str  # "none" | "line" | "multiline"
    reason: str  # short and human-readable: "mid-word", "in LaTeX comment", "end of line", "blank line"…


def completion_gate(text: str, offset: int, language: str, *, in_comments: bool = False) -> Gate:
    """Decide, without the model, whether and how much to complete at ``offset``."""
    if not 0 <= offset <= len(text):
        return Gate("none", "offset outside document")
    kind = dialect(language)
    following = text[offset : offset + 1]
    if following and (following.isalnum() or following == "_"):
        return Gate("none", "mid-word")
    region = region_at(text, offset, kind) if kind != TEXT else None
    if region is not None and region.kind == "comment" and kind != PYTHON and not in_comments:
        return Gate("none", "in HTML comment" if kind == MARKDOWN else "in LaTeX comment")
    start, end = line_start(text, offset), line_end(text, offset)
    rest = text[offset:end]
    trailing = not rest.strip()
    if not trailing and _CLOSERS.fullmatch(rest) is None:
        return Gate("none", "mid-line")
    if kind != TEXT and math_span_at(text, offset, kind) is not None:
        return Gate("line", "in math")
    before = text[start:offset]
    if trailing and not before.strip():
        return Gate("multiline", "blank line")
    if trailing and _opens_block(before, kind, region):
        return Gate("multiline", "after block opener")
    return Gate("line", "end of line" if trailing else "before closing characters")


def _opens_block(before: str, kind: str, region: Region | None) -> bool:
    opener = _OPENERS.get(kind)
    if opener is None:
        return False
    if kind == PYTHON and region is not None and region.kind == "comment":
        return False
    return opener.search(before) is not None


_BEGIN_DOCUMENT = re.compile(r"\\begin\{document\}")


def in_prose(text: str, offset: int, language: str) -> bool:
    """Whether ``offset`` is in running text, where a citation or the rest of a paragraph belongs.

    Prose is: in LaTeX, text outside comments, verbatim and math, after ``\\begin{document}`` when
    the file has one (the preamble is not prose); in Markdown, text outside code, fences, HTML
    comments and math (a MyST directive's Markdown body is prose); in Python, comments and docstrings
    outside their doctest and literal blocks; plain text everywhere.
    """
    if not 0 <= offset <= len(text):
        return False
    kind = dialect(language)
    if kind == TEXT:
        return True
    region = region_at(text, offset, kind)
    if kind == PYTHON:
        return region is not None and region.kind in ("comment", "docstring")
    if region is not None or math_span_at(text, offset, kind) is not None:
        return False
    if kind == LATEX:
        begin = _BEGIN_DOCUMENT.search(text)
        return begin is None or offset >= begin.end()
    return True
