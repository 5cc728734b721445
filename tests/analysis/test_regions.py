"""Lexical regions: the comments, verbatim material, code and strings that analysis skips or reads as prose."""

from __future__ import annotations

import pytest

from galactica_lsp.analysis import python_lexer
from galactica_lsp.analysis.language import dialect
from galactica_lsp.analysis.math_spans import find_math_spans
from galactica_lsp.analysis.regions import find_regions, region_at


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("latex", "latex"),
        ("tex", "latex"),
        ("plaintex", "latex"),
        ("LaTeX", "latex"),
        ("markdown", "markdown"),
        ("quarto", "markdown"),
        ("rmd", "markdown"),
        ("python", "python"),
        ("plaintext", "text"),
        ("", "text"),
        (None, "text"),
    ],
)
def test_language_ids_map_to_dialects(language, expected):
    assert dialect(language) == expected


def kind_at(marked: str, language: str) -> str | None:
    offset = marked.index("|")
    region = region_at(marked[:offset] + marked[offset + 1 :], offset, language)
    return None if region is None else region.kind


REGIONS = [
    pytest.param("text % note|", "latex", "comment", id="latex-comment"),
    pytest.param("text |% note", "latex", None, id="before-the-percent"),
    pytest.param("50\\% of|", "latex", None, id="escaped-percent"),
    pytest.param("\\\\% note|", "latex", "comment", id="percent-after-line-break"),
    pytest.param("\\verb+a|b+ c", "latex", "verbatim", id="verb"),
    pytest.param("\\verb+ab+ c|", "latex", None, id="after-verb"),
    pytest.param("\\begin{lstlisting}\nx|\n\n\\end{lstlisting}", "latex", "verbatim", id="lstlisting"),
    pytest.param("\\begin{comment}\n\nx|\n\\end{comment}", "latex", "comment", id="comment-environment"),
    pytest.param("\\begin{verbatim}\n\\end{verbatim}\n\nx|", "latex", None, id="after-verbatim"),
    pytest.param("`co|de`", "markdown", "code", id="code-span"),
    pytest.param("`code`|", "markdown", None, id="after-code-span"),
    pytest.param("``a ` b|``", "markdown", "code", id="double-backtick-span"),
    pytest.param("```py\nx|\n\n```", "markdown", "fence", id="fence"),
    pytest.param("```py\nx = 1\n```\n\nx|", "markdown", None, id="after-fence"),
    pytest.param("<!--\n\nnote|\n-->", "markdown", "comment", id="html-comment-block"),
    pytest.param("# Title|", "markdown", None, id="heading-is-prose"),
    pytest.param("x = 1  # note|", "python", "comment", id="python-comment"),
    pytest.param('def f():\n    """Doc|."""', "python", "docstring", id="function-docstring"),
    pytest.param('class A:\n    x = 1\n    """Attribute doc|."""', "python", "docstring", id="attribute-docstring"),
    pytest.param('x = "lab|el"', "python", "string", id="plain-string"),
    pytest.param('f("""a|""")', "python", "string", id="triple-quoted-argument"),
    pytest.param('x = "label"|', "python", None, id="after-string"),
    pytest.param("x = 'unterminated|", "python", "string", id="unterminated-string"),
    pytest.param('def f():\n    """Still typing|', "python", "docstring", id="unterminated-docstring"),
    pytest.param("x = 1|", "python", None, id="python-code"),
    pytest.param("% anything|", "plaintext", None, id="plain-text-has-no-regions"),
    pytest.param("```{note}\nA no|te.\n```", "markdown", None, id="myst-note-body-is-prose"),
    pytest.param("```{note}|\nA note.\n```", "markdown", "directive", id="myst-directive-opening-line"),
    pytest.param("```{note}\n:class: dro|pdown\nA note.\n```", "markdown", "directive", id="myst-directive-option"),
    pytest.param("```{note}\nA note.\n``|`", "markdown", "directive", id="myst-directive-closing-line"),
    pytest.param(":::{note}\nA no|te.\n:::", "markdown", None, id="colon-fence-body-is-prose"),
    pytest.param("```{code-cell}\nx |= 1\n```", "markdown", "fence", id="myst-code-cell"),
    pytest.param("```{math}\nx| = 1\n```", "markdown", "fence", id="myst-math-directive"),
    pytest.param('def f():\n    """Doc.\n\n    >>> f(|)\n    """', "python", "doctest", id="doctest-line"),
    pytest.param('"""Doc.\n\n>>> f(1,\n...   2|)\n"""', "python", "doctest", id="doctest-continuation"),
    pytest.param('"""Doc.\n\n>>> f(1)\n3|\n"""', "python", "doctest", id="doctest-output"),
    pytest.param('"""Doc.\n\n>>> f(1)\n3\n\nAfter|.\n"""', "python", "docstring", id="after-a-doctest"),
    pytest.param('"""Summary.\n\nExample::\n\n    co|de\n"""', "python", "literal", id="literal-block"),
    pytest.param('"""Example|::\n\n    code\n"""', "python", "docstring", id="before-a-literal-block"),
    pytest.param('"""Doc.\n\n  >>> not a docstring|\n"""', "python", "doctest", id="indented-doctest"),
]


