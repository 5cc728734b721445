"""How many suggestions: one greedy as the user types (Automatic), up to ``suggestions`` when asked (Invoked)."""

from __future__ import annotations

from lsprotocol import types

from .conftest import doc_uri, end_of, open_document
from .test_completion import typed_prefix

SUGGESTIONS = 3  # the setting's default, which the shared session keeps


async def ghost(client, uri: str, text: str, kind: types.InlineCompletionTriggerKind) -> list[str]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=end_of(text),
            context=types.InlineCompletionContext(trigger_kind=kind),
        )
    )
    return [item.insert_text for item in result.items]


async def test_automatic_ghost_text_is_one_greedy_suggestion(client):
    text, expected = typed_prefix("latex")
    uri = doc_uri(client, "automatic.tex")
    open_document(client, uri, text, "latex")
    texts = await ghost(client, uri, text, types.InlineCompletionTriggerKind.Automatic)
    assert len(texts) == 1 and texts[0].startswith(expected)


async def test_invoked_ghost_text_offers_several_distinct_suggestions_up_to_the_setting(client):
    text, _ = typed_prefix("markdown")
    uri = doc_uri(client, "invoked.md")
    open_document(client, uri, text, "markdown")
    texts = await ghost(client, uri, text, types.InlineCompletionTriggerKind.Invoked)
    assert 1 < len(texts) <= SUGGESTIONS and len(set(texts)) == len(texts)


async def test_invoking_after_an_automatic_suggestion_asks_the_model_for_more(client):
    """Typing ahead answers from what was shown; one automatic suggestion is not the several an invoke asks for."""
    text, _ = typed_prefix("python")
    uri = doc_uri(client, "cycle.py")
    open_document(client, uri, text, "python")
    one = await ghost(client, uri, text, types.InlineCompletionTriggerKind.Automatic)
    typed = text + one[0][:3]
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=typed)],
        )
    )
    assert await ghost(client, uri, typed, types.InlineCompletionTriggerKind.Automatic) == [one[0][3:]]
    several = await ghost(client, uri, typed, types.InlineCompletionTriggerKind.Invoked)
    assert 1 < len(several) <= SUGGESTIONS
