"""The one rule for where a chosen citation goes: exact spans and text at every kind of place."""

from __future__ import annotations

import pytest

from galactica_lsp.bibliography.placement import NoPlace, citation_placement

REF = "Attention is All you Need, Vaswani"
KEY = "vaswani2017attention"
DOC = "\\begin{document}\n"

CASES = [
    # (language, text with | at the cursor, the text after the edit)
    ("latex", DOC + "Transformers \\cite{|}", DOC + "Transformers \\cite{vaswani2017attention}"),
    ("latex", DOC + "Transformers \\cite{a,|}", DOC + "Transformers \\cite{a,vaswani2017attention}"),
    ("latex", DOC + "Transformers \\cite{a, |}", DOC + "Transformers \\cite{a, vaswani2017attention}"),
    ("latex", DOC + "Transformers \\cite{a|}", DOC + "Transformers \\cite{a,vaswani2017attention}"),
    ("latex", DOC + "Transformers \\cite{|b}", DOC + "Transformers \\cite{vaswani2017attention,b}"),
    ("latex", DOC + "Models \\cite{|\n\n\\bibliography{x}", DOC + "Models \\cite{vaswani2017attention\n\n\\bibliography{x}"),
    ("latex", DOC + "Transformers \\citep[see][p.~3]{|", DOC + "Transformers \\citep[see][p.~3]{vaswani2017attention"),
    ("latex", DOC + "Transformers|.", DOC + "Transformers~\\cite{vaswani2017attention}."),
    ("latex", DOC + "Transformers |.", DOC + "Transformers \\cite{vaswani2017attention}."),
    ("latex", "No document environment|", "No document environment~\\cite{vaswani2017attention}"),
    ("latex", DOC + "Transformers [START_REF]|", DOC + f"Transformers [START_REF] {REF}[END_REF]"),
    ("latex", DOC + "Transformers [START_REF] |[END_REF]", DOC + f"Transformers [START_REF] {REF}[END_REF]"),
    ("markdown", "Transformers [@|]", "Transformers [@vaswani2017attention]"),
    ("markdown", "Transformers [@a; @|]", "Transformers [@a; @vaswani2017attention]"),
    ("markdown", "Transformers [@a|]", "Transformers [@a; @vaswani2017attention]"),
    ("markdown", "Transformers [@|b]", "Transformers [@vaswani2017attention; @b]"),
    ("markdown", "Transformers|.", "Transformers [@vaswani2017attention]."),
    ("markdown", "Transformers {cite}`a,|`", "Transformers {cite}`a,vaswani2017attention`"),
    ("markdown", "Transformers {cite}`|", "Transformers {cite}`vaswani2017attention"),
    ("markdown", "See {cite}`x`. Transformers |", "See {cite}`x`. Transformers {cite}`vaswani2017attention`"),
    ("markdown", "Transformers :cite:`a,|`", "Transformers :cite:`a,vaswani2017attention`"),
    ("markdown", "Transformers [START_REF]|", f"Transformers [START_REF] {REF}[END_REF]"),
    ("python", '"""Transformers|."""\n', '"""Transformers :cite:`vaswani2017attention`."""\n'),
    ("python", '"""Transformers :cite:`|`."""\n', '"""Transformers :cite:`vaswani2017attention`."""\n'),
    ("text", "Transformers|", f"Transformers [START_REF] {REF}[END_REF]"),
]


def apply(text: str, language: str, key: str = KEY) -> str | None:
    offset = text.index("|")
    text = text.replace("|", "", 1)
    placed = citation_placement(text, offset, language, key, REF)
    if placed is None:
        return None
    return text[: placed.start] + placed.new_text + text[placed.end :]


@pytest.mark.parametrize("language,text,expected", CASES, ids=[f"{c[0]}:{c[1][-28:]}" for c in CASES])
def test_the_citation_goes_in_the_syntax_of_the_place(language, text, expected):
    assert apply(text, language) == expected


def test_the_galactica_form_replaces_only_what_was_typed_after_the_tag():
    text = DOC + "Transformers [START_REF] Attent"
    placed = citation_placement(text, len(text), "latex", KEY, REF)
    assert (placed.start, placed.end, placed.new_text, placed.kind) == (
        len(text) - len(" Attent"), len(text), f" {REF}[END_REF]", "galactica")


@pytest.mark.parametrize("language,text", [
    ("latex", DOC + "\\cite{vaswani2017attention,|}"),
    ("latex", DOC + "\\cite{|vaswani2017attention}"),
    ("latex", DOC + "\\cite{a, |, vaswani2017attention}"),
    ("latex", DOC + "\\cite{vaswani2017attention|}"),
    ("markdown", "[@vaswani2017attention; @|]"),
    ("markdown", "[@|; @vaswani2017attention]"),
    ("markdown", "{cite}`vaswani2017attention,|`"),
])
def test_a_key_is_never_cited_twice_in_one_list(language, text):
    assert apply(text, language) is None


@pytest.mark.parametrize("language,text", [
    ("latex", "\\documentclass{article}|\n\\begin{document}\nx\n"),
    ("latex", DOC + "$x = |y$"),
    ("markdown", "```\ncode|\n```\n"),
    ("python", "x = 1|\n"),
])
def test_no_citation_where_citations_do_not_belong(language, text):
    with pytest.raises(NoPlace):
        apply(text, language)


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError):
        citation_placement("Transformers ", 13, "latex", " ", REF)


def test_a_key_alone_at_a_galactica_tag_is_cited_in_the_document_syntax():
    text = DOC + "Transformers [START_REF]"
    placed = citation_placement(text, len(text), "latex", KEY, None)
    assert (placed.start, placed.new_text) == (len(text), "~\\cite{vaswani2017attention}")
