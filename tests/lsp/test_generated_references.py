"""Ghost text that writes a reference inserts a citation in the document's syntax, never Galactica markup."""

from __future__ import annotations

import pytest
from lsprotocol import types

from .conftest import doc_uri, end_of, open_document


@pytest.mark.parametrize("language,ext,text,opening", [
    ("markdown", "md", "## Games and control\n\nDeep Q-networks", "[@"),
    ("latex", "tex", "\\section{Proteins and graphs}\nProtein structure prediction", "\\cite{"),
])
async def test_ghost_text_cites_a_generated_reference(client, language, ext, text, opening):
    uri = doc_uri(client, f"refs.{ext}")
    open_document(client, uri, text, language)
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=end_of(text),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    texts = [item.insert_text for item in items]
    assert texts, "no ghost text"
    assert not any("[START_REF]" in t or "[END_REF]" in t or "<work>" in t for t in texts), texts
    assert any(opening in t for t in texts), texts  # the tiny model cites here: the reference became a citation
