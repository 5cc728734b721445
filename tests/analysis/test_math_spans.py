"""Math spans in LaTeX, Markdown and Python: what is a formula, and what only looks like one."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from benchmarks.large_documents import NO_BLANK_LINES, PARAGRAPHS
from galactica_lsp.analysis.math_spans import MathSpan, find_math_spans, math_span_at


def spans(text: str, language: str) -> list[tuple[str, str]]:
    return [(span.kind, span.latex) for span in find_math_spans(text, language)]


LATEX = [
    pytest.param("a $x$ b", [("inline-dollar", "x")], id="inline-dollar"),
    pytest.param(r"a \(x\) b", [("paren", "x")], id="paren"),
    pytest.param("a $$x$$ b", [("display-dollar", "x")], id="display-dollar"),
    pytest.param(r"a \[x\] b", [("bracket", "x")], id="bracket"),
    pytest.param("$a$$b$", [("inline-dollar", "a"), ("inline-dollar", "b")], id="adjacent-inline-dollars"),
    pytest.param(r"costs \$5 and \$6", [], id="escaped-dollars-are-not-math"),
    pytest.param(r"a \\$x$ b", [("inline-dollar", "x")], id="dollar-after-line-break-is-real"),
    pytest.param(r"$\$5$", [("inline-dollar", r"\$5")], id="escaped-dollar-inside-math"),
    pytest.param("a $x\nb$ c", [("inline-dollar", "x\nb")], id="inline-math-spans-a-line-break"),
    pytest.param("a $x\n\nb$ c", [], id="blank-line-ends-inline-math"),
    pytest.param("cost $5 and\n\nmore $y$", [("inline-dollar", "y")], id="unclosed-dollar-stops-at-paragraph"),
    pytest.param("the end $x", [], id="unclosed-dollar-at-end"),
    pytest.param("$$\nx\n$$", [("display-dollar", "x")], id="display-dollars-span-lines"),
    pytest.param(
        "\\begin{align*}\na &= b \\\\\nc &= d\n\\end{align*}",
        [("environment", "a &= b \\\\\nc &= d")],
        id="align-star",
    ),
    pytest.param(
        "\\begin{equation}\nf = \\begin{cases} 1 & x > 0 \\\\ 0 \\end{cases}\n\\end{equation}",
        [("environment", "f = \\begin{cases} 1 & x > 0 \\\\ 0 \\end{cases}")],
        id="cases-nested-in-equation-is-one-span",
    ),
    pytest.param(
        "\\[ \\begin{aligned} a &= b \\end{aligned} \\]",
        [("bracket", "\\begin{aligned} a &= b \\end{aligned}")],
        id="aligned-inside-brackets-is-body",
    ),
    pytest.param(
        "\\begin{alignat}{2} a &= b \\end{alignat}", [("environment", "a &= b")], id="alignat-columns-not-body"
    ),
    pytest.param("\\begin{math}x\\end{math}", [("environment", "x")], id="math-environment"),
    pytest.param("\\begin {gather} x \\end{gather}", [("environment", "x")], id="space-before-environment-name"),
    pytest.param("\\begin{align} x \\end{align*}", [], id="starred-end-does-not-close-unstarred"),
    pytest.param("% $x$ in a comment\n$y$", [("inline-dollar", "y")], id="math-in-comment-is-skipped"),
    pytest.param("50\\% $b$", [("inline-dollar", "b")], id="escaped-percent-is-no-comment"),
    pytest.param("a \\\\% $c$\n$d$", [("inline-dollar", "d")], id="percent-after-line-break-is-comment"),
    pytest.param("$a % comment $b$\n+ c$", [("inline-dollar", "a % comment $b$\n+ c")], id="comment-inside-math"),
    pytest.param("\\begin{verbatim}\n$a$\n\\end{verbatim} $b$", [("inline-dollar", "b")], id="verbatim"),
    pytest.param("\\begin{Verbatim}[frame=single]\n$a$\n\\end{Verbatim}", [], id="fancyvrb-verbatim"),
    pytest.param("\\begin{lstlisting}\n$a$\n\n$b$\n\\end{lstlisting}$c$", [("inline-dollar", "c")], id="lstlisting"),
    pytest.param("\\begin{minted}{python}\nx = '$a$'\n\\end{minted}", [], id="minted"),
    pytest.param("\\begin{comment}\n$a$\n\\end{comment}", [], id="comment-environment"),
    pytest.param("\\verb|$x$| and $y$", [("inline-dollar", "y")], id="verb"),
    pytest.param("\\verb*+$x$+ $y$", [("inline-dollar", "y")], id="verb-star-other-delimiter"),
    pytest.param("% \\begin{verbatim}\n$a$", [("inline-dollar", "a")], id="commented-verbatim-begin-is-ignored"),
    pytest.param("\\begin{verbatim}\n% $a$\n\\end{verbatim}$b$", [("inline-dollar", "b")], id="percent-in-verbatim"),
    pytest.param("\\begin{verbatim}\n$a$\n", [], id="unclosed-verbatim-runs-to-end"),
    pytest.param(
        "𝑥 $𝑥^2$ 😀 $\\alpha$ 😀", [("inline-dollar", "𝑥^2"), ("inline-dollar", "\\alpha")], id="astral-chars"
    ),
    pytest.param(
        "$\\sum_{\\text{$n$ odd}} a_n$", [("inline-dollar", "\\sum_{\\text{$n$ odd}} a_n")], id="dollar-inside-text"
    ),
    pytest.param(
        "$a \\mbox{if $b$} c$ and $\\textbf{x}$",
        [("inline-dollar", "a \\mbox{if $b$} c"), ("inline-dollar", "\\textbf{x}")],
        id="dollar-inside-mbox",
    ),
    pytest.param("$\\text{a} + b$", [("inline-dollar", "\\text{a} + b")], id="text-group-without-dollar"),
    pytest.param("$\\text{open $x$", [("inline-dollar", "\\text{open")], id="unclosed-text-group-is-no-group"),
    pytest.param(
        "\\begin{equation}\n  a = b\n\n  + c\n\\end{equation}",
        [("environment", "a = b\n\n  + c")],
        id="equation-holding-a-blank-line",
    ),
    pytest.param(
        "\\begin{equation}\na\n\n\\begin{align}\nb\n\\end{align}",
        [("environment", "b")],
        id="unclosed-equation-ends-at-the-next-display-environment",
    ),
    pytest.param(
        "\\begin{equation}\na \\end{cases}\n\\end{equation} $c$", [("inline-dollar", "c")], id="mismatched-inner-end"
    ),
    pytest.param(
        "\\begin{equation} % \\end{equation}\na\n\\end{equation}",
        [("environment", "% \\end{equation}\na")],
        id="end-in-a-comment-does-not-close",
    ),
]


@pytest.mark.parametrize(("text", "expected"), LATEX)
def test_latex_math_is_found_by_its_delimiters(text, expected):
    assert spans(text, "latex") == expected


MARKDOWN = [
    pytest.param("a $x$ b", [("inline-dollar", "x")], id="inline-dollar"),
    pytest.param("$20,000 and $30,000", [], id="prices-are-not-math"),
    pytest.param("$ x$", [], id="space-after-opening-dollar"),
    pytest.param("$x $", [], id="space-before-closing-dollar"),
    pytest.param("$x$5", [], id="digit-after-closing-dollar"),
    pytest.param("$x$, $y$.", [("inline-dollar", "x"), ("inline-dollar", "y")], id="punctuation-after-closing-dollar"),
    pytest.param(r"\$x\$", [], id="escaped-dollars"),
    pytest.param("$$\nE = mc^2\n$$", [("display-dollar", "E = mc^2")], id="display-dollars-span-lines"),
    pytest.param("$$\na\n\nb\n$$", [], id="display-dollars-do-not-cross-blank-line"),
    pytest.param("$$ x $$", [("display-dollar", "x")], id="display-dollars-allow-spaces"),
    pytest.param("$`x^2`$", [("gfm-inline", "x^2")], id="github-inline"),
    pytest.param("```math\nE = mc^2\n```", [("gfm-block", "E = mc^2")], id="github-math-fence"),
    pytest.param("```math\nE = mc^2\n", [("gfm-block", "E = mc^2")], id="unclosed-math-fence-runs-to-end"),
    pytest.param("{math}`x^2`", [("myst-role", "x^2")], id="myst-role"),
    pytest.param("```{math}\n:label: eq1\n\nx^2\n```", [("myst-directive", "x^2")], id="myst-directive-with-option"),
    pytest.param(":::{math}\ny\n:::", [("myst-directive", "y")], id="myst-colon-directive"),
    pytest.param(r"\(x\) and \[y\]", [("paren", "x"), ("bracket", "y")], id="backslash-delimiters"),
    pytest.param("\\begin{align}\na &= b\n\\end{align}", [("environment", "a &= b")], id="latex-environment"),
    pytest.param("`$x$` and ``$y$``", [], id="code-spans"),
    pytest.param("```python\nx = '$a$'\n```\n$b$", [("inline-dollar", "b")], id="code-fence"),
    pytest.param("~~~\n$a$\n\n$b$\n~~~", [], id="tilde-fence-with-blank-line"),
    pytest.param("- item\n\n    ```\n    $a$\n    ```", [], id="fence-indented-in-list"),
    pytest.param("> ```\n> $a$\n> ```", [], id="fence-in-block-quote"),
    pytest.param("<!-- $a$ -->\n$b$", [("inline-dollar", "b")], id="html-comment"),
    pytest.param("<!--\n$a$\n\n$b$\n-->", [], id="html-comment-block-with-blank-line"),
    pytest.param("text <!-- $a$ --> $b$", [("inline-dollar", "b")], id="inline-html-comment"),
    pytest.param("# Cost $5\nWe pay $x$.", [("inline-dollar", "x")], id="heading-line-ends-inline-math"),
    pytest.param("a ` b $x$", [("inline-dollar", "x")], id="unmatched-backtick-is-literal"),
    pytest.param("𝑥 $𝑥^2$ 😀 and 😀 $y$", [("inline-dollar", "𝑥^2"), ("inline-dollar", "y")], id="astral-chars"),
    pytest.param(
        "```{note}\nThe energy $E = mc^2$ holds.\n```", [("inline-dollar", "E = mc^2")], id="myst-note-body-is-prose"
    ),
    pytest.param(
        "```{exercise}\n:label: ex-pythagoras\n\nShow that $a^2 + b^2 = c^2$.\n```",
        [("inline-dollar", "a^2 + b^2 = c^2")],
        id="myst-exercise-with-options",
    ),
    pytest.param(
        "```{prf:theorem} Cauchy for $f$\n---\nlabel: cauchy\n---\nIf $f$ is holomorphic then\n$$\n\\oint f = 0\n$$\n```",
        [("inline-dollar", "f"), ("display-dollar", "\\oint f = 0")],
        id="myst-theorem-with-yaml-options",
    ),
    pytest.param(":::{note}\nColon $y$ here.\n:::\n$z$", [("inline-dollar", "y"), ("inline-dollar", "z")], id="colon-note"),
    pytest.param(
        "````{note}\nBefore $a$.\n```python\nx = '$b$'\n```\nAfter $c$.\n````\n$d$",
        [("inline-dollar", "a"), ("inline-dollar", "c"), ("inline-dollar", "d")],
        id="code-fence-nested-in-a-directive",
    ),
    pytest.param(
        "::::{tip}\n:::{note}\nInner $a$.\n:::\nOuter $b$.\n::::",
        [("inline-dollar", "a"), ("inline-dollar", "b")],
        id="nested-colon-directives",
    ),
    pytest.param("```{code-cell} ipython3\nx = '$a$'\n```", [], id="myst-code-cell-is-code"),
    pytest.param("```{code-block} python\nx = '$a$'\n```", [], id="myst-code-block-is-code"),
    pytest.param("```python\nx = '$a$'\n\n$b$\n```", [], id="plain-language-fence-stays-code"),
    pytest.param("```{note}\nUnclosed $a$ note\n\n$b$", [("inline-dollar", "a"), ("inline-dollar", "b")], id="open-note"),
    pytest.param("The price is $20,000 and $30,000 today.", [], id="prices-in-a-sentence"),
    pytest.param("It costs $20,000 and $30,000 and $x$.", [("inline-dollar", "x")], id="prices-then-math"),
    pytest.param("$a$5 and $b$", [("inline-dollar", "b")], id="failed-closer-is-not-skipped"),
    pytest.param("- item $a\n- item b$", [], id="inline-math-does-not-run-across-list-items"),
    pytest.param("1. first $a\n2. second b$", [], id="nor-across-numbered-items"),
    pytest.param("- item $a$\n  continued $b$", [("inline-dollar", "a"), ("inline-dollar", "b")], id="item-continuation"),
    pytest.param("$$\na\n+ b\n- c\n$$", [("display-dollar", "a\n+ b\n- c")], id="display-lines-starting-with-signs"),
    pytest.param(
        "$\\sum_{\\text{$n$ odd}} a_n$", [("inline-dollar", "\\sum_{\\text{$n$ odd}} a_n")], id="dollar-inside-text"
    ),
    pytest.param(
        "\\begin{equation}\na\n\nb\n\\end{equation}", [("environment", "a\n\nb")], id="equation-holding-a-blank-line"
    ),
    pytest.param(
        "```{math}\n:label: eq1\nx^2\n```\n{math}`y`",
        [("myst-directive", "x^2"), ("myst-role", "y")],
        id="myst-math-directive-is-math",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MARKDOWN)
def test_markdown_math_follows_pandoc_and_github_and_myst(text, expected):
    for language in ("markdown", "quarto"):
        assert spans(text, language) == expected


PYTHON = [
    pytest.param('def f():\n    """Energy $E = mc^2$."""\n', [("inline-dollar", "E = mc^2")], id="docstring-dollar"),
    pytest.param('"""Angle :math:`\\alpha`."""\n', [("rst-role", "\\alpha")], id="docstring-math-role"),
    pytest.param(
        'def f():\n    """Doc.\n\n    .. math::\n       :label: eq\n\n'
        '       a = b\n\n       c\n\n    After $e$.\n    """\n',
        [("rst-directive", "a = b\n\n       c"), ("inline-dollar", "e")],
        id="docstring-math-directive",
    ),
    pytest.param('"""\n.. math:: E = mc^2\n"""\n', [("rst-directive", "E = mc^2")], id="directive-argument"),
    pytest.param('"""Display\n\n$$\nx\n$$\n"""\n', [("display-dollar", "x")], id="docstring-display-dollars"),
    pytest.param("x = 1  # with $x$ inside\n", [("inline-dollar", "x")], id="comment-dollar"),
    pytest.param("# cost $5\n# and $6\n", [], id="comment-lines-are-separate"),
    pytest.param('label = "$x$"\n', [], id="plain-string-is-code"),
    pytest.param('call("""$x$""")\n', [], id="triple-quoted-argument-is-code"),
    pytest.param("x = 1\n.. math:: E\n", [], id="directive-outside-docstring"),
    pytest.param('def f():\n    r"""Typing $a$ and :math:`b', [("inline-dollar", "a")], id="unterminated-docstring"),
    pytest.param('"""``$x$`` is code, $y$ is math."""', [("inline-dollar", "y")], id="docstring-inline-literal"),
    pytest.param(
        'if x:\n  a\n b\n"""$z$"""\n# $w$\n', [("inline-dollar", "z"), ("inline-dollar", "w")], id="bad-dedent"
    ),
    pytest.param(
        'def f():\n    """Doc.\n\n    .. math ::\n\n        x^2 + y\n\n    After.\n    """\n',
        [("rst-directive", "x^2 + y")],
        id="math-directive-with-a-space-before-the-colons",
    ),
    pytest.param('"""\n.. math :: E = mc^2\n"""\n', [("rst-directive", "E = mc^2")], id="spaced-directive-argument"),
    pytest.param(
        'def f():\n    """Label $x$.\n\n    >>> ax.set_xlabel(r\'$\\pi$ rad\')\n    >>> g(1,\n    ...   \'$y$\')\n'
        "    '$out$'\n\n    Then $z$.\n    \"\"\"\n",
        [("inline-dollar", "x"), ("inline-dollar", "z")],
        id="doctest-lines-are-code",
    ),
    pytest.param(
        '"""Example::\n\n    plot(r\'$a$\')\n\n    more(\'$b$\')\n\nText $c$.\n"""\n',
        [("inline-dollar", "c")],
        id="literal-block-is-code",
    ),
    pytest.param(
        '"""Summary.\n\nShow $a$::\n\n    $b$\n"""\n', [("inline-dollar", "a")], id="paragraph-before-a-literal-block-is-prose"
    ),
    pytest.param(
        '"""\n.. code-block:: python\n   :linenos:\n\n   s = \'$a$\'\n\n$c$\n"""\n',
        [("inline-dollar", "c")],
        id="code-block-directive-is-code",
    ),
    pytest.param(
        '"""\n```python\n>>> x = 1\n\n$a$\n```\n\n$b$\n"""\n', [("inline-dollar", "b")], id="markdown-fence-in-a-docstring"
    ),
]


