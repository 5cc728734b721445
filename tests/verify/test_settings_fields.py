"""The two verify settings: off by default, source names and base URLs checked, defaults kept on bad values."""

from __future__ import annotations

from galactica_lsp.settings import Settings, parse, to_wire


def test_verification_is_off_by_default():
    assert (Settings().verify, Settings().verify_endpoints) == ([], {})
    assert to_wire(Settings())["verifyEndpoints"] == {}
    assert Settings().verify_endpoints is not Settings().verify_endpoints  # no shared mutable default


def test_good_sources_and_endpoints_are_taken():
    settings, errors = parse({"verify": ["crossref", "arxiv"],
                              "verifyEndpoints": {"crossref": "https://mirror.example.org/crossref"}})
    assert errors == []
    assert settings.verify == ["crossref", "arxiv"]
    assert settings.verify_endpoints == {"crossref": "https://mirror.example.org/crossref"}


def test_unknown_sources_and_non_http_urls_are_reported_and_the_value_kept():
    settings, errors = parse({"verify": ["crossref", "scholar"], "verifyEndpoints": {"dblp": "ftp://dblp.org"}})
    assert settings == Settings()
    assert errors == [
        "galactica.verify: ['crossref', 'scholar'] unknown source(s) scholar: use crossref, dblp, arxiv, "
        "semanticscholar; kept []",
        "galactica.verifyEndpoints: {'dblp': 'ftp://dblp.org'} dblp: 'ftp://dblp.org' is not an http(s) URL; kept {}",
    ]
    _, errors = parse({"verifyEndpoints": ["https://api.crossref.org"]})
    assert errors == ["galactica.verifyEndpoints: expected dict, got ['https://api.crossref.org']; kept {}"]
    _, errors = parse({"verifyEndpoints": {"orcid": "https://orcid.org"}})
    assert errors == ["galactica.verifyEndpoints: {'orcid': 'https://orcid.org'} unknown source 'orcid': "
                      "use crossref, dblp, arxiv, semanticscholar; kept {}"]
