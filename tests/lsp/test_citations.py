"""Citation items at every trigger form, with confidence and honesty about made-up papers."""

from __future__ import annotations

import pytest
from lsprotocol import types

from .conftest import doc_uri, end_of, open_document

VASWANI = "Attention is All you Need, Vaswani"

TRIGGERS = [
    # (language, document text up to the cursor, what the first item inserts)
    ("latex", "The Transformer architecture [START_REF]", f" {VASWANI}[END_REF]"),
    ("markdown", "The Transformer architecture [START_REF]", f" {VASWANI}[END_REF]"),
    ("latex", "The Transformer architecture \\cite{", "vaswani:attention"),
    ("latex", "The Transformer architecture \\citep[see][p.~3]{", "vaswani:attention"),
    ("latex", "The Transformer architecture \\parencite{", "vaswani:attention"),
    ("latex", "The Transformer architecture \\cite{hochreiter1997,", "vaswani:attention"),
    ("markdown", "The Transformer architecture [@", "vaswani:attention"),
    ("markdown", "The Transformer architecture {cite}`", "vaswani:attention"),
]


async def complete(client, uri, text, language):
    open_document(client, uri, text, language)
    return await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=end_of(text))
    )


@pytest.mark.parametrize("language,text,inserted", TRIGGERS, ids=[t[1].split("architecture ")[1] for t in TRIGGERS])
async def test_citation_items_at_each_trigger(client, language, text, inserted):
    ext = "tex" if language == "latex" else "md"
    result = await complete(client, doc_uri(client, f"cite.{ext}"), text, language)
    assert result.is_incomplete
    first = result.items[0]
    assert first.label == VASWANI
    assert first.text_edit.new_text == inserted
    assert first.detail.endswith("% sure")  # confident: not marked as made up
    assert first.kind == types.CompletionItemKind.Reference


async def test_a_begun_title_is_continued(client):
    result = await complete(client, doc_uri(client, "begun.tex"), "The Transformer architecture [START_REF] Attention is", "latex")
    assert result.items[0].label == VASWANI


async def test_unsure_suggestions_are_marked_as_likely_made_up(client):
    result = await complete(client, doc_uri(client, "unsure.md"), "Quantum zebra chromodynamics of teapots [START_REF]",
                            "markdown")
    assert result.items, "the model always suggests something"
    assert all("likely made up" in item.detail for item in result.items)
    assert "Likely made up" in result.items[0].documentation.value


async def test_several_distinct_papers_for_a_shared_context(client):
    result = await complete(client, doc_uri(client, "llm.md"), "Large language models [START_REF]", "markdown")
    labels = [item.label for item in result.items]
    assert len(labels) == len(set(labels)) >= 3


async def test_suggest_citations_command(client):
    text = "The Transformer architecture"
    uri = doc_uri(client, "cmd.tex")
    open_document(client, uri, text, "latex")
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="galactica.suggestCitations",
            arguments=[{"uri": uri, "position": {"line": 0, "character": len(text)}}],
        )
    )
    first = result["suggestions"][0]
    assert first["text"] == VASWANI and first["author"] == "Vaswani" and not first["likelyMadeUp"]
    assert 0 < first["confidence"] <= 1
