"""Each source's recorded real answer read into records; malformed answers refused with a reason."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from galactica_lsp.verify.records import Record
from galactica_lsp.verify.sources import SPECS, Malformed, error_detail, parse_arxiv, s2_record

from .conftest import recorded


def test_crossref_works_become_records_with_doi_year_venue_and_first_author():
    records = SPECS["crossref"].parse(recorded("crossref/works_query_ecology_author_boettiger.json"))
    assert len(records) == 20
    assert records[0] == Record(
        source="crossref", title="The forecast trap", first_author="Carl Boettiger", first_author_family="Boettiger",
        authors=("Carl Boettiger",), year=2022, venue="Ecology Letters", doi="10.1111/ele.14024",
        url="https://doi.org/10.1111/ele.14024",
    )
    assert records[3].first_author == "Milad Memarzadeh" and records[3].venue is None


def test_crossref_works_without_authors_keep_an_empty_first_author():
    records = SPECS["crossref"].parse(recorded("crossref/works_query_widget.json"))
    assert (records[0].title, records[0].first_author, records[0].authors) == (
        "Widget Mania: Using a GUI Widget Framework", "", ())


def test_dblp_hits_become_records_with_the_trailing_period_dropped():
    records = SPECS["dblp"].parse(recorded("dblp/publ_query_test_star.json"))
    assert len(records) == 30
    first = records[0]
    assert first.title == ("A Test Cost Reduction Method by Test Response and Test Vector Overlapping for "
                           "Full-Scan Test Architecture")
    assert (first.first_author, first.authors[-1], first.year, first.venue, first.doi, first.key, first.url) == (
        "Tsuyoshi Shinogi", "Tomohiro Yoshikawa", 2005, "Asian Test Symposium", "10.1109/ATS.2005.17",
        "conf/ats/ShinogiYHTY05", "https://dblp.org/rec/conf/ats/ShinogiYHTY05")


def test_arxiv_entries_become_records_with_id_without_version_and_primary_class():
    (paper,) = parse_arxiv(recorded("arxiv/id_1605.08386.xml"))
    assert paper == Record(
        source="arxiv", title="Heat-bath random walks with Markov bases", first_author="Caprice Stanley",
        authors=("Caprice Stanley", "Tobias Windisch"), year=2016, arxiv_id="1605.08386",
        url="https://arxiv.org/abs/1605.08386", primary_class="math.CO",
    )
    (old,) = parse_arxiv(recorded("arxiv/id_astro-ph_0601001.xml"))
    assert (old.arxiv_id, old.venue, old.primary_class) == ("astro-ph/0601001", "ActaAstron.56:1-50,2006", "astro-ph")
    assert len(parse_arxiv(recorded("arxiv/query_testing_100.xml"))) == 100
    assert parse_arxiv(recorded("arxiv/id_0000.0000_empty.xml")) == []


def test_arxivs_error_feed_is_malformed_with_its_own_words():
    with pytest.raises(Malformed, match="incorrect id format for abc"):
        parse_arxiv(recorded("arxiv/id_abc_error_400.xml"))
    assert error_detail(recorded("arxiv/id_abc_error_400.xml")) == "incorrect id format for abc"


def test_semantic_scholar_match_and_paper_objects():
    (match,) = SPECS["semanticscholar"].parse(recorded("semanticscholar/match_mining_association_rules.json"))
    assert (match.title, match.first_author, match.key) == (
        "Mining association rules between sets of items in large databases", "",
        "6fe8c5bf8dddaadf10c765133d38dfef5714347f")
    papers = [s2_record(p) for p in json.loads(recorded("semanticscholar/paper_batch.json"))]
    assert papers[0] is None
    assert (papers[1].first_author, papers[1].doi, papers[1].year) == ("Marianne Bertrand", "10.2139/ssrn.288970", 2001)
    assert SPECS["semanticscholar"].no_match(404, b'{"error":"Title match not found"}')
    assert not SPECS["semanticscholar"].no_match(404, b"<html>Not Found</html>")


@pytest.mark.parametrize("name, body, reason", [
    ("crossref", b"{not json", "not JSON"),
    ("crossref", b'{"status": "ok", "message": {"total-results": 0}}', "no message.items"),
    ("dblp", b'{"result": {}}', "no result.hits"),
    ("arxiv", b"<html><body>503</body></html>", "not an Atom feed"),
    ("arxiv", b"<feed", "not XML"),
    ("semanticscholar", b"[]", "no data"),
])
def test_malformed_answers_are_refused_with_the_reason(name, body, reason):
    with pytest.raises(Malformed, match=reason):
        SPECS[name].parse(body)


def test_only_the_title_and_surname_are_in_the_search_urls():
    urls = {name: spec.search("https://example.org/base/", "Attention Is All You Need", "vaswani", 5)
            for name, spec in SPECS.items()}
    query = {name: urllib.parse.parse_qs(urllib.parse.urlsplit(url).query) for name, url in urls.items()}
    assert urls["crossref"].startswith("https://example.org/base/works?")
    assert query["crossref"] == {"query.bibliographic": ["Attention Is All You Need"], "query.author": ["vaswani"],
                                 "rows": ["5"]}
    assert query["dblp"] == {"q": ["attention is all you need vaswani"], "format": ["json"], "h": ["5"]}
    assert query["arxiv"] == {"search_query": ['ti:"attention is all you need" AND au:vaswani'], "max_results": ["5"]}
    assert query["semanticscholar"]["query"] == ["Attention Is All You Need"]
