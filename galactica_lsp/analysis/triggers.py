r"""Citation triggers: is the cursor where a reference key or title goes?

Owns: :class:`CitationTrigger` and :func:`citation_trigger_at`, which
recognise, with the cursor at ``offset``:

``galactica`` (every language)
    ``[START_REF]`` earlier on the cursor's line with no ``[END_REF]`` after
    it: the user is typing (or about to type) a title. The prefix is
    everything typed after the tag.
``latex`` (LaTeX, and raw LaTeX in Markdown and Python prose)
    A citation command's key list: ``\cite{``, ``\citep{``, ``\citet{``,
    ``\parencite{``, ``\textcite{``, ``\autocite{``, ``\footcite{``,
    ``\citeauthor{``, ``\citeyear{``, ``\nocite{``, ``\Cite…{``,
    ``\smartcite{``, ``\supercite{`` (any command whose name contains
    ``cite``), with an optional ``*`` and up to two ``[…]`` arguments
    (``\citep[see][p.~3]{``). Keys are separated by commas; the list may span
    lines and hold ``%`` comments. The key being typed may not contain spaces.
``pandoc`` (Markdown; bracketed forms also in Python prose)
    ``@key`` inside brackets: ``[@``, ``[see @``, ``[@a; @b``, ``[-@``. In
    Markdown also an in-text ``@key`` at a word start once a first key
    character is typed (so ``a@b.com`` and a lone ``@`` are not citations).
``myst`` (Markdown and Python prose)
    Inside the backticks of ``{cite}`…``` (also ``{cite:p}``, ``{cite:t}``,
    ``{footcite}``…), keys separated by commas.
``rst`` (Markdown and Python prose)
    Inside the backticks of sphinxcontrib-bibtex's ``:cite:`…```
    (also ``:cite:p:``, ``:cite:t:``, ``:footcite:``…), keys separated by
    commas; MyST reads this reST form in Markdown too.

Where: not in LaTeX comments or verbatim material; not in Markdown code spans,
fences (math fences included), directive fence lines or HTML comments, except
that a role's own backticks are its key list (a MyST directive's Markdown body,
``{note}``, ``{exercise}``…, is prose); in Python only in comments and
docstrings, and not in their doctest or literal blocks. Plain text (an unknown
language) has only the Galactica trigger, anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .language import LATEX, MARKDOWN, PYTHON, TEXT, dialect
from .regions import region_at
from .scanning import BLANK_LINE, Region, line_start

START_REF = "[START_REF]"
END_REF = "[END_REF]"

# How far back from the cursor a key list or bracket is looked for.
LOOKBACK = 2000

_LATEX_COMMAND = re.compile(r"(?<!\\)(?:\\\\)*\\(?P<name>[A-Za-z]*[cC]ite[A-Za-z]*)\*?(?:\s*\[[^\[\]]*\]){0,2}\s*\Z")
_LATEX_COMMENT = re.compile(r"(?<!\\)%[^\n]*")
_KEY_FORBIDDEN = re.compile(r"[\s{}\\%]")
# Pandoc: a key starts with a letter, digit or _ and may hold internal punctuation.
_PANDOC_KEY = r"[^\W][\w:.#$%&+?<>~/-]*"
_PANDOC_AT = re.compile(rf"(?:(?<=[\s\[;(-])|^)@(?P<prefix>{_PANDOC_KEY}|)\Z")
_PANDOC_KEYS = re.compile(rf"(?:(?<=[\s\[;(-])|^)@(?P<key>{_PANDOC_KEY})")
_PANDOC_TRAILING = re.compile(r"[:.#$%&+?<>~/-]+\Z")
_MYST_ROLE = re.compile(r"\{(?:foot)?cite(?::[A-Za-z]+)?\}(?P<ticks>`+)(?P<keys>[^`]*)\Z")
_RST_ROLE = re.compile(r":(?:foot)?cite(?::[A-Za-z]+)?:`(?P<keys>[^`]*)\Z")


@dataclass(frozen=True)
class CitationTrigger:
    """A citation being typed at the cursor, and what is typed of it so far."""

    kind: str  # "galactica" | "latex" | "pandoc" | "myst" | "rst"
    command: str | None  # e.g. "cite", "citep", "parencite" for latex; None otherwise
    replace_start: int  # offset where the key being typed starts (insertion range start)
    replace_end: int  # the cursor offset
    prefix: str  # what the user typed of the current key so far
    existing_keys: tuple[str, ...]  # keys already in the list: \cite{a,b,|} -> ("a", "b")
    context_end: int  # where the prose before the citation ends (at "\cite", "[@", "[START_REF]")


def citation_trigger_at(text: str, offset: int, language: str) -> CitationTrigger | None:
    """The citation trigger at ``offset``, if the cursor is in one."""
    if not 0 <= offset <= len(text):
        return None
    kind = dialect(language)
    region = region_at(text, offset, kind) if kind != TEXT else None
    if kind == MARKDOWN and region is not None and region.kind == "code":
        # A role's backticks are a code span once closed.
        return _myst(text, offset, region) or _rst(text, offset, region)
    if not _prose_here(kind, region):
        return None
    trigger = _galactica(text, offset)
    if trigger is not None or kind == TEXT:
        return trigger
    trigger = _latex(text, offset)
    if trigger is not None or kind == LATEX:
        return trigger
    return _myst(text, offset, None) or _rst(text, offset, None) or _pandoc(text, offset, in_text=kind == MARKDOWN)


def _prose_here(kind: str, region: Region | None) -> bool:
    """Whether citations may be written at a place of this kind."""
    if kind == PYTHON:
        return region is not None and region.kind in ("comment", "docstring")
    return region is None


def _galactica(text: str, offset: int) -> CitationTrigger | None:
    start = line_start(text, offset)
    tag = text.rfind(START_REF, start, offset)
    if tag == -1 or text.find(END_REF, tag, offset) != -1:
        return None
    after = tag + len(START_REF)
    return CitationTrigger("galactica", None, after, offset, text[after:offset], (), tag)


def _latex(text: str, offset: int) -> CitationTrigger | None:
    floor = max(0, offset - LOOKBACK)
    brace = text.rfind("{", floor, offset)
    if brace == -1 or text.find("}", brace, offset) != -1:
        return None
    inside = text[brace + 1 : offset]
    keys = _LATEX_COMMENT.sub("", inside)
    if BLANK_LINE.search(inside) or "\\" in keys:
        return None
    command = _LATEX_COMMAND.search(text, max(floor, brace - 200), brace)
    if command is None:
        return None
    existing, prefix = _key_list(keys, ",")
    if prefix is None:
        return None
    return CitationTrigger(
        "latex", command["name"], offset - len(prefix), offset, prefix, existing, command.start() + _slashes(command)
    )


def _slashes(command: re.Match) -> int:
    """Length of the even backslash run matched before a command's own backslash."""
    whole = command.group()
    return len(whole) - len(whole.lstrip("\\")) - 1


