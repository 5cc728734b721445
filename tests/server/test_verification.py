"""What a person reads of a check: a menu item's detail and documentation, the command's wire form, the
message-request picker's note, for each verdict."""

from __future__ import annotations

from lsprotocol import types

from galactica_lsp.server.verification import MARK, OFF, with_check, picker_note, short, wire
from galactica_lsp.verify import Found, NotFound, Record, SourceReport, Unchecked

WATER = Record("crossref", "The Structure of Ordinary Water", "Henry S. Frank", year=1970, venue="Science",
               doi="10.1126/science.169.3946.635")
FOUND = Found(WATER, (SourceReport("crossref", "ok"),))
NOT_FOUND = NotFound(("crossref",), (SourceReport("crossref", "ok"), SourceReport("dblp", "refused", "connection refused")))
LIMITED = Unchecked("Crossref: rate limited (HTTP 429): retry after 120 s",
                    (SourceReport("crossref", "rate-limited", "rate limited (HTTP 429): retry after 120 s"),))


def item(doc: str = "Galactica suggests *X*.") -> types.CompletionItem:
    return types.CompletionItem(label="X, Frank", detail="not in your library · 90% sure",
                                documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc))


def test_each_verdict_in_a_few_words():
    assert short(FOUND) == "found: DOI 10.1126/science.169.3946.635, 1970, Science"
    assert short(NOT_FOUND) == "not found in Crossref"
    assert short(LIMITED) == "not checked (Crossref: rate limited)"
    assert short(Unchecked("no answer within 39 s")) == "not checked (no answer within 39 s)"


def test_an_item_reads_checking_then_the_result_and_its_documentation_says_it_once():
    names = ("crossref", "dblp")
    checking = with_check(item(), "not in your library · 90% sure", None, names)
    assert checking.detail == "not in your library · 90% sure · checking Crossref, DBLP…"
    assert checking.documentation.value == "Galactica suggests *X*." + MARK + "checking Crossref, DBLP…."
    done = with_check(checking, "not in your library · 90% sure", NOT_FOUND, names)
    assert done.detail == "not in your library · 90% sure · not found in Crossref"
    assert done.documentation.value == ("Galactica suggests *X*." + MARK + "not found in Crossref, which is not proof"
                                        " it is invented (DBLP: connection refused).")
    found = with_check(done, "not in your library · 90% sure", FOUND, names)
    assert found.documentation.value.endswith(MARK + "found: DOI 10.1126/science.169.3946.635, 1970, Science."
                                              " *Add BibTeX entry* writes this record's own entry.")


def test_off_leaves_the_detail_and_says_so_in_the_documentation():
    off = with_check(item(), "not in your library · 90% sure", None, ())
    assert off.detail == "not in your library · 90% sure"
    assert off.documentation.value == "Galactica suggests *X*." + MARK + OFF + "."


def test_the_wire_form_and_the_picker_note():
    assert wire(None, ()) == {"state": "off", "text": OFF, "summary": "not checked (verification is off)",
                              "record": None}
    assert wire(None, ("arxiv",))["state"] == "checking"
    found = wire(FOUND, ("crossref",))
    assert (found["state"], found["record"]["doi"], found["record"]["identifier"]) == (
        "found", WATER.doi, "DOI 10.1126/science.169.3946.635")
    assert wire(LIMITED, ("crossref",))["state"] == "unchecked"
    assert picker_note({"verification": found}) == " · found: DOI 10.1126/science.169.3946.635, 1970, Science"
    assert picker_note({"verification": wire(None, ())}) == "" and picker_note({"verification": None}) == ""