@pytest.mark.parametrize(("text", "expected"), PYTHON)
def test_python_math_lives_in_docstrings_and_comments(text, expected):
    assert spans(text, "python") == expected


def test_unknown_language_has_no_math():
    assert find_math_spans("a $x$ b", "plaintext") == []
    assert math_span_at("a $x$ b", 3, "plaintext") is None


def test_span_offsets_delimit_opening_body_and_closing():
    text = "Let $x^2$ be \\begin{align*} a \\end{align*}."
    inline, environment = find_math_spans(text, "latex")
    assert (text[inline.start : inline.end], text[inline.body_start : inline.body_end]) == ("$x^2$", "x^2")
    assert not inline.display and inline.environment is None
    assert text[environment.start : environment.end] == "\\begin{align*} a \\end{align*}"
    assert environment.display and environment.environment == "align*"
    assert environment.latex == "a"


def test_offsets_count_code_points_not_utf16_units():
    text = "😀😀 $𝑥$"
    (span,) = find_math_spans(text, "markdown")
    assert (span.start, span.body_start, span.end) == (3, 4, 6)


ALL_CASES = [(param.values[0], "latex") for param in LATEX]
ALL_CASES += [(param.values[0], "markdown") for param in MARKDOWN]
ALL_CASES += [(param.values[0], "python") for param in PYTHON]


