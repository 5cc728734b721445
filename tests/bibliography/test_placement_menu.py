"""The one citation rule as the completion menu and a library key replacing a made-up one use it."""

from __future__ import annotations

import pytest

from galactica_lsp.bibliography.placement import Placement, citation_placement, open_list_at

KEY = "vaswani2017attention"
DOC = "\\begin{document}\n"


def at_bar(text: str) -> tuple[str, int]:
    return text.replace("|", "", 1), text.index("|")


def menu(text: str, language: str, key: str = KEY) -> str | None:
    text, offset = at_bar(text)
    listed = open_list_at(text, offset, language)
    placed = listed.placement(key)
    return None if placed is None else text[: placed.start] + placed.new_text + text[placed.end :]


@pytest.mark.parametrize("language,text,expected", [
    ("latex", DOC + "T \\cite{|}", DOC + "T \\cite{vaswani2017attention}"),
    ("latex", DOC + "T \\cite{vas|}", DOC + "T \\cite{vaswani2017attention}"),  # what was typed is the filter
    ("latex", DOC + "T \\cite{a, vas|}", DOC + "T \\cite{a, vaswani2017attention}"),
    ("latex", DOC + "T \\cite{|b}", DOC + "T \\cite{vaswani2017attention,b}"),
    ("latex", DOC + "T \\cite{|, b}", DOC + "T \\cite{vaswani2017attention, b}"),
    # An unclosed citation: the next command's brace closes no list, so no separator is added for it.
    ("latex", DOC + "T \\cite{vas|\n\\bibliography{refs}", DOC + "T \\cite{vaswani2017attention\n\\bibliography{refs}"),
    ("latex", DOC + "T \\cite{|\nwith $x$ and {b}", DOC + "T \\cite{vaswani2017attention\nwith $x$ and {b}"),
    ("latex", DOC + "T \\cite{|a,\n b}", DOC + "T \\cite{vaswani2017attention,a,\n b}"),  # a list over two lines
    ("markdown", "T [@va| and [@b]", "T [@vaswani2017attention and [@b]"),
    ("markdown", "T [@va|]", "T [@vaswani2017attention]"),
    ("markdown", "T [@|; @b]", "T [@vaswani2017attention; @b]"),
    ("markdown", "T {cite}`a,va|`", "T {cite}`a,vaswani2017attention`"),
    ("markdown", "T :cite:`va|`", "T :cite:`vaswani2017attention`"),
    ("python", '"""T :cite:`|`."""\n', '"""T :cite:`vaswani2017attention`."""\n'),
])
def test_a_menu_item_replaces_what_was_typed_of_the_key(language, text, expected):
    assert menu(text, language) == expected


@pytest.mark.parametrize("language,text", [
    ("latex", DOC + "T \\cite{vaswani2017attention, |}"),
    ("latex", DOC + "T \\cite{|, vaswani2017attention}"),
    ("markdown", "T [@vaswani2017attention; @v|]"),
    ("markdown", "T {cite}`vaswani2017attention,|`"),
])
def test_a_menu_item_never_cites_a_key_twice(language, text):
    assert menu(text, language) is None


@pytest.mark.parametrize("language,text", [
    ("latex", DOC + "T [START_REF] |"), ("latex", DOC + "T |"), ("markdown", "`[@|`"),
])
def test_no_open_list_where_no_key_goes(language, text):
    assert open_list_at(*at_bar(text), language) is None


REPLACE = [
    # (language, text with | at the cursor, the text after citing KEY in place of the made-up "vaswani:attention")
    ("latex", DOC + "T~\\cite{vaswani:attention|}.", DOC + "T~\\cite{vaswani2017attention}."),
    ("latex", DOC + "T~\\cite{vaswani:attention}|.", DOC + "T~\\cite{vaswani2017attention}."),
    ("latex", DOC + "T~\\cite{vaswani:at|tention}.", DOC + "T~\\cite{vaswani2017attention}."),
    ("latex", DOC + "T~\\cite{a, vaswani:attention|, b}.", DOC + "T~\\cite{a, vaswani2017attention, b}."),
    ("markdown", "T [@vaswani:attention]|.", "T [@vaswani2017attention]."),
    ("markdown", "T [@a; @vaswani:attention|]", "T [@a; @vaswani2017attention]"),
    ("markdown", "T {cite}`vaswani:attention`|", "T {cite}`vaswani2017attention`"),
]


@pytest.mark.parametrize("language,text,expected", REPLACE, ids=[r[1][-30:] for r in REPLACE])
def test_a_library_key_takes_the_place_of_a_made_up_key_at_the_cursor(language, text, expected):
    text, offset = at_bar(text)
    placed = citation_placement(text, offset, language, KEY, None, replacing={"vaswani:attention"})
    assert placed.kind == "replace" and placed.replaced == "vaswani:attention"
    assert text[: placed.start] + placed.new_text + text[placed.end :] == expected


def test_only_a_made_up_key_is_replaced_and_never_into_a_second_copy():
    text, offset = at_bar(DOC + "T~\\cite{mine|}")
    placed = citation_placement(text, offset, "latex", KEY, None, replacing={"vaswani:attention"})
    assert placed == Placement(offset, offset, "," + KEY, "list")  # the writer's own key stays
    text, offset = at_bar(DOC + "T~\\cite{vaswani2017attention, vaswani:attention|}")
    assert citation_placement(text, offset, "latex", KEY, None, replacing={"vaswani:attention"}) is None
