"""LSP positions ↔ offsets into the document text.

Owns: converting ``Position`` (line, character in the negotiated encoding:
UTF-16 code units unless the client chose UTF-8 or UTF-32) to a code-point
offset and back, tolerating what clients send: lines or characters past the
end (clamped to the end), and a UTF-16 column that splits a surrogate pair
(𝑥, emoji: moved to the start of that character). Lines end at ``\\n``,
``\\r\\n`` or ``\\r`` as the protocol says, and nowhere else (not at
``\\f``, ``\\v``, U+0085, U+2028 or the other breaks ``str.splitlines`` knows).
"""

from __future__ import annotations

import bisect
import re

from lsprotocol import types

_BREAK = re.compile(r"\r\n|\r|\n")


ENCODINGS = ("utf-8", "utf-16", "utf-32")


def encoding_name(kind: object) -> str:
    """``utf-8``, ``utf-16`` or ``utf-32`` for a negotiated ``PositionEncodingKind`` (UTF-16 when none)."""
    value = getattr(kind, "value", kind)
    return value if value in ENCODINGS else "utf-16"


class LineIndex:
    """Start offsets of every line of one text; built once per text (``documents.SyncedDocument.index``)."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]

    def line_bounds(self, line: int) -> tuple[int, int]:
        """Start and end (before the line break) of a line, clamped to the document."""
        line = min(max(line, 0), len(self.starts) - 1)
        start = self.starts[line]
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        while end > start and self.text[end - 1] in "\r\n":
            end -= 1
        return start, end

    def offset(self, position: types.Position, encoding: str = "utf-16") -> int:
        if position.line >= len(self.starts):
            return len(self.text)
        start, end = self.line_bounds(position.line)
        wanted, units, offset = max(position.character, 0), 0, start
        while offset < end:
            width = _units(self.text[offset], encoding)
            if units + width > wanted:
                break  # the position falls inside this character: keep its start
            units += width
            offset += 1
        return offset

    def position(self, offset: int, encoding: str = "utf-16") -> types.Position:
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        return types.Position(line=line, character=sum(_units(c, encoding) for c in self.text[start:offset]))


def _units(char: str, encoding: str) -> int:
    if encoding == "utf-32":
        return 1
    if encoding == "utf-8":
        return len(char.encode("utf-8", "surrogatepass"))
    return 2 if ord(char) > 0xFFFF else 1


def after(start: types.Position, text: str, encoding: str = "utf-16") -> types.Position:
    """Where the cursor stands once ``text`` (no line break in it) is inserted at ``start``."""
    return types.Position(line=start.line, character=start.character + sum(_units(c, encoding) for c in text))
