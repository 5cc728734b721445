"""Command arguments are read strictly, and a wrong one is named in one sentence."""

from __future__ import annotations

import pytest
from lsprotocol import types

from galactica_lsp.server.arguments import converter
from galactica_lsp.server.bibliography import AddEntryArguments
from galactica_lsp.server.citations import SuggestArguments
from galactica_lsp.server.explain import ExplainArguments

RANGE = {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 5}}
CONVERTER = converter()


def read(raw, cls):
    return CONVERTER.structure(raw, cls)


def test_camel_case_fields_are_read_into_typed_objects():
    a = read({"uri": "file:///a.tex", "range": RANGE, "mode": "work", "insert": False}, ExplainArguments)
    assert a == ExplainArguments(uri="file:///a.tex", range=types.Range(types.Position(1, 2), types.Position(1, 5)),
                                 mode="work", insert=False)
    assert read({"uri": "file:///a.tex", "range": RANGE}, ExplainArguments).mode == "explain"


@pytest.mark.parametrize(
    "raw,message",
    [
        (None, "expected one object {uri, range, mode?, insert?}, got null"),
        (7, "expected one object {uri, range, mode?, insert?}, got a number"),
        ([RANGE], "expected one object {uri, range, mode?, insert?}, got a list"),
        ({"range": RANGE}, "`uri` is missing (expected {uri, range, mode?, insert?})"),
        ({"uri": 3, "range": RANGE}, "`uri` must be a string, got 3"),
        ({"uri": "u", "range": "x"}, '`range` must be a range {start, end}, got "x"'),
        ({"uri": "u", "range": None}, "`range` must not be null"),
        ({"uri": "u", "range": {"start": {"line": 0, "character": 0}}}, "`range.end` is missing"),
        ({"uri": "u", "range": {**RANGE, "start": {"line": "1", "character": 0}}},
         '`range.start.line` must be a non-negative integer, got "1"'),
        ({"uri": "u", "range": {**RANGE, "start": {"line": -1, "character": 0}}},
         "`range.start.line` must be a non-negative integer, got -1"),
        ({"uri": "u", "range": {**RANGE, "start": {"line": 9, "character": 0}}}, "`range` ends before it starts"),
        ({"uri": "u", "range": RANGE, "mode": [1]}, "`mode` must be a string, got [1]"),
        ({"uri": "u", "range": RANGE, "mode": "poem"}, '`mode` must be one of explain, work, sympy, got "poem"'),
        ({"uri": "u", "range": RANGE, "mode": None}, "`mode` must not be null; leave it out"),
        ({"uri": "u", "range": RANGE, "insert": "yes"}, '`insert` must be true or false, got "yes"'),
    ],
)
def test_wrong_explain_arguments_name_the_field(raw, message):
    with pytest.raises(ValueError) as caught:
        read(raw, ExplainArguments)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"uri": "u", "title": None}, "`title` must not be null"),
        ({"uri": "u", "title": 12}, "`title` must be a string, got 12"),
        ({"uri": "u", "title": ""}, "`title` must not be empty"),
        ({"uri": "u", "title": "   "}, "`title` must not be empty"),
        ({"uri": "u", "title": ["A"]}, '`title` must be a string, got ["A"]'),
        ({"uri": "u", "title": "A", "author": None}, "`author` must not be null; leave it out"),
        ({"uri": "u", "title": "A", "author": 1.5}, "`author` must be a string, got 1.5"),
        ({"uri": "u", "title": "A", "key": ""}, "`key` must not be empty"),
        ({"uri": "u", "title": "A", "key": "two words"},
         '`key` "two words" is not a BibTeX key (no spaces, commas, braces or quotes)'),
        ({"uri": "u", "title": "A", "bib": ["refs.bib"]}, '`bib` must be a string, got ["refs.bib"]'),
        ({"uri": "u", "title": "A", "range": "x"}, '`range` must be a range {start, end}, got "x"'),
        ({"uri": "u", "title": "A", "position": [0, 0]}, "`position` must be a position {line, character}, got [0, 0]"),
        ({"uri": "u", "title": "A", "position": {"line": 0, "character": 0}, "range": RANGE},
         "give `position` or `range`, not both"),
    ],
)
def test_wrong_add_entry_arguments_name_the_field(raw, message):
    with pytest.raises(ValueError) as caught:
        read(raw, AddEntryArguments)
    assert str(caught.value) == message


def test_optional_fields_left_out_are_none():
    a = read({"uri": "u", "title": "Attention", "position": {"line": 0, "character": 4}}, AddEntryArguments)
    assert (a.author, a.key, a.bib, a.range, a.position) == (None, None, None, None, types.Position(0, 4))
    assert read({"uri": "u", "position": {"line": 2, "character": 0}}, SuggestArguments).position == types.Position(2, 0)


def test_a_long_bad_value_is_shortened_in_the_message():
    with pytest.raises(ValueError) as caught:
        read({"uri": "u", "range": "x" * 500}, ExplainArguments)
    assert len(str(caught.value)) < 120 and str(caught.value).endswith("…")