@pytest.mark.parametrize(("text", "language"), ALL_CASES)
def test_spans_are_sorted_disjoint_and_consistent(text, language):
    found = find_math_spans(text, language)
    for span in found:
        assert span.start <= span.body_start <= span.body_end <= span.end
        assert span.body == text[span.body_start : span.body_end]
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


@pytest.mark.parametrize(("text", "language"), ALL_CASES)
def test_span_at_agrees_with_the_whole_document_scan(text, language):
    found = find_math_spans(text, language)
    for offset in range(len(text) + 1):
        expected = next((span for span in found if span.start <= offset <= span.end), None)
        assert math_span_at(text, offset, language) == expected, offset


def test_span_at_an_offset_inside_and_at_the_delimiters():
    text = "a $x$ b"
    assert math_span_at(text, 1, "latex") is None
    assert math_span_at(text, 2, "latex").latex == "x"
    assert math_span_at(text, 5, "latex").latex == "x"
    assert math_span_at(text, 6, "latex") is None


def test_span_at_outside_the_document_is_none():
    assert math_span_at("$x$", -1, "latex") is None
    assert math_span_at("$x$", 4, "latex") is None


def test_span_at_far_below_an_open_verbatim_sees_it():
    text = "\\begin{verbatim}\n" + "code $x$\n\n" * 50 + "\\end{verbatim}\n\n$y$"
    assert math_span_at(text, text.index("$x$") + 1, "latex") is None
    assert math_span_at(text, len(text) - 1, "latex").latex == "y"


