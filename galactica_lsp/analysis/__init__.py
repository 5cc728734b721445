"""Pure text analysis: where is the cursor, and what is around it?

No LSP and no model here: functions of a document's text, an offset (a Python
string index, not an LSP UTF-16 position) and its LSP language id.

- ``language``: language ids to the dialects ``latex``, ``markdown``,
  ``python`` and ``text``.
- ``scanning``: the :class:`~.scanning.Region` record and the linear-time
  scanning primitives the others share.
- ``latex_lexer``, ``markdown_lexer``, ``python_lexer``: each dialect's
  comments, verbatim material, code and string literals (``markdown_lexer``
  also MyST directives, whose Markdown bodies are prose).
- ``rst_lexer``: the code inside a docstring (doctest and literal blocks).
- ``regions``: which of those holds an offset.
- ``math_spans``: where the formulas are.
- ``triggers``: whether the cursor is in a citation being typed.
- ``gate``: whether to complete at all, and one line or several.
- ``context``: the prompt text before the cursor.
- ``insertion``: where an explanation is written into the document.
"""

from .gate import Gate, completion_gate
from .math_spans import MathSpan, find_math_spans, math_span_at
from .regions import find_regions, region_at
from .scanning import Region
from .triggers import CitationTrigger, citation_trigger_at

__all__ = [
    "CitationTrigger",
    "Gate",
    "MathSpan",
    "Region",
    "citation_trigger_at",
    "completion_gate",
    "find_math_spans",
    "find_regions",
    "math_span_at",
    "region_at",
]