@pytest.mark.parametrize(("marked", "language", "kind"), REGIONS)
def test_region_at_cursor(marked, language, kind):
    assert kind_at(marked, language) == kind


def test_find_regions_lists_each_language_in_order():
    assert [r.kind for r in find_regions("a % b\n\\verb|x| c", "latex")] == ["comment", "verbatim"]
    assert [r.kind for r in find_regions("`a` and\n```\nb\n```\n<!-- c -->", "markdown")] == [
        "code",
        "fence",
        "comment",
    ]
    assert [r.kind for r in find_regions('"""d"""\nx = "s"  # c\n', "python")] == ["docstring", "string", "comment"]
    assert [r.kind for r in find_regions('"""d\n\n>>> x\n"""\n', "python")] == ["docstring"]  # docstrings come whole
    assert [(r.kind, r.info) for r in find_regions("```{note}\n`a`\n```\n```py\nb\n```", "markdown")] == [
        ("directive", "{note}"),
        ("code", "`"),
        ("directive", "{note}"),
        ("fence", "py"),
    ]
    assert find_regions("% x", "plaintext") == []


PYTHON_SOURCES = [
    'def f():\n    """Energy $E$ and :math:`\\alpha`."""\n    return g("$x$")  # $c$\n',
    'class A:\n    x = 1\n    """Attribute $a$."""\n\n    def m(self):\n        r"""$b$ here.\n\n        .. math::\n\n'
    '           y\n        """\n',
    "s = '''$no$'''\nt = rb'$no$' + 'it''s'  # $yes$\n",
    '"""Module $m$."""\n\nimport os\n# $c$ and "quotes" here\n',
]


@pytest.mark.parametrize("source", PYTHON_SOURCES)
def test_python_regular_expression_scan_agrees_with_tokenize(monkeypatch, source):
    python_lexer.regions.cache_clear()
    with_tokenize = find_math_spans(source, "python")
    kinds = [region.kind for region in python_lexer.regions(source)]
    monkeypatch.setattr(python_lexer, "TOKENIZE_LIMIT", 0)
    python_lexer.regions.cache_clear()
    try:
        assert find_math_spans(source, "python") == with_tokenize
        assert [region.kind for region in python_lexer.regions(source)] == kinds
    finally:
        python_lexer.regions.cache_clear()


def test_a_docstring_first_line_is_as_indented_as_the_rest():
    # inspect.cleandoc (and Sphinx) strip the margin of the lines after the first: here the
    # "code" line ends up unindented, so it is a paragraph, not a literal block.
    source = 'def f():\n    """Example::\n\n    code\n    """\n'
    assert region_at(source, source.index("code"), "python").kind == "docstring"
    source = 'def f():\n    """Summary.\n\n    Example::\n\n        code\n    """\n'
    assert region_at(source, source.index("code"), "python").kind == "literal"
