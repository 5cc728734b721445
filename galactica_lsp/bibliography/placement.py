r"""Where and how a chosen citation goes into a document: the one rule every insertion follows.

Owns :func:`citation_placement`: given a document, an offset and the key to cite
(the user's library key, or a key made from a suggestion) with the suggestion's
"Title, First author" text, the span to replace and the text to put there, in
the syntax of the place:

- in an open citation list (``\cite{a,``, ``[@a; @``, MyST ``{cite}`a,``, rST
  ``:cite:`a,``) the key is added to the list; a key the list already holds
  (before or after the cursor) is never added twice (None); what was typed of
  the current key is kept and the new key follows it after the list's
  separator (``,`` or ``; @``), so no text is lost;
- after a ``[START_REF]`` the user typed: the Galactica form
  `` Title, Author[END_REF]`` (only there);
- in prose with no citation open: the document's own citation syntax
  (:func:`~galactica_lsp.bibliography.keys.cite`: ``\cite{key}`` in LaTeX,
  ``[@key]`` in pandoc Markdown, ``{cite}`key``` in MyST, ``:cite:`key``` in
  Python docstrings), after a space (``~`` in LaTeX) when it follows a word;
- plain text, which has no citation syntax: the Galactica form in brackets;
- anywhere else (code, math, a LaTeX preamble): :class:`NoPlace`.

Pure: text in, offsets and text out; the server turns them into a TextEdit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..analysis.gate import in_prose
from ..analysis.triggers import END_REF, START_REF, citation_trigger_at
from .keys import citation_style, cite

_SEPARATOR = {"latex": ",", "myst": ",", "rst": ",", "pandoc": "; @"}
_CLOSER = {"latex": "}", "myst": "`", "rst": "`", "pandoc": "]"}
_REST_KEYS = {"latex": re.compile(r"[^,\s]+"), "myst": re.compile(r"[^,\s]+"), "rst": re.compile(r"[^,\s]+"),
              "pandoc": re.compile(r"(?<=@)[^\s;,\]]+")}


class NoPlace(ValueError):
    """The offset is not where a citation can go (code, math, a preamble); the message says why."""


@dataclass(frozen=True)
class Placement:
    start: int
    end: int
    new_text: str
    kind: str  # "list" (added to an open citation) | "galactica" | "new" (a citation of its own)


def citation_placement(text: str, offset: int, language: str, key: str, reference: str | None) -> Placement | None:
    """How ``key`` (for the suggestion ``reference``) is cited at ``offset``; None when it is already cited there.

    With no ``reference`` (a key alone, as "Add BibTeX entry" cites it) a ``[START_REF]`` is not a place of its
    own: the key is cited in the document's syntax.
    """
    if not key.strip():
        raise ValueError("no citation key: an empty key cites nothing")
    offset = max(0, min(offset, len(text)))
    trigger = citation_trigger_at(text, offset, language)
    if trigger is not None and trigger.kind == "galactica" and reference is None:
        trigger = None
    if trigger is not None and trigger.kind == "galactica":
        space = "" if text[:trigger.replace_start].endswith((" ", "\n")) else " "
        closing = "" if text[offset:].lstrip().startswith(END_REF) else END_REF
        return Placement(trigger.replace_start, offset, f"{space}{reference.strip()}{closing}", "galactica")
    if trigger is not None:
        following = _keys_after(text, offset, trigger.kind)
        if key in trigger.existing_keys or key == trigger.prefix or key in following:
            return None
        separator = _SEPARATOR[trigger.kind]
        before = separator if trigger.prefix else ""
        after = text[offset:].lstrip(" \t")
        more = separator if following and not after.startswith((_CLOSER[trigger.kind], separator.strip())) else ""
        return Placement(offset, offset, f"{before}{key}{more}", "list")
    if not in_prose(text, offset, language):
        raise NoPlace("a citation belongs in running text, not in code, math or a preamble")
    style = citation_style(text, language)
    if style is None:
        new = f"{START_REF} {(reference or key).strip()}{END_REF}"
    else:
        new = cite(key, style)
    previous = text[offset - 1] if offset else ""
    if previous and not previous.isspace() and previous not in "([{":
        new = ("~" if style == "latex" else " ") + new
    return Placement(offset, offset, new, "new")


def _keys_after(text: str, offset: int, kind: str) -> list[str]:
    """The keys of the open citation after the cursor, up to its closer (or the end of the line)."""
    closer = _CLOSER[kind]
    end = text.find(closer, offset)
    line_end = text.find("\n\n", offset)
    if end == -1 or (line_end != -1 and line_end < end):
        return []
    return [m.group() for m in _REST_KEYS[kind].finditer(text, offset, end)]
