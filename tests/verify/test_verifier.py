"""The verifier against a local server: recorded answers found and not found, every failure a clear status."""

from __future__ import annotations

import asyncio

from galactica_lsp.verify import Found, NotFound, Unchecked, Verifier
from galactica_lsp.verify.cache import Cache
from galactica_lsp.verify.http import Pacer, retry_after

from .conftest import recorded

BOETTIGER = "crossref/works_query_ecology_author_boettiger.json"


def test_a_recorded_crossref_record_is_found_with_its_doi_year_and_venue(server, make_verifier):
    server.serve("/works", recorded(BOETTIGER))
    verdict = make_verifier(mailto="me@example.org").check("The forecast trap, Boettiger", ["crossref"])
    assert isinstance(verdict, Found)
    assert verdict.describe() == "found: DOI 10.1111/ele.14024, 2022, Ecology Letters"
    (seen,) = server.requests
    # Only the title and surname leave the machine, with Crossref's polite-pool mailto and a User-Agent.
    assert seen.query == {"query.bibliographic": ["The forecast trap"], "query.author": ["boettiger"],
                          "rows": ["5"], "mailto": ["me@example.org"]}
    agent = seen.headers["user-agent"]
    assert agent.startswith("galactica-lsp/") and "mailto:me@example.org" in agent


def test_the_same_title_by_another_first_author_is_not_found(server, make_verifier):
    server.serve("/works", recorded(BOETTIGER))
    verdict = make_verifier().check("The forecast trap, Smith", ["crossref"])
    assert isinstance(verdict, NotFound) and verdict.sources_checked == ("crossref",)
    assert verdict.describe() == "not found in Crossref, which is not proof it is invented"
    (report,) = verdict.reports
    assert report.comparisons[0].title_score == 1.0 and not report.comparisons[0].accepted


def test_sources_are_asked_in_order_until_one_has_the_record(server, make_verifier):
    server.serve("/works", recorded(BOETTIGER))
    server.serve("/search/publ/api", recorded("dblp/publ_query_test_star.json"))
    server.serve("/api/query", recorded("arxiv/query_testing_100.xml"), content_type="application/atom+xml")
    verdict = make_verifier().check("Active Fuzzing for Testing and Securing Cyber-Physical Systems, Yuqi Chen",
                                    ["crossref", "dblp", "arxiv", "semanticscholar"])
    assert isinstance(verdict, Found) and verdict.record.source == "arxiv"
    assert verdict.record.describe().startswith("DOI 10.1145/3395363.3397376, arXiv 2005.14124, 2020, ")
    assert [r.source for r in verdict.reports] == ["crossref", "dblp", "arxiv"]
    assert server.hits("/graph/v1/paper/search/match") == 0


def test_a_dblp_record_is_found(server, make_verifier):
    server.serve("/search/publ/api", recorded("dblp/publ_query_test_star.json"))
    verdict = make_verifier().check(
        "Test data regeneration: generating new test data from existing test data, Shin Yoo", ["dblp"])
    assert isinstance(verdict, Found)
    assert (verdict.record.doi, verdict.record.year, verdict.record.venue) == (
        "10.1002/STVR.435", 2012, "Softw. Test., Verif. Reliab.")


def test_semantic_scholars_title_only_record_cannot_confirm_the_author(server, make_verifier):
    server.serve("/graph/v1/paper/search/match", recorded("semanticscholar/match_mining_association_rules.json"))
    verdict = make_verifier().check("Mining association rules between sets of items in large databases, Agrawal",
                                    ["semanticscholar"])
    assert isinstance(verdict, NotFound)
    assert server.requests[0].query["fields"] == ["title,authors,year,venue,externalIds,url"]


def test_semantic_scholars_404_no_match_is_an_answer_not_an_error(server, make_verifier):
    # S2's 404s carry a JSON "error" (this recorded one is of /paper/0; the match's reads "Title match not found").
    server.serve("/graph/v1/paper/search/match", recorded("semanticscholar/paper_0_not_found_404.json"), status=404)
    verdict = make_verifier().check("A paper nobody wrote, Nobody", ["semanticscholar"])
    assert isinstance(verdict, NotFound) and verdict.reports[0].ok


def test_a_429_is_honoured_no_request_until_its_retry_after_ends(server, make_verifier):
    server.serve("/works", b'{"message": "slow down"}', status=429, headers={"Retry-After": "120"})
    verifier = make_verifier()
    first = verifier.check("The forecast trap, Boettiger", ["crossref"])
    assert isinstance(first, Unchecked)
    assert first.reason == "Crossref: rate limited (HTTP 429): retry after 120 s"
    assert first.reports[0].status == "rate-limited" and first.reports[0].retry_after == 120
    second = verifier.check("The forecast trap, Boettiger", ["crossref"])
    assert second.reports[0].status == "rate-limited" and "asked to wait" in second.reason
    assert server.hits("/works") == 1


