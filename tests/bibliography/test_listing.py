"""The library as the citation menu lists it: found by key, title, first author or year, best first, capped."""

from __future__ import annotations

from pathlib import Path

from galactica_lsp.bibliography.listing import Listing
from galactica_lsp.bibliography.match import MatchIndex
from galactica_lsp.bibliography.parse import parse_bibliography, read_bib

FIXTURE = Path(__file__).parent / "fixtures" / "library.bib"
KEYS = ["vaswani2017attention", "brown2020language", "touvron2023llama", "muller2021", "hochreiter1997"]


def listing() -> Listing:
    return Listing(MatchIndex([read_bib(FIXTURE)]))


def keys(found) -> list[str]:
    return [listed.key for listed in found[0]]


def test_nothing_typed_lists_every_entry_in_the_librarys_order():
    assert keys(listing().find("", 100)) == KEYS
    assert listing().find("", 100)[1] is False


def test_the_filter_text_holds_key_first_author_year_and_title():
    by_key = {listed.key: listed for listed in listing().entries}
    assert by_key["vaswani2017attention"].filter_text == "vaswani2017attention Vaswani 2017 Attention Is All You Need"
    assert by_key["muller2021"].filter_text == "muller2021 Müller 2021 Über die Quantenmechanik der Katzen"


def test_key_starts_come_first_then_word_starts_then_anywhere_then_letters_in_order():
    found = listing()
    assert keys(found.find("vas", 10)) == ["vaswani2017attention"]
    assert keys(found.find("Attention", 10)) == ["vaswani2017attention"]  # a title word
    assert keys(found.find("hochreiter", 10)) == ["hochreiter1997"]
    assert keys(found.find("2020", 10)) == ["brown2020language"]  # the year (in the key, not at its start)
    assert keys(found.find("uber", 10)) == ["muller2021"]  # accents do not matter
    assert keys(found.find("tvl", 10)) == ["touvron2023llama"]  # T-ouV-ron2023-Llama: letters of the key in order
    assert keys(found.find("shazeer", 10)) == []  # co-authors are not searched


def test_ranking_across_tiers():
    bib = parse_bibliography(
        "@misc{zeta, title = {Learning to learn}, author = {Lee, A.}, year = 2001}\n"
        "@misc{learning2020, title = {Other}, author = {Smith, B.}, year = 2020}\n"
        "@misc{alpha, title = {Deep unlearning}, author = {Kim, C.}, year = 1999}\n"
        "@misc{lxexaxrxnxixnxg, title = {X}, author = {Doe, D.}, year = 1998}\n")
    found = Listing(MatchIndex([bib])).find("learning", 10)
    assert keys(found) == ["learning2020", "zeta", "alpha", "lxexaxrxnxixnxg"]


def test_at_most_limit_entries_and_whether_there_were_more_and_keys_left_out():
    many = parse_bibliography("".join(f"@misc{{key{i}, title = {{Title {i}}}}}\n" for i in range(250)))
    found = Listing(MatchIndex([many]))
    entries, more = found.find("", 100)
    assert len(entries) == 100 and more and entries[0].key == "key0"
    entries, more = found.find("key24", 100)
    assert [e.key for e in entries][:3] == ["key24", "key240", "key241"] and not more
    assert "key24" not in keys(found.find("key24", 100, leave_out={"key24"}))
