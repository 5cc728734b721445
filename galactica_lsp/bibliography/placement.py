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

A key the server made up for a paper not in the library (``replacing``) is a
placeholder, not the writer's text: citing a key of the library with the
cursor on it (or just past the citation holding it) puts the new key in its
place, so that its "key in no bibliography" warning and its "Add BibTeX entry"
quick fix go with it.

The completion menu's items follow the same rule through :func:`open_list_at`
(:class:`OpenList`): an item replaces what was typed of the key (the client
filters by it), is never a key the list holds already (before or after the
cursor), and is followed by the list's separator when more keys follow.

Pure: text in, offsets and text out; the server turns them into a TextEdit.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from ..analysis.gate import in_prose
from ..analysis.triggers import END_REF, START_REF, citation_trigger_at
from .keys import citation_style, cite

_SEPARATOR = {"latex": ",", "myst": ",", "rst": ",", "pandoc": "; @"}
_CLOSER = {"latex": "}", "myst": "`", "rst": "`", "pandoc": "]"}
_NOT_IN_A_LIST = re.compile(r"[\\{}\[$%`]")  # a command, a group, math, a comment or a role: no key list runs on
_REST_KEYS = {"latex": re.compile(r"[^,\s]+"), "myst": re.compile(r"[^,\s]+"), "rst": re.compile(r"[^,\s]+"),
              "pandoc": re.compile(r"(?<=@)[^\s;,\]]+")}


class NoPlace(ValueError):
    """The offset is not where a citation can go (code, math, a preamble); the message says why."""


@dataclass(frozen=True)
class Placement:
    start: int
    end: int
    new_text: str
    kind: str  # "list" (added to an open citation) | "galactica" | "new" (a citation of its own) | "replace"
    replaced: str | None = None  # the made-up key that the new one took the place of (kind "replace")


@dataclass(frozen=True)
class OpenList:
    """An open citation list at the cursor, as the completion menu fills it."""

    start: int  # where the key being typed starts
    end: int  # the cursor
    typed: str  # what was typed of the key
    cited: frozenset[str]  # the keys the list holds, before and after the cursor
    after: str  # what follows an inserted key: the list's separator when more keys follow, else nothing

    def placement(self, key: str) -> Placement | None:
        """``key`` in place of what was typed; None when the list cites it already."""
        if key in self.cited:
            return None
        return Placement(self.start, self.end, key + self.after, "list")


def open_list_at(text: str, offset: int, language: str) -> OpenList | None:
    """The citation list being typed at ``offset`` (``\\cite{``, ``[@``, ``{cite}`…``, ``:cite:`…``), or None
    (no list there, or a ``[START_REF]``, where a title goes)."""
    trigger = citation_trigger_at(text, offset, language)
    if trigger is None or trigger.kind == "galactica":
        return None
    following = _keys_after(text, offset, trigger.kind)
    return OpenList(trigger.replace_start, offset, trigger.prefix, frozenset(trigger.existing_keys) | set(following),
                    _more(text, offset, trigger.kind, following))


def _more(text: str, offset: int, kind: str, following: list[str]) -> str:
    """The separator an inserted key needs before the keys that follow it, unless one is there already."""
    separator = _SEPARATOR[kind]
    after = text[offset:].lstrip(" \t")
    return separator if following and not after.startswith((_CLOSER[kind], separator.strip())) else ""


def citation_placement(text: str, offset: int, language: str, key: str, reference: str | None,
                       replacing: Collection[str] = ()) -> Placement | None:
    """How ``key`` (for the suggestion ``reference``) is cited at ``offset``; None when it is already cited there.

    With no ``reference`` (a key alone, as "Add BibTeX entry" cites it) a ``[START_REF]`` is not a place of its
    own: the key is cited in the document's syntax. A key of ``replacing`` at the cursor (or ending just before the
    citation's closer the cursor follows) is replaced by ``key``.
    """
    if not key.strip():
        raise ValueError("no citation key: an empty key cites nothing")
    offset = max(0, min(offset, len(text)))
    replaced = _replacement(text, offset, language, key, replacing) if replacing else None
    if replaced is not None:
        return replaced
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
        before = _SEPARATOR[trigger.kind] if trigger.prefix else ""
        return Placement(offset, offset, f"{before}{key}{_more(text, offset, trigger.kind, following)}", "list")
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


def _replacement(text: str, offset: int, language: str, key: str, replacing: Collection[str]) -> Placement | None:
    """``key`` in place of the made-up key at the cursor: inside it, at its end, or just past the closer after it."""
    for at in (offset, offset - 1):
        if at < 0 or (at != offset and text[at:offset] not in _CLOSER.values()):
            continue
        trigger = citation_trigger_at(text, at, language)
        if trigger is None or trigger.kind == "galactica":
            continue
        rest = _KEY_REST.match(text, at)
        end = rest.end() if rest else at
        current = text[trigger.replace_start:end]
        if current in replacing and current != key:
            others = set(trigger.existing_keys) | set(_keys_after(text, end, trigger.kind))
            if key in others:
                return None  # the list cites it already: the made-up key stays for the writer to remove
            return Placement(trigger.replace_start, end, key, "replace", current)
    return None


_KEY_REST = re.compile(r"[^\s,;{}`\]]+")


def _keys_after(text: str, offset: int, kind: str) -> list[str]:
    """The keys of the open citation after the cursor, up to its closer (or the end of the line)."""
    closer = _CLOSER[kind]
    end = text.find(closer, offset)
    line_end = text.find("\n\n", offset)
    if end == -1 or (line_end != -1 and line_end < end):
        return []
    if _NOT_IN_A_LIST.search(text, offset, end):  # the closer found is another command's (an unclosed citation)
        return []
    return [m.group() for m in _REST_KEYS[kind].finditer(text, offset, end)]
