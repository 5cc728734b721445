"""Hover explanations on every math form, code actions and the commands behind them."""

from __future__ import annotations

import ast

import pytest
from lsprotocol import types

from galactica_lsp.tiny.corpus import FORMULA_BY_LATEX

from .conftest import doc_uri, open_document

ENERGY = FORMULA_BY_LATEX["E = mc^2"]
FORMS = [
    ("latex", "Einstein wrote $E = mc^2$ in 1905."),
    ("latex", "Einstein wrote \\(E = mc^2\\) in 1905."),
    ("latex", "Einstein wrote $$E = mc^2$$ in 1905."),
    ("latex", "Einstein wrote \\[E = mc^2\\] in 1905."),
    ("latex", "Einstein wrote\n\\begin{equation}\nE = mc^2\n\\end{equation}\nin 1905."),
    ("latex", "Einstein wrote\n\\begin{align*}\nE = mc^2\n\\end{align*}\nin 1905."),
    ("markdown", "Einstein wrote $E = mc^2$ in 1905."),
    ("markdown", "Einstein wrote\n\n```math\nE = mc^2\n```\n"),
    ("markdown", "Einstein wrote $`E = mc^2`$ in 1905."),
    ("python", 'def energy(m):\n    """Return $E = mc^2$ for a mass."""\n'),
    ("python", 'def energy(m):\n    """Return :math:`E = mc^2` for a mass."""\n'),
    ("python", "# energy: $E = mc^2$\n"),
]
EXT = {"latex": "tex", "markdown": "md", "python": "py"}


def position_of(text: str, needle: str = "mc^2") -> types.Position:
    offset = text.index(needle)
    line = text.count("\n", 0, offset)
    return types.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


@pytest.mark.parametrize("language,text", FORMS, ids=[f"{lang}:{t.split('wrote')[-1][:14]!r}" for lang, t in FORMS])
async def test_hover_explains_the_formula(client, language, text):
    uri = doc_uri(client, f"hover.{EXT[language]}")
    open_document(client, uri, text, language)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position_of(text))
    )
    assert hover is not None
    assert ENERGY.explanation.strip() in hover.contents.value
    assert "check it" in hover.contents.value  # says it is model output


async def test_no_hover_outside_math(client):
    text = "Einstein wrote $E = mc^2$ in 1905."
    uri = doc_uri(client, "nohover.tex")
    open_document(client, uri, text, "latex")
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri),
                          position=position_of(text, "1905"))
    )
    assert hover is None


def command_of(action) -> types.Command:
    """The command of a code action.

    lsprotocol's converter (in the test client) reads ``(Command | CodeAction)[]`` as bare Commands
    whose ``command`` is the repr of the nested command object; real clients read the JSON itself.
    """
    if isinstance(action, types.CodeAction):
        return action.command
    if action.arguments is None and action.command.startswith("{"):
        raw = ast.literal_eval(action.command)
        return types.Command(title=raw["title"], command=raw["command"], arguments=raw.get("arguments"))
    return action


async def code_actions(client, uri, text, language, needle="mc^2", trigger=types.CodeActionTriggerKind.Invoked):
    open_document(client, uri, text, language)
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(position_of(text, needle), position_of(text, needle)),
            context=types.CodeActionContext(diagnostics=[], trigger_kind=trigger),
        )
    )


async def test_code_actions_on_a_formula(client):
    actions = await code_actions(client, doc_uri(client, "actions.tex"), "Einstein wrote $E = mc^2$ in 1905.", "latex")
    titles = [a.title for a in actions]  # code actions (a client may read them as bare commands: same titles)
    assert titles == [
        "Galactica: Explain formula",
        "Galactica: Explain step by step",
        "Galactica: Translate formula to Python (SymPy)",
    ]


