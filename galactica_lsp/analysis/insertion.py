"""Where and how a formula's explanation is written into the document.

Owns: turning a model's answer into an edit that fits the language: LaTeX
comment lines after the formula's line; a Markdown paragraph (quoted) or a
fenced ``python`` block after the formula's paragraph; in Python, ``#``
comment lines after a comment, or plain lines inside a docstring, indented
like the formula's line. The text is marked as Galactica's, never passed off
as the author's.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADINGS = {"explain": "Galactica's explanation", "work": "Galactica, step by step", "sympy": "Galactica's SymPy translation"}


@dataclass(frozen=True)
class Insertion:
    offset: int  # where the new text goes
    text: str


def _line_end(text: str, offset: int) -> int:
    end = text.find("\n", offset)
    return len(text) if end == -1 else end


def _indent_of_line(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    line = text[start:_line_end(text, start)]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _prefixed(lines: list[str], prefix: str) -> str:
    return "\n".join((prefix + line).rstrip() for line in lines)


def insertion_for(text: str, span_end: int, language: str, kind: str, answer: str, in_docstring: bool = False) -> Insertion:
    """The edit that writes ``answer`` (of ``kind``: explain, work or sympy) after the formula ending at ``span_end``.

    ``in_docstring``: in Python, the formula sits in a docstring, where plain lines belong.
    """
    heading = HEADINGS.get(kind, "Galactica")
    lines = [heading + ":"] + answer.strip("\n").splitlines()
    end = _line_end(text, span_end)
    indent = _indent_of_line(text, span_end)
    if language == "markdown":
        paragraph_end = text.find("\n\n", span_end)
        at = len(text.rstrip("\n")) if paragraph_end == -1 else paragraph_end
        if kind == "sympy":
            body = f"{heading}:\n\n```python\n{answer.strip()}\n```"
        else:
            body = _prefixed(lines, "> ")
        return Insertion(at, "\n\n" + body)
    if language == "python":
        if not in_docstring:
            return Insertion(end, "\n" + _prefixed(lines, indent + "# "))
        closing = min((i for i in (text.find('"""', span_end, end), text.find("'''", span_end, end)) if i != -1),
                      default=-1)
        if closing != -1:  # a one-line docstring: write inside it, before its closing quotes
            return Insertion(closing, "\n\n" + _prefixed(lines, indent) + "\n" + indent)
        return Insertion(end, "\n" + _prefixed(lines, indent))
    # LaTeX, and anything else: comment lines, so the document still compiles the same.
    return Insertion(end, "\n" + _prefixed(lines, indent + "% "))
