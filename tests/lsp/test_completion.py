"""Ghost text and the completion menu through the real server on the tiny model."""

from __future__ import annotations

import pytest
from lsprotocol import types

from galactica_lsp.tiny.corpus import SNIPPET_BY_NAME

from .conftest import doc_uri, end_of, open_document
from .test_behaviour import status

# (file name in the corpus, text the user has typed, the start of what the tiny model writes next)
CASES = {
    "latex": ("contact-maps.tex", "\\section{Introduction}\n", "Knowing which residues of a protein touch each other"),
    "markdown": ("bayes-notes.md", "# Bayesian inference in one page\n\n", "Bayes' theorem turns a prior into a posterior:"),
    "python": ("softmax_utils.py", "def logsumexp(z: np.ndarray) -> float:\n", '    r"""Return $\\log \\sum_i e^{z_i}$'),
}
EXTENSIONS = {"latex": "tex", "markdown": "md", "python": "py"}


def typed_prefix(language: str) -> tuple[str, str]:
    name, marker, expected = CASES[language]
    text = SNIPPET_BY_NAME[name].text
    return text[: text.index(marker) + len(marker)], expected


@pytest.mark.parametrize("language", list(CASES))
async def test_ghost_text_continues_the_document(client, language):
    text, expected = typed_prefix(language)
    uri = doc_uri(client, f"ghost.{EXTENSIONS[language]}")
    open_document(client, uri, text, language)
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=end_of(text),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
    )
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert items, "no ghost text"
    assert items[0].insert_text.startswith(expected)
    assert items[0].range.start == end_of(text)
    assert len({i.insert_text for i in items}) == len(items) <= 3


async def test_no_ghost_text_in_the_middle_of_a_word(client):
    uri = doc_uri(client, "midword.tex")
    open_document(client, uri, "The Transformer architecture", "latex")
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=6),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
    )
    assert not result.items


@pytest.mark.parametrize("language", list(CASES))
async def test_menu_completions_for_a_client_without_ghost_text(menu_client, language):
    client = menu_client
    text, expected = typed_prefix(language)
    uri = doc_uri(client, f"menu.{EXTENSIONS[language]}")
    open_document(client, uri, text, language)
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=end_of(text))
    )
    assert result.is_incomplete
    assert result.items and result.items[0].text_edit.new_text.startswith(expected)
    first_line = result.items[0].text_edit.new_text.strip().splitlines()[0]
    assert result.items[0].label.rstrip("…") == first_line[:60]


async def test_typing_the_start_of_the_ghost_text_answers_the_rest_without_the_model(client):
    text, _ = typed_prefix("latex")
    uri = doc_uri(client, "typed-ahead.tex")
    open_document(client, uri, text, "latex")

    async def ghost(at: str) -> list[str]:
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=end_of(at),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            )
        )
        return [i.insert_text for i in result.items]

    shown = (await ghost(text))[0]
    jobs = (await status(client))["lastLatencies"]
    typed = text + shown[:5]
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=typed)],
        )
    )
    assert (await ghost(typed))[0] == shown[5:]
    after = await status(client)
    assert after["lastLatencies"] == jobs, "the model ran"