def test_server_errors_malformed_answers_timeouts_and_refusals_each_get_their_status(server, make_verifier,
                                                                                      closed_port_url):
    server.serve("/works", b"<html>oops</html>", status=503, content_type="text/html")
    server.serve("/search/publ/api", b'{"result": {"hits": {"hit": [')
    server.serve("/api/query", b"", delay=30.0)
    verifier = make_verifier(timeout=0.5, endpoints={"crossref": server.url, "dblp": server.url, "arxiv": server.url,
                                                     "semanticscholar": closed_port_url})
    verdict = verifier.check("The forecast trap, Boettiger", ["crossref", "dblp", "arxiv", "semanticscholar"])
    assert isinstance(verdict, Unchecked)
    assert [(r.source, r.status) for r in verdict.reports] == [
        ("crossref", "server-error"), ("dblp", "malformed"), ("arxiv", "timeout"), ("semanticscholar", "refused")]
    assert verdict.reason.startswith("Crossref: server error (HTTP 503); DBLP: malformed answer: not JSON")
    assert verdict.reason.endswith("arXiv: timed out after 0.5 s; Semantic Scholar: connection refused")


def test_a_failing_source_beside_one_that_answered_still_gives_not_found_and_says_which_failed(
        server, make_verifier, closed_port_url):
    server.serve("/works", recorded(BOETTIGER))
    verifier = make_verifier(endpoints={"crossref": server.url, "dblp": closed_port_url})
    verdict = verifier.check("An invented paper about forecasts, Boettiger", ["crossref", "dblp"])
    assert isinstance(verdict, NotFound) and verdict.sources_checked == ("crossref",)
    assert verdict.describe() == ("not found in Crossref, which is not proof it is invented "
                                  "(DBLP: connection refused)")


def test_answers_are_cached_failures_are_not_and_stale_entries_are_asked_again(server, tmp_path):
    now = [1000.0]
    cache = Cache(tmp_path, ttl=3600, clock=lambda: now[0])
    verifier = Verifier({"crossref": server.url}, intervals={"crossref": 0}, cache=cache)
    server.serve("/works", b"{}", status=500)
    assert isinstance(verifier.check("The forecast trap, Boettiger", ["crossref"]), Unchecked)
    server.serve("/works", recorded(BOETTIGER))
    assert isinstance(verifier.check("The forecast trap, Boettiger", ["crossref"]), Found)
    again = verifier.check("The forecast trap, Boettiger", ["crossref"])
    assert isinstance(again, Found) and again.reports[0].cached
    assert server.hits("/works") == 2
    now[0] += 3601
    assert not verifier.check("The forecast trap, Boettiger", ["crossref"]).reports[0].cached
    assert server.hits("/works") == 3


def test_a_corrupt_cache_entry_is_a_miss(server, tmp_path):
    cache = Cache(tmp_path)
    verifier = Verifier({"crossref": server.url}, intervals={"crossref": 0}, cache=cache)
    server.serve("/works", recorded(BOETTIGER))
    verifier.check("The forecast trap, Boettiger", ["crossref"])
    for path in tmp_path.rglob("*.json"):
        path.write_text("{broken")
    assert isinstance(verifier.check("The forecast trap, Boettiger", ["crossref"]), Found)
    assert server.hits("/works") == 2


def test_nothing_is_sent_when_verification_is_off_or_there_is_nothing_to_compare(server, make_verifier):
    verifier = make_verifier()
    assert verifier.check("The forecast trap, Boettiger", []).describe() == (
        "not checked (verification is off: no source named)")
    assert verifier.check("The forecast trap", ["crossref"]).reason == (
        "the suggestion names no first author to compare")
    assert verifier.check("The forecast trap, Boettiger", ["scholar"]).reason.startswith("unknown source scholar")
    assert server.requests == []


def test_check_async_answers_from_a_thread_and_gives_up_at_its_deadline(server, make_verifier):
    server.serve("/works", recorded(BOETTIGER))
    server.serve("/search/publ/api", b"", delay=30.0)
    verifier = make_verifier(timeout=0.5)  # asyncio.run waits for the abandoned thread: keep it short

    async def both():
        return (await verifier.check_async("The forecast trap, Boettiger", ["crossref"]),
                await verifier.check_async("The forecast trap, Boettiger", ["dblp"], deadline=0.2))

    found, late = asyncio.run(both())
    assert isinstance(found, Found)
    assert late == Unchecked("no answer within 0.2 s")


def test_pacing_spaces_requests_and_refuses_a_wait_longer_than_allowed():
    now, slept = [0.0], []
    pacer = Pacer(3.0, clock=lambda: now[0], sleep=slept.append)
    assert pacer.wait_turn(most=10) and slept == []
    assert pacer.wait_turn(most=10) and slept == [3.0]
    assert not pacer.wait_turn(most=2.0)  # the next turn is 6 s away
    pacer.block(30)
    assert pacer.blocked_for() == 30


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("120") == 120
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after("soon") is None and retry_after(None) is None
