"""LSP positions ↔ offsets, including what clients get wrong."""

from __future__ import annotations

import pytest
from lsprotocol.types import Position

from galactica_lsp.server.positions import LineIndex

TEXT = "a𝑥b\r\nemoji 😀 here\rlast"


@pytest.mark.parametrize(
    "line,character,offset",
    [
        (0, 0, 0),
        (0, 1, 1),  # before 𝑥
        (0, 2, 1),  # inside 𝑥's surrogate pair: moved to its start
        (0, 3, 2),  # after 𝑥 (two UTF-16 units)
        (0, 4, 3),  # end of the line, before \r\n
        (0, 99, 3),  # past the end of the line: clamped to the line end
        (1, 8, 5 + 7),  # line 1 starts at 5; "emoji " = 6 units, 😀 takes units 6-7
        (1, 7, 5 + 6),  # inside 😀: its start
        (2, 2, 5 + 12 + 1 + 2),  # after a lone \r line break
        (9, 0, len(TEXT)),  # past the last line: end of the document
    ],
)
def test_utf16_positions_map_to_offsets(line, character, offset):
    assert LineIndex(TEXT).offset(Position(line=line, character=character)) == offset


def test_offsets_map_back_to_utf16_positions():
    index = LineIndex(TEXT)
    assert index.position(2) == Position(line=0, character=3)
    assert index.position(len(TEXT)) == Position(line=2, character=4)
    assert index.position(10**9) == Position(line=2, character=4)


@pytest.mark.parametrize("encoding,character", [("utf-8", 5), ("utf-32", 2)])
def test_other_negotiated_encodings(encoding, character):
    assert LineIndex(TEXT).offset(Position(line=0, character=character), encoding) == 2


def test_round_trip_on_every_offset():
    index = LineIndex(TEXT)
    for offset in range(len(TEXT) + 1):
        if TEXT[offset - 1 : offset + 1] == "\r\n":
            continue  # between \r and \n is no position
        assert index.offset(index.position(offset)) == offset


def test_empty_document():
    assert LineIndex("").offset(Position(line=3, character=3)) == 0
