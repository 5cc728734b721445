"""What the model wrote, made fit to insert: no raw Galactica markup, no word cut in half.

Owns :func:`fit_to_insert`: ``<work>``/``</work>`` tags are dropped; each complete
``[START_REF] Title, Author[END_REF]`` becomes what ``cite_reference`` makes of
the reference text (a citation in the document's syntax), or, when it gives
None, the text stops before it; a ``[START_REF]`` with no ``[END_REF]`` ends the
text before it; a stray ``[END_REF]`` is dropped. A generation cut short (by
length or time) loses its last, possibly partial, word when there is an earlier
word boundary. And :func:`answer_to_insert` for formula explanations: no
``<work>`` tags, and :data:`CUT_SHORT` at the end of one the model did not
finish. Pure: no model, no server.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .triggers import END_REF, START_REF

CUT_SHORT = " […cut short]"  # ends an inserted text the model did not finish, so it is not taken for a whole one

_REF = re.compile(re.escape(START_REF) + r"(?P<reference>.*?)" + re.escape(END_REF), re.DOTALL)
_WORK = re.compile(r"</?work>(?:[ \t]*(?:\r\n|\r|\n))?")  # a tag alone on its line goes with its line break
_WORD_END = re.compile(r"[\s.,;:!?)\]}]\Z")


def without_work_tags(text: str) -> str:
    """Galactica's ``<work>``/``</work>`` markers removed (they never reach the user's text or a float)."""
    return _WORK.sub("", text)


def answer_to_insert(text: str, finish_reason: str) -> str:
    """A formula explanation as inserted: no ``<work>`` tags; one cut short (length or time) ends with
    :data:`CUT_SHORT`."""
    text = without_work_tags(text).rstrip()
    return text + CUT_SHORT if text and finish_reason in ("length", "time") else text


def fit_to_insert(text: str, cite_reference: Callable[[str], str | None], cut: bool = False) -> str:
    """``text`` with every generated reference cited (or the text stopped before it); see the module."""
    text = without_work_tags(text)
    out: list[str] = []
    at = 0
    stopped = False
    for match in _REF.finditer(text):
        out.append(text[at:match.start()])
        citation = cite_reference(match["reference"].strip()) if match["reference"].strip() else None
        if citation is None:
            stopped = True
            break
        out.append(citation)
        at = match.end()
    if not stopped:
        rest = text[at:]
        dangling = rest.find(START_REF)
        if dangling != -1:
            rest, stopped = rest[:dangling], True
        out.append(rest.replace(END_REF, ""))
    fitted = "".join(out)
    if stopped:
        return fitted.rstrip()
    if cut and not _WORD_END.search(fitted):
        boundary = max(fitted.rfind(" "), fitted.rfind("\n"))
        if boundary > 0 and fitted[:boundary].strip():
            fitted = fitted[:boundary].rstrip()
    return fitted
