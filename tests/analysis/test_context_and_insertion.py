"""The prompt window before the cursor, and where explanations are written."""

from __future__ import annotations

from galactica_lsp.analysis.context import CHARS_PER_TOKEN, looks_binary, prompt_before
from galactica_lsp.analysis.insertion import insertion_for


def test_a_short_document_is_the_whole_prompt_and_starts_a_document():
    prompt = prompt_before("\\section{Intro}\nThe Transformer", 31, "latex", 100)
    assert prompt.text == "\\section{Intro}\nThe Transformer" and prompt.starts_document


def test_a_long_document_is_cut_at_a_line_start_within_the_budget():
    text = "".join(f"line {i} of prose\n" for i in range(10_000)) + "The end"
    prompt = prompt_before(text, len(text), "markdown", 50)
    assert len(prompt.text) <= 50 * CHARS_PER_TOKEN and prompt.text.endswith("The end")
    assert prompt.text.startswith("line ") and not prompt.starts_document


def test_latex_comment_lines_are_left_out_but_escaped_percent_is_kept():
    text = "Growth of 5\\% a year.\n% TODO: cite this\n  % another note\nThe rate"
    assert prompt_before(text, len(text), "latex", 100).text == "Growth of 5\\% a year.\nThe rate"


def test_only_text_before_the_cursor_counts():
    assert prompt_before("abc def", 3, "markdown", 10).text == "abc"


def test_binary_looking_text_is_recognised():
    assert looks_binary("PK\x03\x04\x00\x00binary")
    assert looks_binary("".join(chr(i % 20) for i in range(1000)))
    assert not looks_binary("plain text\twith tabs\nand lines\n")


LATEX = "Energy: $E = mc^2$ holds.\nNext line.\n"


def test_latex_explanations_become_comment_lines_after_the_formula_line():
    edit = insertion_for(LATEX, LATEX.index("holds"), "latex", "explain", "Energy equals mass\ntimes c squared.")
    assert edit.offset == LATEX.index("\nNext")
    assert edit.text == "\n% Galactica's explanation:\n% Energy equals mass\n% times c squared."


def test_markdown_explanations_become_a_quoted_paragraph_after_the_paragraph():
    text = "Energy $E = mc^2$ and\nmore text.\n\nNext paragraph."
    edit = insertion_for(text, text.index(" and"), "markdown", "explain", "It says E is m c squared.")
    assert edit.offset == text.index("\n\nNext")
    assert edit.text == "\n\n> Galactica's explanation:\n> It says E is m c squared."


def test_markdown_sympy_becomes_a_python_block():
    text = "Energy $E = mc^2$."
    edit = insertion_for(text, len(text), "markdown", "sympy", "from sympy import symbols")
    assert edit.text == "\n\nGalactica's SymPy translation:\n\n```python\nfrom sympy import symbols\n```"


def test_python_comments_and_docstrings_keep_their_indentation():
    code = "def f():\n    # energy $E = mc^2$\n    return 1\n"
    edit = insertion_for(code, code.index("$\n") + 1, "python", "explain", "Mass-energy.")
    assert edit.text == "\n    # Galactica's explanation:\n    # Mass-energy."
    doc = 'def f():\n    """Energy $E = mc^2$.\n\n    More.\n    """\n'
    edit = insertion_for(doc, doc.index(".\n\n"), "python", "explain", "Mass-energy.", in_docstring=True)
    assert edit.text == "\n    Galactica's explanation:\n    Mass-energy."


def test_a_one_line_docstring_gets_the_text_inside_its_quotes():
    doc = 'def f():\n    """Energy $E = mc^2$."""\n    return 1\n'
    edit = insertion_for(doc, doc.index('."""'), "python", "explain", "Mass-energy.", in_docstring=True)
    new = doc[: edit.offset] + edit.text + doc[edit.offset :]
    assert new == 'def f():\n    """Energy $E = mc^2$.\n\n    Galactica\'s explanation:\n    Mass-energy.\n    """\n    return 1\n'
    compile(new, "f.py", "exec")
