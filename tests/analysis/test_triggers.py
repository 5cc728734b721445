"""Citation triggers: the cursor (``|``) is where a reference key or title goes, or it is not."""

from __future__ import annotations

import pytest

from benchmarks.large_documents import TRIGGER_PARAGRAPH
from galactica_lsp.analysis.triggers import citation_trigger_at


def at_cursor(marked: str, language: str):
    offset = marked.index("|")
    text = marked[:offset] + marked[offset + 1 :]
    return text, offset, citation_trigger_at(text, offset, language)


# (marked text, language, kind, command, prefix, existing keys, the text at context_end)
TRIGGERS = [
    pytest.param("Known [START_REF]|", "latex", "galactica", None, "", (), "[START_REF]", id="start-ref"),
    pytest.param(
        "Known [START_REF] Attention is|",
        "markdown",
        "galactica",
        None,
        " Attention is",
        (),
        "[START_REF]",
        id="start-ref-with-partial-title",
    ),
    pytest.param("See [START_REF]|", "plaintext", "galactica", None, "", (), "[START_REF]", id="start-ref-plain-text"),
    pytest.param(
        "# see [START_REF] Deep|", "python", "galactica", None, " Deep", (), "[START_REF]", id="start-ref-comment"
    ),
    pytest.param("as in \\cite{|", "latex", "latex", "cite", "", (), "\\cite{", id="cite-open"),
    pytest.param("as in \\cite{vas|}", "latex", "latex", "cite", "vas", (), "\\cite{", id="cite-typing-key"),
    pytest.param("\\cite{a,b,|}", "latex", "latex", "cite", "", ("a", "b"), "\\cite", id="cite-after-comma"),
    pytest.param(
        "\\cite{a, b, vas|}", "latex", "latex", "cite", "vas", ("a", "b"), "\\cite", id="cite-list-with-spaces"
    ),
    pytest.param("\\citep{|", "latex", "latex", "citep", "", (), "\\citep", id="citep"),
    pytest.param("\\citet*{|", "latex", "latex", "citet", "", (), "\\citet*", id="citet-star"),
    pytest.param("\\citep[see][p.~3]{x|", "latex", "latex", "citep", "x", (), "\\citep[", id="citep-with-notes"),
    pytest.param("\\parencite[p.~3]{|", "latex", "latex", "parencite", "", (), "\\parencite", id="parencite"),
    pytest.param("\\textcite{|", "latex", "latex", "textcite", "", (), "\\textcite", id="textcite"),
    pytest.param("\\autocite{|", "latex", "latex", "autocite", "", (), "\\autocite", id="autocite"),
    pytest.param("\\footcite{|", "latex", "latex", "footcite", "", (), "\\footcite", id="footcite"),
    pytest.param("\\citeauthor{|", "latex", "latex", "citeauthor", "", (), "\\citeauthor", id="citeauthor"),
    pytest.param("\\citeyear{|", "latex", "latex", "citeyear", "", (), "\\citeyear", id="citeyear"),
    pytest.param("\\nocite{|", "latex", "latex", "nocite", "", (), "\\nocite", id="nocite"),
    pytest.param("\\Citep{|", "latex", "latex", "Citep", "", (), "\\Citep", id="capitalised-cite"),
    pytest.param("\\smartcite{|", "latex", "latex", "smartcite", "", (), "\\smartcite", id="smartcite"),
    pytest.param("\\supercite{|", "latex", "latex", "supercite", "", (), "\\supercite", id="supercite"),
    pytest.param("text~\\cite {|", "latex", "latex", "cite", "", (), "\\cite {", id="space-before-brace"),
    pytest.param(
        "\\cite{a,% first\n  b,\n  c|",
        "latex",
        "latex",
        "cite",
        "c",
        ("a", "b"),
        "\\cite",
        id="cite-list-over-lines",
    ),
    pytest.param("\\\\\\cite{|", "latex", "latex", "cite", "", (), "\\cite", id="cite-after-line-break"),
    pytest.param("see \\cite{|", "markdown", "latex", "cite", "", (), "\\cite", id="raw-latex-cite-in-markdown"),
    pytest.param("Known [@|", "markdown", "pandoc", None, "", (), "[@", id="pandoc-bracket"),
    pytest.param("Known [@vas|]", "markdown", "pandoc", None, "vas", (), "[@", id="pandoc-typing-key"),
    pytest.param("Known [see @|", "markdown", "pandoc", None, "", (), "[see", id="pandoc-with-prefix"),
    pytest.param("Known [@a; @b|]", "markdown", "pandoc", None, "b", ("a",), "[@a", id="pandoc-list"),
    pytest.param(
        "Known [@a, p. 3; -@b.c; @|", "markdown", "pandoc", None, "", ("a", "b.c"), "[@a", id="pandoc-locators"
    ),
    pytest.param("@vaswani|", "markdown", "pandoc", None, "vaswani", (), "@vaswani", id="pandoc-in-text"),
    pytest.param("As @vas| says", "markdown", "pandoc", None, "vas", (), "@vas", id="pandoc-in-text-mid-sentence"),
    pytest.param("Known {cite}`|", "markdown", "myst", None, "", (), "{cite}", id="myst-role-open"),
    pytest.param("Known {cite:p}`a,b|`", "markdown", "myst", None, "b", ("a",), "{cite:p}", id="myst-role-closed"),
    pytest.param("Known {cite:t}`a, |`", "markdown", "myst", None, "", ("a",), "{cite:t}", id="myst-role-after-comma"),
    pytest.param('"""Shown in [@vas|]."""', "python", "pandoc", None, "vas", (), "[@", id="pandoc-in-docstring"),
    pytest.param('"""Shown in \\cite{a,|"""', "python", "latex", "cite", "", ("a",), "\\cite", id="cite-in-docstring"),
    pytest.param('"""See :cite:p:`a,|`."""', "python", "rst", None, "", ("a",), ":cite:p:", id="rst-role-in-docstring"),
    pytest.param("x = 1  # {cite}`vas|", "python", "myst", None, "vas", (), "{cite}", id="myst-role-in-comment"),
    pytest.param("𝑥 😀 \\cite{|", "latex", "latex", "cite", "", (), "\\cite", id="after-astral-chars"),
    pytest.param(
        "```{note}\nAs shown in {cite}`vaswani2017, |\n```",
        "markdown",
        "myst",
        None,
        "",
        ("vaswani2017",),
        "{cite}",
        id="myst-role-in-a-note-directive",
    ),
    pytest.param(
        "````{prf:theorem} Universal approximation\n:label: thm-ua\n\nSee {cite:p}`hornik1989,cybenko|`.\n````",
        "markdown",
        "myst",
        None,
        "cybenko",
        ("hornik1989",),
        "{cite:p}",
        id="myst-role-in-a-theorem-directive",
    ),
    pytest.param(
        ":::{tip}\nRead {cite:t}`|\n:::", "markdown", "myst", None, "", (), "{cite:t}", id="myst-role-in-a-colon-fence"
    ),
    pytest.param("See {footcite}`a|`", "markdown", "myst", None, "a", (), "{footcite}", id="myst-footcite"),
    pytest.param("See :cite:`a, b|", "markdown", "rst", None, "b", ("a",), ":cite:", id="rst-role-in-markdown-open"),
    pytest.param(
        "See :cite:p:`a,b|` here", "markdown", "rst", None, "b", ("a",), ":cite:p:", id="rst-role-in-markdown-closed"
    ),
]


