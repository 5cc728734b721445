"""The completion gate: nothing, one line or several lines at the cursor (``|``), before any model runs."""

from __future__ import annotations

import pytest

from benchmarks.large_documents import GATE_PARAGRAPH
from galactica_lsp.analysis.gate import Gate, completion_gate, in_prose


def gate(marked: str, language: str, **options) -> Gate:
    offset = marked.index("|")
    return completion_gate(marked[:offset] + marked[offset + 1 :], offset, language, **options)


CASES = [
    # Nothing.
    pytest.param("hello wor|ld", "latex", "none", "mid-word", id="mid-word"),
    pytest.param("x = fo|o_bar", "python", "none", "mid-word", id="mid-identifier"),
    pytest.param("a |𝑥 b", "markdown", "none", "mid-word", id="before-math-alphanumeric"),
    pytest.param("see |the results", "markdown", "none", "mid-word", id="before-a-word"),
    pytest.param("see | the results", "markdown", "none", "mid-line", id="mid-line"),
    pytest.param("x = f(|a, b)", "python", "none", "mid-word", id="before-an-argument"),
    pytest.param("x = f(| + 1)", "python", "none", "mid-line", id="mid-expression"),
    pytest.param("% a note |", "latex", "none", "in LaTeX comment", id="latex-comment"),
    pytest.param(
        "\\begin{comment}\nnote |\n\\end{comment}", "latex", "none", "in LaTeX comment", id="comment-environment"
    ),
    pytest.param("<!-- a note | -->", "markdown", "none", "in HTML comment", id="html-comment"),
    pytest.param("a $x + | y$", "latex", "none", "mid-line", id="mid-line-in-math"),
    pytest.param("😀|😀 more", "markdown", "none", "mid-line", id="between-emoji"),
    # One line.
    pytest.param("The result is|", "latex", "line", "end of line", id="end-of-line"),
    pytest.param("The result is |", "markdown", "line", "end of line", id="end-of-line-after-space"),
    pytest.param("The result 😀|", "markdown", "line", "end of line", id="after-emoji"),
    pytest.param("print(f(x|))", "python", "line", "before closing characters", id="before-closing-brackets"),
    pytest.param('x = "A label|",', "python", "line", "before closing characters", id="before-quote-and-comma"),
    pytest.param("**bold|**", "markdown", "line", "before closing characters", id="before-emphasis"),
    pytest.param("\\emph{word|}.", "latex", "line", "before closing characters", id="before-brace-and-period"),
    pytest.param("a $x + |$ b", "latex", "none", "mid-line", id="text-after-math-is-mid-line"),
    pytest.param("a $x + |$", "latex", "line", "in math", id="inline-math"),
    pytest.param("a \\(x + |\\)", "latex", "line", "in math", id="paren-math"),
    pytest.param("\\begin{align}\na &= |\n\\end{align}", "latex", "line", "in math", id="align-environment"),
    pytest.param("\\[\n  a = b\n  |\\]", "latex", "line", "in math", id="indented-line-in-display-math"),
    pytest.param("\\begin{equation}|\n\\end{equation}", "latex", "line", "in math", id="closed-math-environment"),
    pytest.param("$$\nE = |\n$$", "markdown", "line", "in math", id="markdown-display-math"),
    pytest.param('"""Energy $E = x|$."""', "python", "line", "in math", id="docstring-math"),
    pytest.param(
        '"""Energy $E = |$."""', "python", "line", "before closing characters", id="pandoc-dollar-after-space"
    ),
    pytest.param("x = 1  # a comment |", "python", "line", "end of line", id="python-comment-is-prose"),
    pytest.param("x = 1  # Steps:|", "python", "line", "end of line", id="colon-in-comment-opens-nothing"),
    pytest.param("Summary:|", "markdown", "line", "end of line", id="markdown-colon"),
    pytest.param("x = 'some words|'", "python", "line", "before closing characters", id="plain-string"),
    pytest.param("A title|", "plaintext", "line", "end of line", id="plain-text"),
    # Several lines.
    pytest.param("para\n|\nmore", "markdown", "multiline", "blank line", id="blank-line"),
    pytest.param("para\n   |", "latex", "multiline", "blank line", id="whitespace-line"),
    pytest.param("|", "latex", "multiline", "blank line", id="empty-document"),
    pytest.param("def f(x):\n    |", "python", "multiline", "blank line", id="indented-block-body"),
    pytest.param(
        "\\begin{align}\n|\n\\end{align}",
        "latex",
        "line",
        "in math",
        id="blank-line-inside-align-is-still-math",
    ),
    pytest.param("def f(x):|", "python", "multiline", "after block opener", id="python-colon"),
    pytest.param("items = [|", "python", "multiline", "after block opener", id="python-open-bracket"),
    pytest.param('def f():\n    """Args:|', "python", "multiline", "after block opener", id="docstring-section"),
    pytest.param("\\begin{itemize}|", "latex", "multiline", "after block opener", id="latex-begin"),
    pytest.param("\\begin{tabular}{ll}|", "latex", "multiline", "after block opener", id="latex-begin-with-argument"),
    pytest.param("\\begin{align}|", "latex", "multiline", "after block opener", id="unclosed-math-environment"),
    pytest.param("text\n```python|", "markdown", "multiline", "after block opener", id="markdown-fence"),
    pytest.param("text\n$$|", "markdown", "multiline", "after block opener", id="markdown-open-display-math"),
    pytest.param(
        '"""Doc.\n\n>>> for x in y:|\n"""', "python", "multiline", "after block opener", id="doctest-is-python-code"
    ),
    pytest.param('"""Doc.\n\n>>> ax.set(r\'$\\pi$|\')\n"""', "python", "line", "before closing characters", id="doctest-dollar-is-no-math"),
    pytest.param("```{note}\nA note about $x|$\n```", "markdown", "line", "in math", id="math-in-a-myst-note"),
]


