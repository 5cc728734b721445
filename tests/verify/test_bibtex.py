"""A found record's real BibTeX: Crossref's by content negotiation, or built from arXiv's metadata."""

from __future__ import annotations

import pytest

from galactica_lsp.verify.bibtex import arxiv_entry, with_key
from galactica_lsp.verify.records import Record
from galactica_lsp.verify.sources import parse_arxiv

from .conftest import recorded

WATER_DOI = "10.1126/science.169.3946.635"
WATER_PATH = "/works/10.1126%2Fscience.169.3946.635/transform/application/x-bibtex"


def test_crossref_content_negotiation_gives_the_recorded_entry(server, make_verifier):
    body = recorded("crossref/transform_bibtex_10.1126_science.169.3946.635.bib")
    server.serve(WATER_PATH, body, content_type="application/x-bibtex")
    water = Record("crossref", "The Structure of Ordinary Water", "Henry S. Frank", doi=WATER_DOI)
    entry = make_verifier().bibtex(water)
    assert entry.problem is None and entry.source == "crossref"
    assert entry.text == body.decode("utf-8").strip() + "\n"
    assert server.requests[0].headers["accept"] == "application/x-bibtex"


def test_an_unknown_doi_or_a_body_that_is_not_bibtex_is_a_problem_not_an_entry(server, make_verifier):
    server.serve(WATER_PATH, recorded("crossref/works_notarealdoi_404.txt"), status=404, content_type="text/plain")
    record = Record("crossref", "t", "a", doi=WATER_DOI)
    assert make_verifier().bibtex(record).problem == f"Crossref: no entry for DOI {WATER_DOI} (HTTP 404)"
    server.serve(WATER_PATH, b"<html>login</html>", content_type="text/html")
    assert make_verifier().bibtex(record).problem == "Crossref: malformed answer: not a BibTeX entry"


def test_an_arxiv_record_gives_an_entry_with_eprint_archive_prefix_and_primary_class():
    (paper,) = parse_arxiv(recorded("arxiv/id_1605.08386.xml"))
    assert arxiv_entry(paper) == (
        "@misc{stanley:heatbath,\n"
        "  title = {Heat-bath random walks with Markov bases},\n"
        "  author = {Caprice Stanley and Tobias Windisch},\n"
        "  year = {2016},\n"
        "  eprint = {1605.08386},\n"
        "  archivePrefix = {arXiv},\n"
        "  primaryClass = {math.CO},\n"
        "  url = {https://arxiv.org/abs/1605.08386}\n"
        "}\n"
    )
    (published,) = parse_arxiv(recorded("arxiv/id_astro-ph_0601001.xml"))
    entry = arxiv_entry(published, key="gould2006")
    assert entry.startswith("@article{gould2006,\n")
    assert "  journal = {ActaAstron.56:1-50,2006},\n" in entry and "  eprint = {astro-ph/0601001},\n" in entry


def test_a_record_found_elsewhere_with_an_arxiv_id_takes_arxivs_metadata(server, make_verifier):
    server.serve("/api/query", recorded("arxiv/id_1605.08386.xml"), content_type="application/atom+xml")
    found = Record("semanticscholar", "Heat-bath random walks with Markov bases", "C. Stanley", arxiv_id="1605.08386")
    entry = make_verifier().bibtex(found)
    assert entry.source == "arxiv" and entry.text.startswith("@misc{stanley:heatbath,\n")
    assert "author = {Caprice Stanley and Tobias Windisch}" in entry.text
    assert server.requests[0].query == {"id_list": ["1605.08386"], "max_results": ["1"]}


def test_a_record_with_neither_doi_nor_arxiv_id_has_no_entry(make_verifier):
    entry = make_verifier().bibtex(Record("dblp", "Test Veri Yonetiminde", "Oguzhan Kayhan", key="conf/uyms/X17"))
    assert entry.text is None and entry.problem == "the record has no DOI or arXiv id to take an entry from"


def test_with_key_renames_only_the_entry_key():
    text = recorded("crossref/transform_bibtex_10.1126_science.169.3946.635.bib").decode().strip()
    renamed = with_key(text, "frank:structure")
    assert renamed.startswith("@article{frank:structure, title={The Structure of Ordinary Water")
    assert renamed[len("@article{frank:structure"):] == text[len("@article{Frank_1970"):]
    with pytest.raises(ValueError):
        with_key("not an entry", "k")
