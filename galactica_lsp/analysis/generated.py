"""What the model wrote, made fit to insert: no raw Galactica markup, no word cut in half.

Owns :func:`fit_to_insert`: ``<work>``/``</work>`` tags are dropped; each complete
``[START_REF] Title, Author[END_REF]`` becomes what ``cite_reference`` makes of
the reference text (a citation in the document's syntax), or, when it gives
None, the text stops before it; a ``[START_REF]`` with no ``[END_REF]`` ends the
text before it; a stray ``[END_REF]`` is dropped. A generation cut short (by
length or time) loses its last, possibly partial, word when there is an earlier
word boundary. Pure: no model, no server.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .triggers import END_REF, START_REF

_REF = re.compile(re.escape(START_REF) + r"(?P<reference>.*?)" + re.escape(END_REF), re.DOTALL)
_WORK = re.compile(r"</?work>")
_WORD_END = re.compile(r"[\s.,;:!?)\]}]\Z")


def fit_to_insert(text: str, cite_reference: Callable[[str], str | None], cut: bool = False) -> str:
    """``text`` with every generated reference cited (or the text stopped before it); see the module."""
    text = _WORK.sub("", text)
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
