"""The part of a large document that analysis looks at.

Owns: cutting a window around the cursor so that math-span, trigger and gate
analysis cost the same in a 10 MB document as in a small one. The window
starts at a paragraph break (LaTeX inline math and citations never cross one)
within a fixed reach, and offsets are translated back and forth.
"""

from __future__ import annotations

from dataclasses import dataclass

REACH_BEFORE = 20_000
REACH_AFTER = 4_000


@dataclass(frozen=True)
class Window:
    start: int  # offset of the window in the document
    text: str
    cursor: int  # the cursor, relative to the window

    def to_document(self, offset: int) -> int:
        return self.start + offset


def window_at(text: str, offset: int) -> Window:
    offset = min(max(offset, 0), len(text))
    start = max(0, offset - REACH_BEFORE)
    if start > 0:
        paragraph = text.find("\n\n", start, offset)
        start = paragraph + 2 if paragraph != -1 else start
    end = min(len(text), offset + REACH_AFTER)
    return Window(start, text[start:end], offset - start)