def test_span_at_far_below_an_open_fence_sees_it():
    text = "```\n" + "code $x$\n\n" * 50 + "```\n\n$y$"
    assert math_span_at(text, text.index("$x$") + 1, "markdown") is None
    assert math_span_at(text, len(text) - 1, "markdown").latex == "y"


def test_span_at_in_a_math_directive_with_blank_lines():
    text = '"""\n.. math::\n\n   a\n\n   b\n\nprose\n"""\n'
    span = math_span_at(text, text.index("b"), "python")
    assert span is not None and span.kind == "rst-directive" and span.latex == "a\n\n   b"


def test_math_span_is_hashable_and_compares_by_value():
    a, b = find_math_spans("$x$", "latex")[0], find_math_spans("$x$", "latex")[0]
    assert a == b and hash(a) == hash(b) and isinstance(a, MathSpan)


BINARY = bytes(random.Random(7).randrange(256) for _ in range(200_000)).decode("latin-1")


@pytest.mark.parametrize("language", ["latex", "markdown", "python", "text"])
def test_binary_garbage_does_not_raise(language):
    find_math_spans(BINARY, language)
    for offset in (0, 1000, len(BINARY) // 2, len(BINARY)):
        math_span_at(BINARY, offset, language)


@pytest.mark.parametrize("language", ["latex", "markdown", "python"])
def test_lone_surrogates_and_nul_bytes_do_not_raise(language):
    text = "a $\ud800$ b \x00 $x$ \udfff" + '"""$y$\x00'
    find_math_spans(text, language)
    math_span_at(text, 3, language)


@pytest.mark.parametrize("language", ["latex", "markdown", "python"])
def test_ten_megabyte_document_answers_as_three_paragraphs_do(language, hang_guard):
    """The span at a cursor is the one a three-paragraph document has there (how fast: benchmarks/large_documents.py)."""
    paragraph = PARAGRAPHS[language]
    copies = 10_000_000 // len(paragraph)
    text, small = paragraph * copies, paragraph * 3
    with hang_guard(300):
        for offset in (len(text) // 2, len(text) - 3, 10):
            copy, local = divmod(offset, len(paragraph))
            like = 0 if copy == 0 else 2 if copy == copies - 1 else 1  # first, last or a middle paragraph
            found = math_span_at(text, offset, language)
            expected = math_span_at(small, local + like * len(paragraph), language)
            shift = (copy - like) * len(paragraph)
            assert found == (None if expected is None else dataclasses.replace(
                expected, start=expected.start + shift, end=expected.end + shift,
                body_start=expected.body_start + shift, body_end=expected.body_end + shift))
        assert len(find_math_spans(text, language)) == copies * len(find_math_spans(paragraph, language))


@pytest.mark.parametrize("language", ["latex", "markdown", "python"])
def test_ten_megabyte_paragraph_without_blank_lines(language, hang_guard):
    """Answered: no span, or one at the cursor (how fast: benchmarks/large_documents.py)."""
    text = NO_BLANK_LINES
    offset = len(text) // 2
    with hang_guard(300):
        found = math_span_at(text, offset, language)
    assert found is None or (isinstance(found, MathSpan) and found.start <= offset <= found.end)
