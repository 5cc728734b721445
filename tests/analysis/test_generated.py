"""Generated text made fit to insert: references cited, Galactica markup never left, words never cut."""

from __future__ import annotations

import pytest

from galactica_lsp.analysis.generated import fit_to_insert


def latex(reference: str) -> str | None:
    return {"Attention is All you Need, Vaswani": "\\cite{vaswani2017attention}"}.get(reference, "\\cite{made:up}")


def nothing(reference: str) -> str | None:
    return None


@pytest.mark.parametrize("text,expected", [
    (" uses attention [START_REF] Attention is All you Need, Vaswani[END_REF] for",
     " uses attention \\cite{vaswani2017attention} for"),
    (" as shown [START_REF] Some Paper, Doe[END_REF].", " as shown \\cite{made:up}."),
    (" as shown [START_REF] Some Pap", " as shown"),
    (" as shown [START_REF]", " as shown"),
    (" as shown[END_REF] here", " as shown here"),
    ("<work> step one</work> done", " step one done"),
    (" plain text", " plain text"),
])
def test_references_become_citations_or_the_text_stops(text, expected):
    assert fit_to_insert(text, latex) == expected


def test_without_a_citation_the_text_stops_before_the_reference():
    assert fit_to_insert(" known [START_REF] A, B[END_REF] after", nothing) == " known"


@pytest.mark.parametrize("text,expected", [
    (" the model of attent", " the model of"),
    (" the model of attention.", " the model of attention."),
    (" the model of attention ", " the model of attention "),
    ("attent", "attent"),  # no earlier boundary: kept rather than nothing
])
def test_a_cut_generation_ends_at_a_word_boundary(text, expected):
    assert fit_to_insert(text, latex, cut=True) == expected


def test_an_uncut_generation_keeps_its_last_word():
    assert fit_to_insert(" the model of attent", latex, cut=False) == " the model of attent"


def test_an_explanation_cut_short_says_so_and_has_no_work_tags():
    from galactica_lsp.analysis.generated import CUT_SHORT, answer_to_insert

    assert answer_to_insert("<work>expr = exp", "time") == "expr = exp" + CUT_SHORT
    assert answer_to_insert("expr = exp", "length") == "expr = exp" + CUT_SHORT
    assert answer_to_insert("expr = exp(x)\n", "eos") == "expr = exp(x)"
    assert answer_to_insert("", "time") == ""