@pytest.mark.parametrize(
    "language,text,needle,offered",
    [
        ("latex", "\\documentclass{article}\n\\begin{document}\nEinstein wrote in 1905.\n\\end{document}\n", "in 1905", True),
        ("latex", "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\nText.\n\\end{document}\n",
         "amsmath", False),
        ("latex", "Text. % a comment here\n", "comment", False),
        ("markdown", "# Notes\n\nLarge language models are\n", "models", True),
        ("markdown", "```python\nx = 1\n```\n", "x = 1", False),
        ("python", "def f(x):\n    \"\"\"Large language models are.\"\"\"\n    return x\n", "models", True),
        ("python", "def f(x):\n    return x + 1\n", "x + 1", False),
    ],
    ids=["latex-prose", "latex-preamble", "latex-comment", "markdown-prose", "markdown-code", "python-docstring",
         "python-code"],
)
async def test_citation_and_paragraph_actions_only_in_prose(client, language, text, needle, offered):
    uri = doc_uri(client, f"prose.{EXT[language]}")
    titles = [a.title for a in await code_actions(client, uri, text, language, needle)]
    prose_actions = ["Galactica: Suggest citations here", "Galactica: Continue paragraph"]
    assert titles == (prose_actions if offered else [])


async def test_prose_actions_are_not_offered_to_the_light_bulb(client):
    """An automatic request (the editor's light bulb) gets formula actions only, not a bulb on every line."""
    text = "Large language models are useful. Einstein wrote $E = mc^2$ in 1905."
    uri = doc_uri(client, "bulb.tex")
    prose = await code_actions(client, uri, text, "latex", "useful", types.CodeActionTriggerKind.Automatic)
    formula = await code_actions(client, uri, text, "latex", "mc^2", types.CodeActionTriggerKind.Automatic)
    assert not prose
    assert [a.title for a in formula][:1] == ["Galactica: Explain formula"]


@pytest.mark.parametrize(
    "mode,expected",
    [("explain", ENERGY.explanation.strip()), ("work", "</work>"), ("sympy", "from sympy import")],
)
async def test_explain_command_inserts_the_answer(client, mode, expected):
    text = "Einstein wrote $E = mc^2$ in 1905.\nNext line.\n"
    uri = doc_uri(client, "explain.tex")
    actions = await code_actions(client, uri, text, "latex")
    commands = [command_of(a) for a in actions]
    command = next(c for c in commands if c.arguments[0].get("mode") == mode)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
    )
    assert expected in result["text"] and result["inserted"]
    edit = client.applied_edits[-1].changes[uri][0]
    assert edit.range.start == types.Position(line=0, character=len("Einstein wrote $E = mc^2$ in 1905."))
    assert all(line.startswith("%") for line in edit.new_text.strip("\n").splitlines())  # LaTeX comments


async def test_explain_command_on_nothing_is_a_clear_error(client):
    uri = doc_uri(client, "plain.tex")
    open_document(client, uri, "No formula here.", "latex")
    with pytest.raises(Exception, match="no formula there"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="galactica.explainFormula",
                arguments=[{"uri": uri,
                            "range": {"start": {"line": 0, "character": 3}, "end": {"line": 0, "character": 3}}}],
            )
        )


async def test_the_ctranslate2_engine_explains_the_same_and_says_it_served(ct2_client):
    text = FORMS[0][1]
    open_document(ct2_client, "file:///tmp/ct2.tex", text, "latex")
    hover = await ct2_client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri="file:///tmp/ct2.tex"), position=position_of(text))
    )
    assert hover is not None and ENERGY.explanation.strip() in hover.contents.value
    status = await ct2_client.workspace_execute_command_async(types.ExecuteCommandParams(command="galactica.status"))
    assert status["engine"]["name"] == "ctranslate2" and status["engine"]["last"] == "ctranslate2"
    assert any(getattr(s, "engine", None) == "ctranslate2" or (isinstance(s, dict) and s.get("engine") == "ctranslate2")
               for s in ct2_client.status)
