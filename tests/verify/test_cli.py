"""``galactica-lsp verify``: the record and exit 0, where it looked and exit 1, one error line and exit 3."""

from __future__ import annotations

import subprocess
import sys

from galactica_lsp import cli
from galactica_lsp.verify.cli import main

from .conftest import recorded

BOETTIGER = "crossref/works_query_ecology_author_boettiger.json"


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_a_found_record_is_printed_with_exit_0(server, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GALACTICA_LSP_CACHE", str(tmp_path))
    server.serve("/works", recorded(BOETTIGER))
    status, out, err = run(capsys, "The forecast trap, Boettiger", "--source", "crossref", "--endpoint", server.url)
    assert (status, err) == (0, "")
    assert out == ("found in Crossref: DOI 10.1111/ele.14024\n"
                   "title: The forecast trap\n"
                   "first author: Carl Boettiger\n"
                   "year: 2022\n"
                   "venue: Ecology Letters\n"
                   "url: https://doi.org/10.1111/ele.14024\n")
    assert list(tmp_path.glob("verify/crossref/*.json"))  # the answer was cached under $GALACTICA_LSP_CACHE


def test_verbose_lists_what_was_compared_and_not_found_exits_1(server, capsys, tmp_path):
    server.serve("/works", recorded(BOETTIGER))
    server.serve("/search/publ/api", recorded("dblp/publ_query_test_star.json"))
    status, out, err = run(capsys, "The forecast trap, Smith", "--source", "crossref", "--source", "dblp",
                           "--endpoint", f"crossref={server.url}", "--endpoint", f"dblp={server.url}",
                           "--no-cache", "-v")
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == "Crossref: 20 candidate(s)"
    assert lines[1] == ("  Crossref: title 1.000, first author differs (Carl Boettiger): rejected: "
                        "'The forecast trap'")
    assert "DBLP: 30 candidate(s)" in lines
    assert lines[-1] == "not found in Crossref, DBLP, which is not proof it is invented"


def test_no_source_answering_is_one_line_on_stderr_with_exit_3(capsys, closed_port_url):
    status, out, err = run(capsys, "The forecast trap, Boettiger", "--source", "crossref",
                           "--endpoint", closed_port_url, "--no-cache")
    assert (status, out) == (3, "")
    assert err == "galactica-lsp verify: error: Crossref: connection refused\n"


def test_bibtex_follows_the_record(server, capsys):
    server.serve("/works", recorded(BOETTIGER))
    server.serve("/works/10.1111%2Fele.14024/transform/application/x-bibtex", b"", status=404)
    status, out, err = run(capsys, "The forecast trap, Boettiger", "--source", "crossref", "--endpoint", server.url,
                           "--no-cache", "--bibtex")
    assert status == 4 and out.startswith("found in Crossref")
    assert err == ("galactica-lsp verify: error: no BibTeX entry: Crossref: no entry for DOI 10.1111/ele.14024 "
                   "(HTTP 404)\n")


def test_bad_arguments_exit_2(capsys, server):
    status, _, err = run(capsys, "The forecast trap, Boettiger", "--source", "crossref", "--source", "dblp",
                         "--endpoint", server.url)
    assert status == 2 and "say which source (NAME=URL)" in err
    status, _, err = run(capsys, "The forecast trap", "--source", "crossref", "--endpoint", server.url)
    assert (status, err) == (2, "galactica-lsp verify: error: the suggestion names no first author to compare\n")
    assert server.requests == []


def test_the_main_command_dispatches_verify(server, capsys):
    server.serve("/works", recorded(BOETTIGER))
    status = cli.main(["verify", "The forecast trap, Boettiger", "--source", "crossref", "--endpoint", server.url,
                       "--no-cache"])
    assert status == 0 and capsys.readouterr().out.startswith("found in Crossref: DOI 10.1111/ele.14024\n")


def test_verify_imports_neither_torch_nor_the_model():
    code = ("import sys, galactica_lsp.verify.cli, galactica_lsp.verify.verifier; "
            "print(sorted({'torch', 'transformers'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr
