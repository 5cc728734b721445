"""Whole real-shaped documents (``fixtures/``): a MyST page, a Jupyter Book page, a pandoc paper, a SymPy-style module.

The same files are what ``benchmarks/analysis_agreement.py`` compares with markdown-it-py and docutils.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from galactica_lsp.analysis.gate import completion_gate, in_prose
from galactica_lsp.analysis.math_spans import find_math_spans, math_span_at
from galactica_lsp.analysis.regions import region_at
from galactica_lsp.analysis.triggers import citation_trigger_at

FIXTURES = Path(__file__).parent / "fixtures"


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def formulas(name: str, language: str) -> list[str]:
    return [span.latex for span in find_math_spans(read(name), language)]


def test_myst_page_reads_math_inside_note_admonition_and_theorem_directives():
    assert formulas("myst_page.md", "markdown") == [
        "Q \\in \\mathbb{R}^{n \\times d}",
        "K",
        "V",
        "\\operatorname{softmax}(QK^\\top / \\sqrt{d}) V",  # {math} role
        "1/\\sqrt{d}",  # in ```{note}
        "Q",
        "K",
        "\\operatorname{Attn}(Q, K, V) = \\operatorname{softmax}\\left(\\frac{QK^\\top}{\\sqrt{d}}\\right) V",
        "V",
        "\\kappa(q, k) = \\exp(q^\\top k / \\sqrt{d})",  # in :::{admonition}
        "\\hat f(q) = \\sum_j \\kappa(q, k_j) v_j / \\sum_j \\kappa(q, k_j)",
        "O(1)",  # in ````{prf:theorem}; the python fence inside it stays code
        "O(n^2)",  # in ```{warning}, after a code-cell whose "$5 and $6" is code
        "n",
        "\\kappa",
        "\\phi(q)^\\top \\phi(k)",
        "\\phi",
    ]


def test_jupyter_book_page_skips_code_cells_and_keeps_an_align_with_a_blank_line():
    assert formulas("jupyter_book_page.md", "markdown") == [
        "f : \\mathbb{R}^d \\to \\mathbb{R}",
        "L",
        "x_{k+1} = x_k - \\eta \\nabla f(x_k)",
        "\\eta \\le 1/L",
        "f",
        "k",  # in ```{exercise}, after its :label: option
        "f(x_k) - f^\\star \\le \\frac{L \\|x_0 - x^\\star\\|^2}{2k}",
        "f(x_{j+1}) \\le f(x_j) - \\frac{\\eta}{2} \\|\\nabla f(x_j)\\|^2",  # in ````{solution}
        "j < k",
        "\\sum_{j<k} \\|\\nabla f(x_j)\\|^2 \\le \\frac{2}{\\eta} (f(x_0) - f^\\star)",  # nested ```{math}
        "f",
        "\\mu",
        "f(y) \\ge f(x) + \\nabla f(x)^\\top (y - x) + \\frac{\\mu}{2}\\|y - x\\|^2",
        "\\eta",  # "$100 and $200" in the tip is not math
        "a &= b \\\\\n\nc &= d",
    ]


def test_pandoc_paper_prices_are_not_math_and_formulas_are():
    assert formulas("pandoc_paper.md", "markdown") == [
        "\\mathcal{L}(\\theta) = -\\sum_i \\log p_\\theta(y_i \\mid x_i)",
        "\\nabla_\\theta \\mathcal{L}",
        "\\mathbb{E}_{x \\sim p}\\left[ f(x) \\right]\n  = \\int f(x)\\, p(x)\\, dx",
        "\\sum_{\\text{$n$ odd}} a_n",
        "y",  # "costs $3" in the item before is not math, nor runs into this item
        "a",
        "b",
        "x_1",
        "f(x) = \\sum_{k=0}^{\\infty} \\frac{x^k}{k!}\n\n  = e^x",
        "\\alpha + \\beta",
        "\\gamma",
        "\\delta",
    ]


def test_sympy_style_module_reads_spaced_math_directives_and_skips_doctests():
    assert formulas("sympy_style.py", "python") == [
        "\\\\alpha",
        "\\operatorname{Re}(z) > 0",
        "\\Gamma(z) = \\int_0^\\infty t^{z-1} e^{-t} \\, dt",  # .. math ::
        "\\Gamma(z + 1) = z \\Gamma(z)",
        "\\log \\Gamma(z)",
        "\\zeta(s, a) = \\sum_{n=0}^\\infty \\frac{1}{(n + a)^s}",
        "\\zeta(s)",  # the '$x$' of the literal block above is code
        "\\zeta(1 - s)",  # the '$\zeta(s)$' of the code-block below is code
        "p(x) = \\\\sum_k a_k x^k",
        "a_n",  # the doctest's "$y$" is code
        "n",
        "x^2",
        "\\frac{1}{2}",
    ]


@pytest.mark.parametrize(
    ("needle", "kind"),
    [
        ("ax.set_xlabel", "doctest"),
        ("factorial(x - 1)", "doctest"),
        ("mp.dps", "literal"),
        ("plot(r'", "literal"),
        ("continuation lines", "doctest"),
        ("The reflection formula", "docstring"),
    ],
)
def test_sympy_style_module_code_in_docstrings(needle, kind):
    text = read("sympy_style.py")
    assert region_at(text, text.index(needle) + 2, "python").kind == kind


def test_no_formula_help_and_no_prose_in_a_doctest():
    text = read("sympy_style.py")
    inside = text.index("$\\pi$") + 2
    assert math_span_at(text, inside, "python") is None
    assert not in_prose(text, inside, "python")
    assert citation_trigger_at(text, inside, "python") is None
    end_of_prompt = text.index("\n", text.index(">>> from sympy import"))
    assert completion_gate(text, end_of_prompt, "python").reason == "end of line"
    assert in_prose(text, text.index("The reflection formula"), "python")


def test_citations_inside_directives_and_rst_roles_in_markdown_are_triggers():
    text = read("myst_page.md")
    at = text.index("bahdanau2015")
    trigger = citation_trigger_at(text, at + 3, "markdown")  # inside the ```{note}
    assert (trigger.kind, trigger.prefix, trigger.existing_keys) == ("myst", "bah", ("vaswani2017attention",))
    at = text.index("katharopoulos2020")
    trigger = citation_trigger_at(text, at + 5, "markdown")
    assert (trigger.kind, trigger.prefix, trigger.existing_keys) == ("rst", "katha", ())
    assert citation_trigger_at(text, text.index("scores = q") + 3, "markdown") is None  # the python fence


@pytest.mark.parametrize(("name", "language"), [
    ("myst_page.md", "markdown"),
    ("jupyter_book_page.md", "markdown"),
    ("pandoc_paper.md", "markdown"),
    ("sympy_style.py", "python"),
])
def test_span_at_agrees_with_the_whole_document_scan(name, language):
    text = read(name)
    found = find_math_spans(text, language)
    for offset in range(0, len(text) + 1, 3):
        expected = next((span for span in found if span.start <= offset <= span.end), None)
        assert math_span_at(text, offset, language) == expected, offset