@pytest.mark.parametrize(("marked", "language", "kind", "command", "prefix", "existing", "context"), TRIGGERS)
def test_citation_is_recognised(marked, language, kind, command, prefix, existing, context):
    text, offset, trigger = at_cursor(marked, language)
    assert trigger is not None
    assert (trigger.kind, trigger.command, trigger.prefix, trigger.existing_keys) == (kind, command, prefix, existing)
    assert (trigger.replace_start, trigger.replace_end) == (offset - len(prefix), offset)
    assert text[trigger.replace_start : trigger.replace_end] == prefix
    assert text[trigger.context_end :].startswith(context)


NOT_TRIGGERS = [
    pytest.param("Known [START_REF] A title[END_REF] and|", "latex", id="start-ref-already-closed"),
    pytest.param("[START_REF] A title\nnext line|", "latex", id="start-ref-on-an-earlier-line"),
    pytest.param("% as in \\cite{|", "latex", id="cite-in-latex-comment"),
    pytest.param("\\verb+\\cite{x|+ and", "latex", id="cite-in-verb"),
    pytest.param("\\begin{verbatim}\n\\cite{|\n\\end{verbatim}", "latex", id="cite-in-verbatim"),
    pytest.param("\\cite{a} and|", "latex", id="after-closed-cite"),
    pytest.param("\\cite|", "latex", id="command-without-brace"),
    pytest.param("\\cite{an unclosed list of words|", "latex", id="words-are-not-keys"),
    pytest.param("\\cite{a}\n\nand {x|", "latex", id="other-brace-group"),
    pytest.param("\\cite{a,\n\nb|", "latex", id="cite-list-does-not-cross-paragraphs"),
    pytest.param("\\section{|", "latex", id="other-command"),
    pytest.param("\\cite{x\\textbf{y|", "latex", id="nested-command"),
    pytest.param("[@a] and [@b] done|", "markdown", id="closed-brackets"),
    pytest.param("mail me at a@b|", "markdown", id="email-address"),
    pytest.param("an at sign @| alone", "markdown", id="lone-at-sign"),
    pytest.param("Known [@a]\n\nnew @|", "markdown", id="in-text-needs-a-key"),
    pytest.param("`[@vas|`", "markdown", id="pandoc-in-code-span"),
    pytest.param("```\n[@vas|\n```", "markdown", id="pandoc-in-fence"),
    pytest.param("<!-- [@vas| -->", "markdown", id="pandoc-in-html-comment"),
    pytest.param("`x` {cite}`a` `b|`", "markdown", id="cursor-in-another-code-span"),
    pytest.param("Known {cite}`a b|`", "markdown", id="spaces-in-a-myst-key"),
    pytest.param("\\cite{|", "plaintext", id="latex-cite-in-plain-text"),
    pytest.param("x = '[START_REF]|'", "python", id="start-ref-in-plain-string"),
    pytest.param("@decorator|", "python", id="decorator-in-code"),
    pytest.param('"""Use @property| here."""', "python", id="python-prose-has-no-in-text-at"),
    pytest.param("cite = {|", "python", id="python-code"),
    pytest.param("```python\nx = '{cite}`a|'\n```", "markdown", id="myst-role-in-a-code-fence"),
    pytest.param("```{code-cell} ipython3\nprint('[@a|')\n```", "markdown", id="pandoc-in-a-code-cell"),
    pytest.param("```{note}|\nBody\n```", "markdown", id="directive-opening-line"),
    pytest.param('def f():\n    """Doc.\n\n    >>> g("[@a|")\n    """', "python", id="pandoc-in-a-doctest"),
    pytest.param('"""Summary.\n\nExample::\n\n    cite(":cite:`a|")\n"""', "python", id="rst-role-in-a-literal-block"),
    pytest.param("`x` :cite:`a` `b|`", "markdown", id="cursor-in-another-code-span-after-rst-role"),
]


@pytest.mark.parametrize(("marked", "language"), NOT_TRIGGERS)
def test_no_citation_here(marked, language):
    assert at_cursor(marked, language)[2] is None


@pytest.mark.parametrize("offset", [-1, 20])
def test_offset_outside_document_is_no_trigger(offset):
    assert citation_trigger_at("\\cite{", offset, "latex") is None


def test_trigger_in_a_ten_megabyte_document(hang_guard):
    """How fast: benchmarks/large_documents.py."""
    text = TRIGGER_PARAGRAPH * (10_000_000 // len(TRIGGER_PARAGRAPH)) + "Known \\cite{a,"
    with hang_guard(300):
        trigger = citation_trigger_at(text, len(text), "latex")
    assert trigger is not None and trigger.existing_keys == ("a",)
