"""A library entry as a citation menu item: what it shows, what it filters by, what it inserts."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from galactica_lsp.bibliography.listing import Listing
from galactica_lsp.bibliography.match import MatchIndex
from galactica_lsp.bibliography.parse import parse_bibliography
from galactica_lsp.bibliography.placement import open_list_at
from galactica_lsp.server.library_menu import entry_markdown, library_item

BIB = parse_bibliography(
    "@article{many, title = {Stars *and* [galaxies]}, author = {A, B. and C, D. and E, F. and G, H.},"
    " year = 2001, journal = {Nature}, doi = {10.1/x_y}}\n"
    "@misc{bare, note = {nothing else}}\n",
    Path("/papers/refs.bib"),
)
LISTED = {listed.key: listed for listed in Listing(MatchIndex([BIB])).entries}
TEXT = "\\begin{document}\nSee \\cite{st, b}"
PLACE = open_list_at(TEXT, TEXT.index("st") + 2, "latex")
RANGE = types.Range(types.Position(1, 10), types.Position(1, 12))


def test_an_entry_shows_its_authors_year_venue_doi_and_where_it_is():
    assert entry_markdown(LISTED["many"]) == ("**Stars \\*and\\* \\[galaxies\\]**\n\nA, C, E et al., 2001. *Nature*."
                                              " DOI 10.1/x\\_y\n\n`many` in refs.bib, line 1.")
    assert entry_markdown(LISTED["bare"]) == "*(no title)*\n\n`bare` in refs.bib, line 2."


def test_an_item_inserts_its_key_in_place_of_what_was_typed_and_filters_by_what_it_shows():
    item = library_item(LISTED["many"], 3, PLACE, RANGE)
    assert (item.label, item.sort_text, item.filter_text) == ("many", "10003", "many A 2001 Stars *and* [galaxies]")
    assert item.text_edit == types.TextEdit(range=RANGE, new_text="many")  # the list has its separator already
    assert item.detail == "your library (refs.bib) · A, 2001"
    assert item.label_details == types.CompletionItemLabelDetails(detail=" A, 2001",
                                                                   description="Stars *and* [galaxies]")
    bare = library_item(LISTED["bare"], 0, PLACE, RANGE, label_details=False)
    assert bare.detail == "your library (refs.bib)" and bare.label_details is None and bare.filter_text == "bare"