def _key_list(keys: str, separator: str) -> tuple[tuple[str, ...], str | None]:
    """Keys before the last separator, and the key being typed (``None`` if it cannot be one)."""
    *done, typing = keys.split(separator)
    prefix = typing.lstrip()
    if _KEY_FORBIDDEN.search(prefix):
        return (), None
    return tuple(key.strip() for key in done if key.strip()), prefix


def _pandoc(text: str, offset: int, *, in_text: bool) -> CitationTrigger | None:
    floor = max(0, offset - LOOKBACK)
    at = _PANDOC_AT.search(text, max(floor, line_start(text, offset)), offset)
    if at is None:
        return None
    prefix = at["prefix"]
    at_sign = at.start()
    bracket = text.rfind("[", floor, at_sign)
    if bracket != -1 and text.find("]", bracket, at_sign) == -1 and not BLANK_LINE.search(text, bracket, at_sign):
        existing = tuple(
            _PANDOC_TRAILING.sub("", key["key"]) for key in _PANDOC_KEYS.finditer(text, bracket + 1, at_sign)
        )
        return CitationTrigger("pandoc", None, offset - len(prefix), offset, prefix, existing, bracket)
    if in_text and prefix:
        return CitationTrigger("pandoc", None, offset - len(prefix), offset, prefix, (), at_sign)
    return None


def _myst(text: str, offset: int, code: Region | None) -> CitationTrigger | None:
    role = _MYST_ROLE.search(text, line_start(text, offset), offset)
    if role is None:
        return None
    if code is not None and code.body_start != role.start("keys"):
        return None  # the cursor is in some other code span
    existing, prefix = _key_list(role["keys"], ",")
    if prefix is None:
        return None
    return CitationTrigger("myst", None, offset - len(prefix), offset, prefix, existing, role.start())


def _rst(text: str, offset: int, code: Region | None) -> CitationTrigger | None:
    role = _RST_ROLE.search(text, line_start(text, offset), offset)
    if role is None:
        return None
    if code is not None and code.body_start != role.start("keys"):
        return None  # the cursor is in some other code span
    existing, prefix = _key_list(role["keys"], ",")
    if prefix is None:
        return None
    return CitationTrigger("rst", None, offset - len(prefix), offset, prefix, existing, role.start())