@pytest.mark.parametrize(("marked", "language", "mode", "reason"), CASES)
def test_gate(marked, language, mode, reason):
    assert gate(marked, language) == Gate(mode, reason)


@pytest.mark.parametrize("offset", [-1, 4])
def test_offset_outside_document_is_none(offset):
    assert completion_gate("abc", offset, "latex").mode == "none"


def test_comments_are_gated_only_in_markup():
    assert gate("% note |", "latex").mode == "none"
    assert gate("% note |", "latex", in_comments=True) == Gate("line", "end of line")
    assert gate("<!-- note | -->", "markdown", in_comments=True) == Gate("line", "before closing characters")
    assert gate("# note |", "python").mode == "line"


def test_gate_in_a_ten_megabyte_document(hang_guard):
    """How fast: benchmarks/large_documents.py."""
    text = GATE_PARAGRAPH * (10_000_000 // len(GATE_PARAGRAPH)) + "And then "
    with hang_guard(300):
        assert completion_gate(text, len(text), "markdown") == Gate("line", "end of line")


@pytest.mark.parametrize(
    "language,text,needle,expected",
    [
        ("latex", "\\documentclass{article}\n\\begin{document}\nWe show that\n\\end{document}", "show", True),
        ("latex", "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n\\end{document}", "amsmath", False),
        ("latex", "A fragment with no preamble", "fragment", True),
        ("latex", "Energy $E = mc^2$ is", "mc^2", False),
        ("latex", "Text % a remark", "remark", False),
        ("markdown", "Some `code here` and text", "here", False),
        ("markdown", "Some `code` and text", "text", True),
        ("python", "x = 1  # the count of models\n", "count", True),
        ("python", 'def f():\n    """Return the count."""\n', "count", True),
        ("python", "total = count + 1\n", "count", False),
        ("plaintext", "anything at all", "all", True),
        ("markdown", "```{note}\nA remark here.\n```", "remark", True),
        ("markdown", "```python\nA remark here.\n```", "remark", False),
        ("python", 'def f():\n    """Doc.\n\n    >>> count(1)\n    """\n', "count", False),
        ("python", 'def f():\n    """Doc.\n\n    >>> f()\n    the count\n    """\n', "count", False),
    ],
)
def test_in_prose(language, text, needle, expected):
    assert in_prose(text, text.index(needle), language) is expected


def test_in_prose_outside_the_document():
    assert not in_prose("text", 10, "latex")
