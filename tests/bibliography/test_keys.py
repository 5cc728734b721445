"""Cite keys in documents, and the syntax that cites a key."""

from __future__ import annotations

from galactica_lsp.bibliography.keys import citation_style, cite, cited_keys


def keys(text, language):
    return [(k.key, k.kind, text[k.start : k.end]) for k in cited_keys(text, language)]


def test_latex_cite_commands_with_options_and_lists():
    text = "See \\citep[see][p.~3]{a, b} and \\textcite{c}. % \\cite{commented}\n\\nocite{*}\\citestyle{plain}"
    assert [k[0] for k in keys(text, "latex")] == ["a", "b", "c"]
    assert all(k[0] == k[2] for k in keys(text, "latex"))


def test_latex_verbatim_is_not_cited():
    assert keys("\\begin{verbatim}\\cite{x}\\end{verbatim} \\cite{y}", "latex") == [("y", "latex", "y")]


def test_pandoc_bracketed_and_in_text_but_not_emails_code_or_crossrefs():
    text = "As [@doe99; see -@roe2000, p. 3] and @smith04 say. Mail a@b.com. See @fig:one, @sec-two. `@code`"
    assert [k[0] for k in keys(text, "markdown")] == ["doe99", "roe2000", "smith04"]


def test_myst_roles():
    text = "Shown in {cite}`a,b` and {cite:p}`c`.\n\n```\n{cite}`in_a_fence`\n```\n"
    assert [(k[0], k[1]) for k in keys(text, "markdown")] == [("a", "myst"), ("b", "myst"), ("c", "myst")]


def test_python_only_in_comments_and_docstrings():
    text = 'def f():\n    """See :cite:`doc1` and [@doc2]."""\n    s = ":cite:`not_a_key`"  # :cite:`c3`\n'
    assert [k[0] for k in keys(text, "python")] == ["doc1", "doc2", "c3"]


def test_the_syntax_of_a_place():
    assert citation_style("", "latex") == "latex" and cite("k", "latex") == "\\cite{k}"
    assert citation_style("text", "markdown") == "pandoc" and cite("k", "pandoc") == "[@k]"
    assert citation_style("as {cite}`x`", "markdown") == "myst" and cite("k", "myst") == "{cite}`k`"
    assert citation_style("", "python") == "rst" and cite("k", "rst") == ":cite:`k`"
    assert citation_style("", "text") is None
